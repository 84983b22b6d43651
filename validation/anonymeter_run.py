"""anonymeter's singling-out, linkability and inference attacks, run in anonymeter's own interpreter.

anonymeter 1.1.0 pins numpy < 1.27 and pyarrow < 22, which the core outgrew, so it lives in a
second virtual environment (``make anonymeter`` builds ``.venv-anonymeter``). This side writes
the three frames as Parquet into a private temporary directory, runs
``validation/anonymeter_worker.py`` there under that interpreter, and reads back its
``result.json`` (aggregates only). Nothing the worker prints is logged or re-raised: anonymeter's
messages can quote rows.

The interpreter comes from the environment only ($SYNTH_ANONYMETER_PYTHON, or a venv that
``make anonymeter`` built), never from a spec: a spec naming a program would run it.

The temporary directory holds real rows, so nothing may outlive the run, even a kill -9 of this
process: it lives in ``<tmp>/synth-anonymeter-<uid>/<pid>-*`` (0700), and every start removes
those whose process is gone. The worker runs in a process group of its own (anonymeter's
process pool too), killed on every way out; and it watches a pipe this side holds open, so
when this side dies it deletes the directory and kills its group itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import PrivacyChecks, Role
from synth import cancel
from validation.frames import modelled

if TYPE_CHECKING:
    from validation.privacy import Samples

__all__ = [
    "AnonymeterUnavailable",
    "evaluate",
    "installed_venvs",
    "interpreter",
    "runner",
    "sweep_leftovers",
]

ENV_PYTHON = "SYNTH_ANONYMETER_PYTHON"
WORKER = Path(__file__).with_name("anonymeter_worker.py")
CONFIDENCE = 0.95
_PROBE = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('anonymeter') else 3)"
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class AnonymeterUnavailable(Exception):
    """No interpreter that can import anonymeter is configured or installed."""


def interpreter() -> str:
    """The Python that runs anonymeter: $SYNTH_ANONYMETER_PYTHON, else this interpreter if it
    can import anonymeter, else a ``.venv-anonymeter`` that ``make anonymeter`` built (see
    `installed_venvs`). Never a spec's choice: whoever writes a spec must not pick a program."""
    from_env = os.environ.get(ENV_PYTHON, "").strip()
    if from_env:
        return _checked(Path(from_env), ENV_PYTHON)
    if importlib.util.find_spec("anonymeter") is not None:
        return sys.executable
    for candidate in installed_venvs():
        try:
            return _checked(candidate, str(candidate))
        except AnonymeterUnavailable:
            continue  # a half-built venv: try the next place, then say how to build one
    raise AnonymeterUnavailable(
        f"anonymeter is not installed: run `make anonymeter` (a separate venv) or set {ENV_PYTHON}"
    )


def installed_venvs() -> list[Path]:
    """Where `make anonymeter` leaves its interpreter: beside the running venv (`.venv/bin/synth`
    next to `.venv-anonymeter`), and in this checkout's root (editable installs). Only the
    Makefile exports $SYNTH_ANONYMETER_PYTHON, so a plain `.venv/bin/synth` looks here."""
    places = [Path(sys.prefix).parent, Path(__file__).resolve().parent.parent]
    found = [place / ".venv-anonymeter" / "bin" / "python" for place in places]
    return [path for path in dict.fromkeys(found) if path.is_file()]


def _checked(path: Path, source: str) -> str:
    where = _one_line(str(path))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise AnonymeterUnavailable(f"{source}: no executable interpreter at {where}")
    try:
        probe = subprocess.run(
            [str(path), "-I", "-c", _PROBE],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        raise AnonymeterUnavailable(f"{source}: {where} did not run") from None
    if probe.returncode != 0:
        raise AnonymeterUnavailable(f"{source}: {where} cannot import anonymeter")
    return str(path)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def evaluate(
    train: pd.DataFrame,
    control: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    quasi_identifiers: list[str],
    sensitive: list[str],
    settings: Any,
    seed: int,
) -> dict:
    """Run anonymeter's attacks on ``synthetic`` against ``train``, with ``control`` (real rows
    the generator never saw, as many as ``train``) as the reference; return the worker's result.

    Raises ValueError for inputs anonymeter would misjudge, AnonymeterUnavailable when no
    interpreter has anonymeter, RuntimeError when the worker fails or times out.
    """
    if len(control) != len(train):
        raise ValueError(
            f"anonymeter needs a control set as large as the training set (train {len(train)} "
            f"rows, control {len(control)}): a smaller one overstates the risk"
        )
    if len(train) == 0 or len(synthetic) == 0:
        raise ValueError("anonymeter needs rows in train, control and synthetic")
    columns = list(train.columns)
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise ValueError("anonymeter needs unique string column names")
    for name, frame in (("control", control), ("synthetic", synthetic)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}")
    unknown = [c for c in [*quasi_identifiers, *sensitive] if c not in columns]
    if unknown:
        raise ValueError(f"quasi-identifier/sensitive column(s) not in the data: {unknown}")

    python = interpreter()
    job = {
        "n_attacks": int(settings.n_attacks),
        "max_attempts": int(settings.max_attempts),
        "multivariate_columns": int(settings.multivariate_columns),
        "quasi_identifiers": list(quasi_identifiers),
        "sensitive": list(sensitive),
        "seed": int(seed),
        "confidence": CONFIDENCE,
        "n_jobs": _cores(),
        "die_with_parent": True,  # it watches its stdin, which _run_worker holds open
    }
    sweep_leftovers()
    workdir = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=_private_base())  # 0700: real rows
    undo = cancel.on_cancel(lambda: shutil.rmtree(workdir, ignore_errors=True))
    try:
        for name, frame in (("train", train), ("control", control), ("synthetic", synthetic)):
            _portable(frame[columns]).to_parquet(Path(workdir, f"{name}.parquet"), index=False)
        Path(workdir, "job.json").write_text(json.dumps(job), encoding="utf-8")
        _run_worker(python, workdir, timeout_s=int(settings.timeout_s), n_jobs=job["n_jobs"])
        try:
            result = json.loads(Path(workdir, "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise RuntimeError("anonymeter worker wrote no readable result") from None
    finally:
        cancel.off(undo)
        shutil.rmtree(workdir, ignore_errors=True)
    if not isinstance(result, dict) or "evaluators" not in result:
        raise RuntimeError("anonymeter worker wrote an unexpected result")
    return result


def runner(
    contract: Contract, settings: PrivacyChecks, *, seed: int
) -> Callable[[Samples], dict[str, Any]] | None:
    """anonymeter on the privacy check's samples: the training sample against an equal-sized
    holdout control, with as many synthetic rows (None when disabled)."""
    if not settings.anonymeter.enabled:
        return None

    def run(samples: Samples) -> dict[str, Any]:
        return evaluate(
            modelled(samples.train, contract),
            modelled(samples.holdout, contract),
            modelled(samples.synthetic.iloc[: len(samples.train)], contract),
            quasi_identifiers=contract.with_role(Role.quasi_identifier),
            sensitive=contract.with_role(Role.sensitive),
            settings=settings.anonymeter,
            seed=seed,
        )

    return run


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _portable(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns pyarrow writes and pyarrow 21 / pandas 3 read back as the same kind of value.

    Numbers (nullable ones too), booleans, datetimes (tz-aware too) and timedeltas go as they
    are; object, string and categorical columns go as strings with nulls for missing (an object
    column mixing types would not convert to Arrow at all).
    """
    out = {}
    for name, values in frame.items():
        dtype = values.dtype
        if (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
        ):
            out[name] = values
        else:  # object, string, categorical
            out[name] = values.astype(object).map(_text)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if value is pd.NA:
        return None
    return str(value)


def sweep_leftovers() -> list[str]:
    """Remove the working directories of runs whose process is gone (killed before it could
    clean up); return their names. Directories of live runs are left alone."""
    base = _private_base()
    removed = []
    for entry in os.scandir(base):
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.name)
    return removed


def _private_base() -> str:
    """``<tmp>/synth-anonymeter-<uid>``: the user's own and closed to others, so another user
    can neither read the rows nor plant a link or a directory there for us to follow or fill."""
    base = os.path.join(tempfile.gettempdir(), f"synth-anonymeter-{os.getuid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    status = os.lstat(base)
    if (
        not stat.S_ISDIR(status.st_mode)
        or status.st_uid != os.getuid()
        or stat.S_IMODE(status.st_mode) & 0o077
    ):
        raise RuntimeError(f"{base} is not a private folder of this user; remove it")
    return base


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that id
        return True
    try:  # a zombie is dead too (a container's pid 1 may never reap it)
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _run_worker(python: str, workdir: str, *, timeout_s: int, n_jobs: int) -> None:
    # nothing of this process's Python, nor of Prefect (its server's login): anonymeter needs neither
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PREFECT_"))}
    caps = ("POLARS_MAX_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    env.update(dict.fromkeys((*caps, "MKL_NUM_THREADS", "LOKY_MAX_CPU_COUNT"), str(n_jobs)))
    errors = Path(workdir, "worker.err")
    with errors.open("wb") as stderr:
        # stdin: a pipe never written to; it closes when this process dies, however it dies.
        worker = subprocess.Popen(
            [python, "-I", str(WORKER), workdir],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=workdir,
            env=env,
            start_new_session=True,  # its own process group: anonymeter's pool processes too
        )
    stop = cancel.on_cancel(lambda: os.killpg(worker.pid, signal.SIGKILL))  # group and pool
    try:
        code = _wait_unreaped(worker, timeout_s)
    finally:
        cancel.off(stop)
        # On every way out (done, failed, timed out, interrupted): nothing of it keeps running.
        # The worker is not reaped yet, so its pid, the group's id, cannot name anyone else.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert worker.stdin is not None
        worker.stdin.close()
    if code is None:
        raise RuntimeError(f"anonymeter worker timed out after {timeout_s} s")
    if code != 0:
        raise RuntimeError(f"anonymeter worker failed (exit {code}, {_error_type(errors)})")


def _wait_unreaped(worker: subprocess.Popen, timeout_s: int) -> int | None:
    """The worker's exit status once it exits, without reaping it; None after `timeout_s`."""
    if not hasattr(os, "waitid"):  # not Linux: reaping is the only way to wait
        try:
            return worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = os.waitid(os.P_PID, worker.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if done is not None:
            return done.si_status if done.si_code == os.CLD_EXITED else -done.si_status
        time.sleep(0.05)
    return None


def _error_type(stderr: Path) -> str:
    """The exception's type name from the last stderr line ('KeyError: ...' -> 'KeyError')."""
    try:
        text = stderr.read_bytes()[-65536:].decode("utf-8", "replace")
    except OSError:
        return "no error output"
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "no error output"
    head = lines[-1].split(":", 1)[0].strip()
    if not _TYPE_NAME.fullmatch(head):
        return "unknown error"
    return head.rsplit(".", 1)[-1]
