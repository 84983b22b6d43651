"""Run anonymeter's privacy attacks in anonymeter's own interpreter; write aggregates only.

    PYTHON validation/anonymeter_worker.py WORKDIR

WORKDIR holds ``train.parquet``, ``control.parquet``, ``synthetic.parquet`` and ``job.json``
(n_attacks, max_attempts, multivariate_columns, quasi_identifiers, sensitive, seed,
confidence, n_jobs). The script writes ``WORKDIR/result.json``: rates, risks, counts and
timings, and column names, never a query, a row value or a category.

It is self-contained on purpose (stdlib, numpy, pandas, polars, anonymeter): anonymeter 1.1.0
pins numpy < 1.27 and pyarrow < 22, so it runs under a second interpreter and cannot import
synth, validation or schemas. The attacks live beside it in ``anonymeter_attacks.py``, loaded by
path. ``validation/anonymeter_run.py`` is the other side.

On failure it prints only the exception's type name to stderr (the last line) and exits 1:
anonymeter's messages can quote rows.

With ``die_with_parent`` in the job, stdin is a pipe the parent holds open and never writes to:
when it closes (the parent is gone, even by kill -9), the worker deletes WORKDIR (real rows) and
kills its own process group, anonymeter's pool processes with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading

# Before numpy / polars / numba load: no thread or process pools wider than the job asks for.
_THREAD_VARS = (
    "POLARS_MAX_THREADS",
    "NUMBA_NUM_THREADS",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
)

RESULT_VERSION = 1


def _set_thread_caps(n_jobs: int) -> None:
    for name in _THREAD_VARS:
        os.environ.setdefault(name, str(n_jobs))


def _load_job(workdir: str) -> dict:
    with open(os.path.join(workdir, "job.json"), encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: anonymeter_worker.py WORKDIR\nUsageError\n")
        return 2
    workdir = argv[1]
    job = _load_job(workdir)
    if job.get("die_with_parent"):
        _die_with_parent(workdir)
    _set_thread_caps(max(1, int(job.get("n_jobs", 1))))
    result = _run(workdir, job)
    tmp = os.path.join(workdir, "result.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2, allow_nan=False)
    os.replace(tmp, os.path.join(workdir, "result.json"))
    return 0


def _die_with_parent(workdir: str) -> None:
    """Watch stdin in the background; at its end, remove WORKDIR and kill this process group."""

    def watch() -> None:
        try:  # the raw descriptor: a daemon thread blocked in sys.stdin's buffered reader
            while os.read(0, 4096):  # holds its lock, and Python aborts at exit over it
                pass
        except OSError:
            pass
        shutil.rmtree(workdir, ignore_errors=True)
        if os.getpgid(0) == os.getpid():  # a group of our own, as the parent starts us
            os.killpg(0, signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# --------------------------------------------------------------------------- the attacks


def _run(workdir: str, job: dict) -> dict:
    import logging
    import random
    import time
    import warnings
    from importlib.metadata import version

    # anonymeter logs and warns with its queries in the message (row values): silence all of it.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")

    import numpy as np
    import pandas as pd
    import polars as pl

    started = time.perf_counter()
    attacks = _attacks()
    seed = int(job["seed"])
    n_jobs = max(1, int(job.get("n_jobs", 1)))
    confidence = float(job.get("confidence", 0.95))
    n_attacks = int(job["n_attacks"])

    frames = {
        name: pd.read_parquet(os.path.join(workdir, f"{name}.parquet"))
        for name in ("train", "control", "synthetic")
    }
    columns = [str(c) for c in frames["train"].columns]
    kinds = {c: _kind(frames["train"][c]) for c in columns}
    nulls = {c: int(frames["train"][c].isna().sum()) for c in columns}
    train, control, synthetic = (_normalise(frames[n][columns], kinds) for n in frames)
    del frames

    def reseed(offset: int) -> None:
        # Every evaluator starts from its own fixed state, so one's result does not depend on
        # which ran before it. pandas' DataFrame.sample (targets) uses numpy's global state,
        # polars' sample (singling-out size correction) its own global seed.
        random.seed(seed + offset)
        np.random.seed((seed + offset) % 2**32)
        pl.set_random_seed(seed + offset)

    attacks.seed_linkability_baseline(np, seed)
    attacks.ordered_polars(pl)
    attacks.cache_compiled_distance()

    evaluators: dict = {}
    qis = [c for c in job.get("quasi_identifiers", []) if c in columns]
    sensitive = [c for c in job.get("sensitive", []) if c in columns]

    reseed(1)
    evaluators["singling_out_univariate"] = attacks.singling_out(
        train, control, synthetic, "univariate", n_attacks, 1, job["max_attempts"], seed, confidence
    )
    reseed(2)
    n_cols = min(int(job.get("multivariate_columns", 4)), len(columns))
    if n_cols < 2:
        evaluators["singling_out_multivariate"] = attacks.skipped("fewer than 2 columns")
    else:
        evaluators["singling_out_multivariate"] = attacks.singling_out(
            train,
            control,
            synthetic,
            "multivariate",
            n_attacks,
            n_cols,
            job["max_attempts"],
            seed,
            confidence,
        )
    reseed(3)
    if len(qis) < 2:
        evaluators["linkability"] = attacks.skipped("fewer than 2 quasi-identifiers")
    else:
        half = len(qis) // 2
        evaluators["linkability"] = attacks.linkability(
            train, control, synthetic, (qis[:half], qis[half:]), n_attacks, n_jobs, confidence
        )
    inference = {}
    for i, secret in enumerate(sensitive):
        reseed(10 + i)
        aux = [c for c in columns if c != secret]
        if not aux:
            inference[secret] = attacks.skipped("no other column to attack with")
            continue
        inference[secret] = attacks.inference(
            train, control, synthetic, aux, secret, kinds[secret], n_attacks, n_jobs, confidence
        )
    evaluators["inference"] = inference

    return {
        "version": RESULT_VERSION,
        "anonymeter_version": version("anonymeter"),
        "seed": seed,
        "confidence_level": confidence,
        "n_jobs": n_jobs,
        "rows": {"train": len(train), "control": len(control), "synthetic": len(synthetic)},
        "columns": {c: {"kind": kinds[c], "nulls_in_train": nulls[c]} for c in columns},
        "quasi_identifiers": qis,
        "sensitive": sensitive,
        "evaluators": evaluators,
        "max_risk": _max_risk(evaluators),
        "errors": _errors(evaluators),
        "wall_s": round(time.perf_counter() - started, 3),
    }


def _attacks():
    """validation/anonymeter_attacks.py, loaded by path: the worker runs as a script under `-I`,
    so neither its folder nor synth is on sys.path, and putting validation/ there would let its
    modules shadow the standard library's (profile.py)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "anonymeter_attacks.py")
    spec = importlib.util.spec_from_file_location("anonymeter_attacks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kind(values) -> str:
    import pandas as pd

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def _normalise(frame, kinds: dict):
    """Types anonymeter handles: float64 numbers (datetimes as epoch seconds), bool, str.

    anonymeter's distance sees a datetime as a category and its singling-out queries compare
    it to a string; as seconds it is a number on both sides. Missing values stay missing
    (NaN / null), which anonymeter treats as a value of their own.
    """
    import numpy as np
    import pandas as pd

    out = {}
    for name, kind in kinds.items():
        values = frame[name]
        if kind == "datetime":
            if getattr(values.dtype, "tz", None) is not None:
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            stamps = values.astype("datetime64[ns]").to_numpy()
            seconds = stamps.view("int64").astype("float64") / 1e9
            seconds[np.isnat(stamps)] = np.nan
            out[name] = seconds
        elif kind == "timedelta":
            out[name] = values.dt.total_seconds().astype("float64")
        elif kind == "numeric":
            out[name] = pd.to_numeric(values).astype("float64")
        elif kind == "boolean" and not values.isna().any():
            out[name] = values.astype(bool)
        else:
            text = values.astype(object)
            out[name] = pd.Series(
                [None if _missing(v) else str(v) for v in text], index=values.index, dtype="str"
            )
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _missing(value) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _max_risk(evaluators: dict) -> dict:
    """The worst risk per attack family, None when nothing ran."""

    def worst(items) -> float | None:
        values = [e["risk"]["value"] for e in items if e.get("status") == "ok"]
        return max(values) if values else None

    return {
        "singling_out": worst(
            [evaluators["singling_out_univariate"], evaluators["singling_out_multivariate"]]
        ),
        "linkability": worst([evaluators["linkability"]]),
        "inference": worst(evaluators["inference"].values()),
    }


def _errors(evaluators: dict) -> list[str]:
    """Evaluators that failed (their entries say only the exception type)."""
    named = {k: v for k, v in evaluators.items() if k != "inference"}
    named.update({f"inference:{k}": v for k, v in evaluators["inference"].items()})
    return [name for name, entry in named.items() if entry.get("status") == "error"]


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as exc:  # only the type name leaves the process
        sys.stderr.write(f"{type(exc).__name__}\n")
        sys.exit(1)
