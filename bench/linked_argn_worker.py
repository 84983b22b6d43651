"""Fit MOSTLY AI's TabularARGN on a parent table and a child table with the parent as its context.

    .venv-argn/bin/python bench/linked_argn_worker.py --dir DIR

It runs under `.venv-argn`'s interpreter (`make argn`), never the project's venv, and imports
nothing from synth. DIR holds `job.json`, `parent.parquet` and `child.parquet`; the worker writes
`synthetic_parent.parquet` and `synthetic_child.parquet` there and prints, as the last stdout
line, `ARGN-RESULT {json}` (fit and sample seconds, epochs per model, engine version).

job.json: {"parent_key", "child_key" (the child's foreign key), "child_primary_key" (or null),
"subjects", "seed", "max_epochs" (or null: the library's 100), "threads"}.

This is how mostlyai-engine does two tables: a flat model of the parent (skipped when the parent
holds only its key, as a panel's subjects do), then a sequential model of the child given the
parent as context (`tgt_context_key`, `ctx_primary_key`): a parent's child rows, their number
included, are generated in the order they were given (sorted by the caller by `order_by`).
Generation: parents first, keyed 0..n-1, then children with those parents as `ctx_data`. Library
defaults otherwise (MOSTLY_AI/Medium, value protection, early stopping).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

RESULT_TAG = "ARGN-RESULT"


def _log_to_stderr() -> None:
    log = logging.getLogger("mostlyai.engine")
    log.propagate = False
    log.addHandler(logging.StreamHandler(stream=sys.stderr))
    log.setLevel(logging.WARNING)


def _epochs(workspace: Path) -> float | None:
    import pandas as pd

    path = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    if not path.exists():
        return None
    messages = pd.read_csv(path)
    return None if messages.empty else round(float(messages["epoch"].iloc[-1]), 2)


def _fit(engine, workspace: Path, job: dict, **split) -> None:
    engine.split(workspace_dir=workspace, model_type="TABULAR", **split)
    engine.analyze(workspace_dir=workspace)
    engine.encode(workspace_dir=workspace)
    engine.train(workspace_dir=workspace, max_epochs=job["max_epochs"], device="cpu")


def run(directory: Path) -> dict:
    import pandas as pd
    from mostlyai import engine

    job = json.loads((directory / "job.json").read_text())
    parent = pd.read_parquet(directory / "parent.parquet")
    child = pd.read_parquet(directory / "child.parquet")
    pk, fk, child_pk = job["parent_key"], job["child_key"], job["child_primary_key"]
    parent_columns = [c for c in parent.columns if c != pk]
    ws_parent, ws_child = directory / "ws-parent", directory / "ws-child"

    engine.set_random_state(job["seed"])
    started = time.perf_counter()
    if parent_columns:
        _fit(engine, ws_parent, job, tgt_data=parent[parent_columns])
    _fit(
        engine,
        ws_child,
        job,
        tgt_data=child,
        ctx_data=parent,
        tgt_primary_key=child_pk,
        tgt_context_key=fk,
        ctx_primary_key=pk,
    )
    fit_seconds = time.perf_counter() - started

    engine.set_random_state(job["seed"])
    started = time.perf_counter()
    subjects = int(job["subjects"])
    if parent_columns:
        engine.generate(workspace_dir=ws_parent, sample_size=subjects, device="cpu")
        synthetic_parent = pd.read_parquet(ws_parent / "SyntheticData").reset_index(drop=True)
        synthetic_parent.insert(0, pk, range(len(synthetic_parent)))
    else:
        synthetic_parent = pd.DataFrame({pk: range(subjects)})
    engine.generate(workspace_dir=ws_child, ctx_data=synthetic_parent, device="cpu")
    synthetic_child = pd.read_parquet(ws_child / "SyntheticData")
    sample_seconds = time.perf_counter() - started

    synthetic_parent.to_parquet(directory / "synthetic_parent.parquet", index=False)
    synthetic_child.to_parquet(directory / "synthetic_child.parquet", index=False)
    return {
        "fit_seconds": round(fit_seconds, 3),
        "sample_seconds": round(sample_seconds, 3),
        "epochs_parent": _epochs(ws_parent) if parent_columns else None,
        "epochs_child": _epochs(ws_child),
        "engine_version": engine.__version__,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args()
    threads = json.loads((args.dir / "job.json").read_text()).get("threads")
    if threads:  # read by torch's thread pools when it loads
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    _log_to_stderr()
    result = run(args.dir)
    sys.stdout.write(f"{RESULT_TAG} {json.dumps(result)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
