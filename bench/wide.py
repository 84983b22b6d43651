"""Wide tables: the autoregressive engine's parameters, fit time and peak RSS against the columns.

    python bench/wide.py --rows 10000                   # 25, 50, 100, 200 columns, both layouts
    python bench/wide.py --columns 50 --rows 50000 --epochs 0 --layouts factored   # early stopping

Tables come from the real Adult census data (`../shared/datasets/adult/adult.csv`, 32,561 rows x
15 columns): copy k of its columns is suffixed `_k` and gets its own seeded row shuffle, so the
copies are real, correlated tables side by side, independent of each other (no copy predicts
another); the first N columns of copy 0, 1, 2, ... make a table of N columns. `--rows` other than
32,561 draws the rows of each copy with replacement.

Each (layout, width) fits in a fresh subprocess, so its peak RSS (`ru_maxrss`) is its own:
`--epochs` fixed epochs (3; 0: early stopping as in production), then samples `--sample-rows` rows,
on `--threads` torch threads (1 by default: on a shared machine, spinning OpenMP threads inflate
both wall and CPU seconds).
Layouts: `exact` (per-target embedding slices, the layout before wide tables were factored; forced
by a `context` of 10^9) and `factored` (the default `context` of 512: the engine as shipped). The
table lists parameters, fit seconds (wall and CPU: on a shared machine the CPU seconds of the
child, all its threads, are the steadier measure), CPU seconds per epoch, peak RSS (and its growth
over the child's RSS before fitting, torch already imported), rows sampled per CPU second, and each
per column, whose flatness across widths is what "linear in the columns" means. `--json` adds wall
seconds per epoch (median of the logged epochs) and wall sampling rates.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "datasets" / "adult" / "adult.csv"
NUMERIC = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}
LAYOUTS = {"exact": 10**9, "factored": 512}  # the engine's `context` for each
MARK = "WIDE-RESULT "


def wide_table(columns: int, rows: int, *, seed: int = 0) -> tuple[Any, dict[str, str]]:
    """`columns` columns of row-shuffled Adult copies, and each column's type."""
    import numpy as np
    import pandas as pd

    adult = pd.read_csv(DATA, dtype=str, na_values=["?"], skipinitialspace=True)
    rng = np.random.default_rng(seed)
    parts, kinds = [], {}
    for copy in range(-(-columns // adult.shape[1])):
        if copy == 0 and rows == len(adult):
            index = np.arange(rows)
        elif rows == len(adult):
            index = rng.permutation(rows)
        else:
            index = rng.integers(0, len(adult), rows)
        part = adult.iloc[index].reset_index(drop=True).add_suffix(f"_{copy}")
        parts.append(part)
        kinds.update({f"{c}_{copy}": "numerical" if c in NUMERIC else "categorical" for c in adult})
    frame = pd.concat(parts, axis=1).iloc[:, :columns]
    return frame, {c: kinds[c] for c in frame.columns}


def run_one(layout: str, columns: int, args: argparse.Namespace) -> dict[str, Any]:
    """Child: fit and sample once; return sizes, seconds and peak RSS."""
    import torch  # imported before the baseline RSS: its libraries are not the model

    torch.set_num_threads(args.threads)

    from schemas.spec import ColumnSpec, DatasetSchema
    from synth.io.contract import build_contract
    from synth.tabular import make_engine

    frame, kinds = wide_table(columns, args.rows)
    schema = DatasetSchema(columns={c: ColumnSpec(type=t) for c, t in kinds.items()})
    contract, typed = build_contract(frame, schema, label=f"wide{columns}")
    train = typed[[c.name for c in contract.modelled]]
    epoch_ends: list[float] = []

    class Epochs(logging.Handler):  # the engine logs every epoch with its elapsed seconds
        def emit(self, record: logging.LogRecord) -> None:
            found = re.search(r"([\d.]+) s$", record.getMessage())
            if found:
                epoch_ends.append(float(found.group(1)))

    trainer = logging.getLogger("synth.tabular.autoregressive.train")
    trainer.addHandler(Epochs())
    trainer.setLevel(logging.INFO)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    params = {"epochs": args.epochs or None, "context": LAYOUTS[layout]}
    engine = make_engine("autoregressive", params)
    started, cpu = time.perf_counter(), _cpu_s()
    engine.fit(train, contract, seed=0)
    fit_s, fit_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    started, cpu = time.perf_counter(), _cpu_s()
    engine.sample(args.sample_rows, seed=1)
    sample_s, sample_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    info = engine.info()
    epochs = [b - a for a, b in zip([0.0, *epoch_ends], epoch_ends, strict=False)]
    return {
        "layout": layout,
        "columns": columns,
        "modelled": len(train.columns),
        "rows": len(train),
        "parameters": info["parameters"],
        "epochs": info["epochs"],
        "validation_history": info["validation_history"],
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "epoch_s": statistics.median(epochs) if epochs else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_fit_mib": before,
        "sample_rows_per_s": args.sample_rows / sample_s,
        "sample_rows_per_cpu_s": args.sample_rows / sample_cpu_s,
    }


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(layout: str, columns: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", f"{layout}:{columns}"]
    cmd += ["--rows", str(args.rows), "--epochs", str(args.epochs)]
    cmd += ["--sample-rows", str(args.sample_rows), "--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(MARK)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"layout": layout, "columns": columns, "error": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1][len(MARK) :])


def print_table(results: list[dict[str, Any]]) -> None:
    head = ("layout", "columns", "parameters", "epochs", "fit s", "fit CPU s", "CPU s/epoch")
    head += ("peak RSS MiB", "RSS growth MiB", "sample rows/CPU s", "params/col")
    head += ("CPU ms/epoch/col", "growth MiB/col", "CPU µs/sampled row/col")
    rows = []
    for r in results:
        if "error" in r:
            continue
        c, growth = r["columns"], r["peak_rss_mib"] - r["rss_before_fit_mib"]
        epoch_cpu_s = r["fit_cpu_s"] / r["epochs"]
        rows.append(
            [
                r["layout"],
                str(c),
                f"{r['parameters']:,}",
                str(r["epochs"]),
                f"{r['fit_s']:.1f}",
                f"{r['fit_cpu_s']:.1f}",
                f"{epoch_cpu_s:.2f}",
                f"{r['peak_rss_mib']:,.0f}",
                f"{growth:,.0f}",
                f"{r['sample_rows_per_cpu_s']:,.0f}",
                f"{r['parameters'] / c:,.0f}",
                f"{1000 * epoch_cpu_s / c:.1f}",
                f"{growth / c:.2f}",
                f"{1e6 / r['sample_rows_per_cpu_s'] / c:.2f}",
            ]
        )
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join("---" for _ in head) + " |")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    for r in results:
        if "error" in r:
            print(f"{r['layout']} {r['columns']}: FAILED ({r['error']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", default="25,50,100,200")
    parser.add_argument("--layouts", default="exact,factored")
    parser.add_argument("--rows", type=int, default=32_561)
    parser.add_argument("--epochs", type=int, default=3, help="0: early stopping")
    parser.add_argument("--sample-rows", type=int, default=10_000)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: CPU seconds mean something)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        layout, columns = args.one.split(":")
        print(MARK + json.dumps(run_one(layout, int(columns), args)))
        return 0
    results = []
    for columns in [int(c) for c in args.columns.split(",")]:
        for layout in args.layouts.split(","):
            print(f"{layout} layout, {columns} columns ...", file=sys.stderr, flush=True)
            results.append(run_child(layout, columns, args))
    print(
        f"Adult copies, {args.rows:,} rows, {args.epochs or 'early stopping'} epochs, "
        f"{args.sample_rows:,} rows sampled, {args.threads} torch thread(s)"
    )
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
