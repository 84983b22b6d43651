"""Fit MOSTLY AI's engine on a table with one free-text column and sample it; a benchmark baseline.

    .venv-argn/bin/python bench/text_argn_worker.py --train TRAIN.parquet --text COLUMN --rows N \
        --out OUT.parquet --seed S [--max-training-time MINUTES] [--threads T]

It runs under the interpreter of ``.venv-argn`` (``make argn``), never the project's venv, and
imports nothing from synth (stdlib, pandas, mostlyai.engine only).

mostlyai-engine's documented way for a flat table with a text column, two models:

1. TABULAR (TabularARGN, ``MOSTLY_AI/Medium``, its defaults) on every column but the text;
2. LANGUAGE (``MOSTLY_AI/LSTMFromScratch-3m``, trained from scratch, nothing downloaded) on the
   text column, encoded as ``LANGUAGE_TEXT``, with the other columns of the same row as its
   tabular context (joined on a row key).

Generation runs them in the same order: the tabular model samples N rows, and the language model
writes one text for each, given that synthetic row as its context. ``--max-training-time`` bounds
each model's training (the library's minutes); both stop earlier on their validation loss.

fit = split + analyze + encode + train of both models, timed as one span; sample = both
``generate`` calls and reading the Parquet back, a second span. Prints as the last stdout line
``ARGN-RESULT {json}`` with fit_seconds, sample_seconds, rows, the seconds of each stage, the
epochs of each model (from its progress log), peak_rss_mib and engine_version. The engine's log
goes to stderr.
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
KEY = "__row"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read when torch loads


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--train", required=True, type=Path, help="training table, Parquet")
    p.add_argument("--text", required=True, help="the free-text column")
    p.add_argument("--rows", required=True, type=int, help="synthetic rows to generate")
    p.add_argument("--out", required=True, type=Path, help="synthetic rows, Parquet")
    p.add_argument("--seed", required=True, type=int, help="engine.set_random_state")
    p.add_argument("--max-training-time", type=float, default=None, help="minutes, per model")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--workdir", type=Path, default=None, help="where the workspaces go")
    return p.parse_args(argv)


def _log_to_stderr() -> None:
    log = logging.getLogger("mostlyai.engine")
    log.propagate = False
    if not log.handlers:
        handler = logging.StreamHandler(stream=sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)-7s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def _epochs(workspace: Path) -> float | None:
    path = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    if not path.exists():
        return None
    msgs = pd.read_csv(path)
    return None if msgs.empty else round(float(msgs["epoch"].iloc[-1]), 3)


def run(args: argparse.Namespace) -> dict:
    from mostlyai import engine

    train = pd.read_parquet(args.train).reset_index(drop=True)
    context = train.drop(columns=[args.text])
    tab_ws = Path(tempfile.mkdtemp(prefix="argn-tab-", dir=args.workdir))
    lang_ws = Path(tempfile.mkdtemp(prefix="argn-lang-", dir=args.workdir))
    bound = {"max_training_time": args.max_training_time, "device": "cpu"}
    stages: dict[str, float] = {}
    try:
        engine.set_random_state(args.seed)
        t0 = time.perf_counter()
        engine.split(workspace_dir=tab_ws, tgt_data=context, model_type="TABULAR")
        engine.analyze(workspace_dir=tab_ws)
        engine.encode(workspace_dir=tab_ws)
        engine.train(workspace_dir=tab_ws, **bound)
        stages["fit_tabular_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        keyed = context.assign(**{KEY: range(len(train))})
        engine.split(
            workspace_dir=lang_ws,
            tgt_data=pd.DataFrame({KEY: keyed[KEY], args.text: train[args.text]}),
            ctx_data=keyed,
            tgt_context_key=KEY,
            ctx_primary_key=KEY,
            model_type="LANGUAGE",
            tgt_encoding_types={args.text: "LANGUAGE_TEXT"},
        )
        engine.analyze(workspace_dir=lang_ws)
        engine.encode(workspace_dir=lang_ws)
        engine.train(workspace_dir=lang_ws, model="MOSTLY_AI/LSTMFromScratch-3m", **bound)
        stages["fit_language_seconds"] = time.perf_counter() - t1
        fit_seconds = time.perf_counter() - t0
        epochs = {"epochs_tabular": _epochs(tab_ws), "epochs_language": _epochs(lang_ws)}

        engine.set_random_state(args.seed)
        t2 = time.perf_counter()
        engine.generate(workspace_dir=tab_ws, sample_size=args.rows, device="cpu")
        rows = pd.read_parquet(tab_ws / "SyntheticData").reset_index(drop=True)
        rows[KEY] = range(len(rows))
        stages["sample_tabular_seconds"] = time.perf_counter() - t2
        engine.generate(workspace_dir=lang_ws, ctx_data=rows, device="cpu")
        texts = pd.read_parquet(lang_ws / "SyntheticData")
        syn = rows.merge(texts[[KEY, args.text]], on=KEY, how="left").drop(columns=[KEY])
        sample_seconds = time.perf_counter() - t2
        stages["sample_language_seconds"] = sample_seconds - stages["sample_tabular_seconds"]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        syn[[c for c in train.columns if c in syn.columns]].to_parquet(args.out, index=False)
    finally:
        shutil.rmtree(tab_ws, ignore_errors=True)
        shutil.rmtree(lang_ws, ignore_errors=True)
    omp = os.environ.get("OMP_NUM_THREADS", "")
    return {
        "fit_seconds": round(fit_seconds, 3),
        "sample_seconds": round(sample_seconds, 3),
        "rows": len(syn),
        **{k: round(v, 3) for k, v in stages.items()},
        **epochs,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
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
