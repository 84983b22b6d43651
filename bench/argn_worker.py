"""Fit MOSTLY AI's TabularARGN (``mostlyai-engine``) on one table and sample from it; a benchmark baseline.

    .venv-argn/bin/python bench/argn_worker.py --train TRAIN.parquet --rows N --out OUT.parquet --seed S \
        [--max-epochs E] [--max-training-time MINUTES] [--threads T] [--workspace DIR]

It runs under the interpreter of ``.venv-argn`` (``make argn``), never the project's venv: mostlyai-engine is
not a dependency of synth. So it is self-contained on purpose (stdlib, pandas, pyarrow, mostlyai.engine) and
imports nothing from synth.

What it does, with the library's defaults everywhere else (model ``MOSTLY_AI/Medium``, value protection on,
80/20 train/validation split, flexible generation, automatic batch size, early stopping on validation loss):

- fit = ``split`` + ``analyze`` + ``encode`` + ``train`` (model_type TABULAR, device cpu), timed as one span;
- sample = ``generate(sample_size=N, device="cpu")`` + reading the generated Parquet back + casting columns
  back to the training dtypes where the values allow it, timed as a second span;
- writes the synthetic rows to ``--out`` and prints, as the last line on stdout,
  ``ARGN-RESULT {json}`` with fit_seconds, sample_seconds, rows, epochs, best_epoch, val_loss, peak_rss_mib
  (this process, ru_maxrss), peak_rss_children_mib (RUSAGE_CHILDREN: the largest reaped child), threads
  (OMP_NUM_THREADS in force, or null) and engine_version.

Threads: torch's CPU pool defaults to one thread per core. On a busy machine that oversubscribes badly: on
the 2-core dev box, with another job running, training ran ~0.5 steps/s with the default pool against
~38 steps/s with ``--threads 1``. Pass ``--threads`` explicitly when timings are compared.

Subprocesses: analyze and encode use joblib with n_jobs = min(16, cpu_count() - 1); on 2 cores that is 1
(in-process). With more cores joblib starts loky workers, which stay alive after the call, so their memory is
not in RUSAGE_CHILDREN; LOKY_MAX_CPU_COUNT=2 in the environment keeps those steps in-process.

The engine's own log goes to stderr, so stdout carries only the result line. ``--seed`` goes through
``engine.set_random_state`` (python, numpy and torch global RNGs), once before split and again before generate,
so the sample does not depend on how many random draws training made. Defaults when not given: 100 epochs and
14,400 minutes (the library's); training stops earlier when validation loss has not improved for 5 epochs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

RESULT_TAG = "ARGN-RESULT"
# Read by torch's OpenMP / MKL pools when torch loads, so set before mostlyai.engine is imported.
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Fit TabularARGN on a Parquet table and sample from it (CPU)."
    )
    p.add_argument("--train", required=True, type=Path, help="training table, Parquet")
    p.add_argument("--rows", required=True, type=int, help="number of synthetic rows to generate")
    p.add_argument(
        "--out", required=True, type=Path, help="where to write the synthetic rows, Parquet"
    )
    p.add_argument("--seed", required=True, type=int, help="seed for engine.set_random_state")
    p.add_argument(
        "--max-epochs", type=float, default=None, help="train's max_epochs (library default: 100)"
    )
    p.add_argument(
        "--max-training-time",
        type=float,
        default=None,
        help="train's max_training_time in minutes (library default: 14400)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (sets OMP_NUM_THREADS / MKL_NUM_THREADS before torch loads; default: inherit)",
    )
    p.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="engine workspace directory, kept afterwards (default: a temporary one, removed)",
    )
    args = p.parse_args(argv)
    if args.rows < 1:
        p.error("--rows must be >= 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    return args


def _log_to_stderr() -> None:
    # engine.init_logging() would log to stdout; the caller reads stdout for the result line.
    log = logging.getLogger("mostlyai.engine")
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(stream=sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)-7s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _training_summary(workspace: Path) -> dict:
    """Epochs run, the epoch of the kept checkpoint and its validation loss, from the engine's progress log.

    The log has a row at each epoch end (and every 5 minutes within one), so ``epochs`` is the last logged
    epoch: training itself stops at the first step past max_epochs, or when time or patience runs out.
    """
    path = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    if not path.exists():  # too little data: the engine skips training and writes no progress
        return {"epochs": None, "best_epoch": None, "val_loss": None}
    msgs = pd.read_csv(path)
    if msgs.empty:
        return {"epochs": None, "best_epoch": None, "val_loss": None}
    best = msgs[msgs["is_checkpoint"] == 1]
    best_row = best.iloc[-1] if not best.empty else None

    def num(value) -> float | None:
        return None if value is None or pd.isna(value) else round(float(value), 6)

    return {
        "epochs": num(msgs["epoch"].iloc[-1]),
        "best_epoch": num(best_row["epoch"]) if best_row is not None else None,
        "val_loss": num(best_row["val_loss"]) if best_row is not None else None,
    }


def _match_dtypes(syn: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Put the columns in training order and back to the training dtypes where the values allow it."""
    syn = syn[[c for c in like.columns if c in syn.columns]].copy()
    for col in syn.columns:
        want = like[col].dtype
        have = syn[col].dtype
        if have == want:
            continue
        try:
            if pd.api.types.is_bool_dtype(want):
                if not syn[col].isna().any():
                    syn[col] = syn[col].astype(want)
            elif pd.api.types.is_integer_dtype(want):
                values = pd.to_numeric(syn[col])
                if values.isna().any():
                    syn[col] = values.astype("Int64" if want.kind == "i" else "UInt64")
                else:
                    syn[col] = values.astype(want)
            elif pd.api.types.is_float_dtype(want):
                syn[col] = pd.to_numeric(syn[col]).astype(want)
            elif pd.api.types.is_datetime64_any_dtype(want):
                syn[col] = pd.to_datetime(syn[col]).astype(want)
            elif pd.api.types.is_string_dtype(want) or pd.api.types.is_object_dtype(want):
                syn[col] = syn[col].astype(want)
        except (TypeError, ValueError, OverflowError):
            pass  # keep what the engine gave back
    return syn


def _peak_rss_mib(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: KiB


def run(args: argparse.Namespace) -> dict:
    from mostlyai import engine  # after main() has set the thread variables

    train = pd.read_parquet(args.train)
    own_workspace = args.workspace is None
    workspace = Path(tempfile.mkdtemp(prefix="argn-ws-")) if own_workspace else args.workspace
    workspace.mkdir(parents=True, exist_ok=True)
    try:
        engine.set_random_state(args.seed)
        t0 = time.perf_counter()
        engine.split(workspace_dir=workspace, tgt_data=train, model_type="TABULAR")
        engine.analyze(workspace_dir=workspace)
        engine.encode(workspace_dir=workspace)
        engine.train(
            workspace_dir=workspace,
            max_epochs=args.max_epochs,
            max_training_time=args.max_training_time,
            device="cpu",
        )
        fit_seconds = time.perf_counter() - t0
        summary = _training_summary(workspace)

        engine.set_random_state(args.seed)
        t1 = time.perf_counter()
        engine.generate(workspace_dir=workspace, sample_size=args.rows, device="cpu")
        syn = pd.read_parquet(workspace / "SyntheticData")
        syn = _match_dtypes(syn, train)
        sample_seconds = time.perf_counter() - t1

        args.out.parent.mkdir(parents=True, exist_ok=True)
        syn.to_parquet(args.out, index=False)
    finally:
        if own_workspace:
            shutil.rmtree(workspace, ignore_errors=True)

    omp = os.environ.get("OMP_NUM_THREADS", "")
    return {
        "fit_seconds": round(fit_seconds, 3),
        "sample_seconds": round(sample_seconds, 3),
        "rows": len(syn),
        **summary,
        "peak_rss_mib": _peak_rss_mib(resource.RUSAGE_SELF),
        "peak_rss_children_mib": _peak_rss_mib(resource.RUSAGE_CHILDREN),
        "threads": int(omp) if omp.isdigit() else None,
        "engine_version": engine.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.threads is not None:
        for name in _THREAD_VARS:
            os.environ[name] = str(args.threads)
    _log_to_stderr()
    result = run(args)
    sys.stdout.write(f"{RESULT_TAG} {json.dumps(result, allow_nan=False)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
