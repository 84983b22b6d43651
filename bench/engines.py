"""Benchmark every tabular engine on the Adult census data: fit time, sampling speed, peak RSS.

Each engine runs in its own subprocess (`--one ENGINE`), so its peak RSS is its own. The neural
engines (ctgan, tvae, copulagan) train for only `--epochs` epochs; their fit time at SDV's default
300 epochs is an ESTIMATE: the measured fit plus the remaining epochs at the median time of the
timed epochs after the first (the first carries one-off warm-up; set-up is paid once).

    python bench/engines.py [--engines a,b] [--rows N] [--epochs E] [--data CSV] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # so `--one` children import the repo's packages from anywhere

DEFAULT_DATA = REPO / ".." / "shared" / "datasets" / "adult" / "adult.csv"
from schemas.engines import TABLE_ENGINES  # noqa: E402

# every table engine but ours, which bench/tabular.py puts beside MOSTLY AI's TabularARGN
ALL_ENGINES = tuple(name for name in TABLE_ENGINES if name != "autoregressive")
NEURAL = {"ctgan", "tvae", "copulagan"}
NUMERIC = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}
FULL_EPOCHS = 300
BASELINE = "gaussian_copula"
MARK = "BENCH-RESULT "  # prefixes the child's result line, so library output cannot confuse it


def hook_epochs(stamps: list[float]) -> Callable[[], None]:
    """Timestamp each training epoch of ctgan's CTGAN and TVAE (which copulagan also uses).

    Both loop `for i in tqdm(range(epochs))`; a tqdm subclass that records the time as each epoch
    starts and when the loop ends measures only, changing nothing else. Returns an unhook function.
    """
    from ctgan.synthesizers import ctgan, tvae
    from tqdm import tqdm

    class EpochClock(tqdm):  # type: ignore[type-arg]
        def __iter__(self) -> Iterator[Any]:
            for item in super().__iter__():
                stamps.append(time.perf_counter())
                yield item
            stamps.append(time.perf_counter())

    def unhook() -> None:
        ctgan.tqdm = tvae.tqdm = tqdm

    ctgan.tqdm = tvae.tqdm = EpochClock
    return unhook


def run_one(engine_name: str, data: Path, rows: int, epochs: int) -> dict[str, Any]:
    """Fit and sample one engine in this process; return its timings and peak RSS."""
    import pandas as pd

    from schemas.spec import ColumnSpec, DatasetSchema
    from synth.io.contract import build_contract
    from synth.tabular import make_engine

    frame = pd.read_csv(data, dtype=str, na_values=["?"], skipinitialspace=True)
    kinds = {c: "numerical" if c in NUMERIC else "categorical" for c in frame.columns}
    schema = DatasetSchema(columns={c: ColumnSpec(type=t) for c, t in kinds.items()})
    contract, typed = build_contract(frame, schema, label=data.name)
    train = typed[[c.name for c in contract.modelled]]

    neural = engine_name in NEURAL
    engine = make_engine(engine_name, {"epochs": epochs} if neural else {})
    stamps: list[float] = []  # start of each epoch, then the end of the last one
    unhook = hook_epochs(stamps) if neural else None
    fit_start = time.perf_counter()
    engine.fit(train, contract, seed=0)
    fit_end = time.perf_counter()
    if unhook:
        unhook()

    sample_start = time.perf_counter()
    out = engine.sample(rows, seed=1)
    sample_s = time.perf_counter() - sample_start

    epoch_s, full_est = [b - a for a, b in itertools.pairwise(stamps)], None
    if neural and len(epoch_s) == epochs:
        # The first epoch carries one-off warm-up, so later epochs set the pace when there are
        # any; the set-up before epoch 1 (transformers, GMMs) is paid once and not scaled.
        steady = statistics.median(epoch_s[1:] or epoch_s)
        full_est = (fit_end - fit_start) + steady * (FULL_EPOCHS - epochs)
    return {
        "engine": engine_name,
        "epochs": epochs if neural else None,
        "fit_s": fit_end - fit_start,
        "setup_s": stamps[0] - fit_start if stamps else None,  # fit time before epoch 1
        "epoch_s": epoch_s,  # seconds per epoch, in order
        "fit_s_full_est": full_est,
        "sample_s": sample_s,
        "rows_per_s": len(out) / sample_s if sample_s > 0 else float("inf"),
        "rows": len(out),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    }


def run_child(engine_name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one engine in a fresh interpreter and parse its result line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", engine_name]
    cmd += ["--rows", str(args.rows), "--epochs", str(args.epochs), "--data", str(args.data)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARK)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"engine": engine_name, "error": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1][len(MARK) :])


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[dict[str, Any]]) -> None:
    head = ("engine", "epochs", "fit s", "fit s @300 ep (est.)", "sample rows/s")
    head += ("peak RSS MiB", "rows sampled", "fit x GC", "sample speed x GC")
    base = next((r for r in results if r["engine"] == BASELINE and "error" not in r), None)
    rows: list[tuple[str, ...]] = []
    for r in results:
        if "error" in r:
            continue
        fit_ratio = r["fit_s"] / base["fit_s"] if base else None
        speed_ratio = r["rows_per_s"] / base["rows_per_s"] if base else None
        cells = [r["engine"], fmt(r["epochs"], "d"), fmt(r["fit_s"], ".2f")]
        cells += [fmt(r["fit_s_full_est"], ".0f"), fmt(r["rows_per_s"], ",.0f")]
        cells += [fmt(r["peak_rss_mib"], ".0f"), fmt(r["rows"], "d")]
        rows.append((*cells, fmt(fit_ratio, ".2f"), fmt(speed_ratio, ".2f")))
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells))
    for r in results:
        if "error" in r:
            print(f"{r['engine']}: FAILED ({r['error']})")
    print(f"ratios vs {BASELINE} (GC): fit x GC = fit s / GC fit s (lower is faster);")
    print("sample speed x GC = rows/s / GC rows/s (higher is faster).")
    print(f"'fit s @300 ep (est.)' is an ESTIMATE: fit s + ({FULL_EPOCHS} - epochs) x median")
    print("time of the timed epochs after the first (linear extrapolation; --json has each epoch).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ALL_ENGINES), help="comma-separated")
    parser.add_argument("--rows", type=int, default=32561, help="rows to sample")
    parser.add_argument("--epochs", type=int, default=5, help="epochs for ctgan/tvae/copulagan")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve(), help="Adult CSV")
    parser.add_argument("--json", action="store_true", help="also print results as JSON")
    parser.add_argument("--one", metavar="ENGINE", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)

    if args.one:
        print(MARK + json.dumps(run_one(args.one, args.data, args.rows, args.epochs)))
        return 0
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_ENGINES]
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(unknown)}")
    started = time.perf_counter()
    results = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_child(name, args))
    print(f"data: {args.data}  rows sampled requested: {args.rows}  epochs: {args.epochs}")
    print_table(results)
    print(f"total wall time: {time.perf_counter() - started:.1f} s")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
