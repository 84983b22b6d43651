"""Our autoregressive engine against the peers, side by side in one run, on the Adult census data.

Every engine fits on the same training split of `examples/adult.yaml` (26,049 rows) in its own
subprocess (so its peak RSS is its own) and samples `--speed-rows` rows (timed); the parent then
scores the first `--rows` of each with the pipeline's own checks against the same real rows:
SDMetrics quality, utility (TSTR/TRTR ROC AUC on the holdout) and the DCR share (anonymeter off).

- `autoregressive`: ours (synth/tabular/autoregressive), on CPU.
- `gaussian_copula`, `ctgan`: SDV. ctgan trains `--ctgan-epochs` epochs; its fit at SDV's default
  300 epochs is an ESTIMATE (measured fit + the remaining epochs at the median timed epoch).
- `autoregressive-dp1`, `autoregressive-dp10` (opt-in): ours trained with DP-SGD (Opacus) at
  epsilon 1 and 10, 10 epochs; the epsilon actually spent is in `--json`.
- `tabularargn`: MOSTLY AI's TabularARGN (mostlyai-engine) with its defaults, run by
  `bench/argn_worker.py` under `.venv-argn` (`make argn`): never a dependency of synth.

    python bench/tabular.py [--engines autoregressive,gaussian_copula,ctgan,tabularargn] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ARGN_PYTHON = REPO / ".venv-argn" / "bin" / "python"
ALL = ("autoregressive", "gaussian_copula", "ctgan", "tabularargn")
DP = {"autoregressive-dp1": 1.0, "autoregressive-dp10": 10.0}  # ours under DP-SGD, epsilon 1 / 10
PEER = "tabularargn"
MARK = "BENCH-RESULT "


def _split() -> tuple[Any, Any, Any, Any]:
    from schemas import load_spec
    from synth.io import build_contract, read_source, split_holdout

    spec = load_spec(REPO / "examples" / "adult.yaml")
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    return spec, contract, train, holdout


def run_one(name: str, rows: int, out: Path, ctgan_epochs: int, params: dict[str, Any]) -> dict:
    """Child: fit and sample one synth engine; write the rows to `out`; return timings."""
    from bench.engines import FULL_EPOCHS, hook_epochs
    from synth.tabular import make_engine

    _, contract, train, _ = _split()
    modelled = train[[c.name for c in contract.modelled]]
    neural = name == "ctgan"
    if name in DP:
        name, params = "autoregressive", {**params, "epsilon": DP[name]}
    engine = make_engine(name, {"epochs": ctgan_epochs} if neural else params)
    stamps: list[float] = []
    unhook = hook_epochs(stamps) if neural else None
    started = time.perf_counter()
    engine.fit(modelled, contract, seed=0)
    fit_s = time.perf_counter() - started
    if unhook:
        unhook()
    started = time.perf_counter()
    synthetic = engine.sample(rows, seed=1)
    sample_s = time.perf_counter() - started
    synthetic.to_parquet(out)
    result = {"fit_s": fit_s, "sample_s": sample_s, "rows": len(synthetic)}
    if neural and len(stamps) > 2:
        # the first epoch carries one-off warm-up; the later ones set the pace
        steady = statistics.median([b - a for a, b in itertools.pairwise(stamps)][1:])
        result["fit_s_full_est"] = fit_s + steady * (FULL_EPOCHS - ctgan_epochs)
    info = engine.info()
    result["epochs"] = info.get("epochs", ctgan_epochs if neural else None)
    if "differential_privacy" in info:
        result["epsilon_spent"] = info["differential_privacy"]["epsilon_spent"]
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_child(name: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    out = folder / f"{name}.parquet"
    if name == PEER:
        if not ARGN_PYTHON.exists():
            return {"error": "no .venv-argn: run `make argn` first"}
        train = folder / "train.parquet"
        if not train.exists():
            _, contract, rows, _ = _split()
            rows[[c.name for c in contract.modelled]].to_parquet(train)
        cmd = [str(ARGN_PYTHON), str(REPO / "bench" / "argn_worker.py"), "--train", str(train)]
        cmd += ["--rows", str(max(args.rows, args.speed_rows)), "--out", str(out), "--seed", "1"]
        cmd += ["--workspace", str(folder / "argn-workspace")]
        mark = "ARGN-RESULT "
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--out", str(out)]
        cmd += ["--rows", str(max(args.rows, args.speed_rows))]
        cmd += ["--ctgan-epochs", str(args.ctgan_epochs)]
        cmd += ["--params", args.params]
        mark = MARK
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(mark)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    result = json.loads(lines[-1][len(mark) :])
    result.setdefault("fit_s", result.get("fit_seconds"))
    result.setdefault("sample_s", result.get("sample_seconds"))
    result["path"] = str(out)
    return result


def score(path: Path, rows: int) -> dict[str, Any]:
    """The pipeline's checks on the first `rows` synthetic rows: quality, utility, DCR share."""
    import pandas as pd

    from synth.sampling import conform
    from validation import privacy, quality, utility

    spec, contract, train, holdout = _split()
    frame = pd.read_parquet(path).head(rows).reset_index(drop=True)
    for column in contract.columns:
        if column.name not in frame:
            frame[column.name] = None  # identifiers: not modelled, not scored
    synthetic = conform(frame, contract)
    checks = spec.checks
    anonymeter_off = checks.privacy.anonymeter.model_copy(update={"enabled": False})
    private = checks.privacy.model_copy(update={"anonymeter": anonymeter_off})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quality.check(train, synthetic, None, contract=contract, thresholds=checks.quality)
        u = utility.check(train, synthetic, holdout, contract=contract, thresholds=checks.utility)
        p = privacy.check(train, synthetic, holdout, contract=contract, thresholds=private, seed=0)
    return {
        "quality": q.metrics["score"],
        "column_shapes": q.metrics["column_shapes"],
        "pair_trends": q.metrics["pair_trends"],
        "utility_ratio": u.metrics.get("ratio"),
        "dcr_share": p.metrics.get("dcr_share"),
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    head = ("engine", "epochs", "fit s", "sample rows/s", "peak RSS MiB", "quality", "shapes")
    head += ("pairs", "utility", "DCR share", f"fit x {PEER}", f"speed x {PEER}")
    private = any("epsilon_spent" in r for r in results.values())
    if private:
        head += ("epsilon spent",)
    peer = results.get(PEER, {})
    rows = []
    for name, r in results.items():
        if "error" in r:
            continue
        rate = r["rows"] / r["sample_s"]
        fit_x = r["fit_s"] / peer["fit_s"] if "fit_s" in peer else None
        speed_x = rate / (peer["rows"] / peer["sample_s"]) if "sample_s" in peer else None
        fit = f"{r['fit_s']:.1f}" + (
            f" ({r['fit_s_full_est']:.0f} est.)" if "fit_s_full_est" in r else ""
        )
        cells = [name, str(r.get("epochs") or "-"), fit, f"{rate:,.0f}", f"{r['peak_rss_mib']:.0f}"]
        cells += [
            _f(r.get(k))
            for k in ("quality", "column_shapes", "pair_trends", "utility_ratio", "dcr_share")
        ]
        cells += [_f(fit_x, ".2f"), _f(speed_x, ".1f")]
        if private:
            cells.append(_f(r.get("epsilon_spent")))
        rows.append(cells)
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for name, r in results.items():
        if "error" in r:
            print(f"{name}: FAILED ({r['error']})")


def _f(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ALL))
    parser.add_argument("--rows", type=int, default=32_561, help="rows scored per engine")
    parser.add_argument(
        "--speed-rows", type=int, default=200_000, help="rows sampled (and timed) per engine"
    )
    parser.add_argument("--ctgan-epochs", type=int, default=10)
    parser.add_argument("--params", default="{}", help="JSON model.params for autoregressive")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        params = json.loads(args.params) if args.one.startswith("autoregressive") else {}
        print(MARK + json.dumps(run_one(args.one, args.rows, args.out, args.ctgan_epochs, params)))
        return 0
    names = [n for n in args.engines.split(",") if n]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = run_child(name, args, Path(tmp))
            if "error" not in results[name]:
                results[name].update(score(Path(results[name]["path"]), args.rows))
    sampled = max(args.rows, args.speed_rows)
    print(
        f"Adult: 26,049 training rows, 6,512 holdout rows; each engine samples {sampled:,} rows "
        f"(timed), the first {args.rows:,} are scored"
    )
    print_table(results)
    print(
        f"ratios vs {PEER}: fit x = fit s / its fit s (lower is faster); speed x = rows/s / its rows/s"
    )
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
