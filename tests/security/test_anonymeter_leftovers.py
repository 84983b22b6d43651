"""Issue 18, item 11 (anonymeter): nothing of an anonymeter run outlives the process that ran it.

The attack (reproduced before the fix): kill -9 the process running the privacy check while the
worker runs. The temporary folder with the training, control and synthetic rows stayed in /tmp,
and the worker (with anonymeter's pool processes) kept running. Now the worker watches a pipe its
parent holds open: when the parent dies it deletes the folder and kills its own process group.
Each start also sweeps folders whose process is gone, and the group is killed on every way out.

The worker here is the real `anonymeter_worker.main`, with the attacks replaced by a long sleep
and a grandchild process standing in for anonymeter's pool.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.spec import AnonymeterChecks
from tests.builders import REPO
from validation import anonymeter_run

SLOW_WORKER = """
import importlib.util, os, subprocess, sys, time

spec = importlib.util.spec_from_file_location("worker", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)

def attacks(workdir, job):  # anonymeter at work: a pool process, and a long time
    pool = subprocess.Popen(["sleep", "600"])
    with open(os.environ["SYNTH_TEST_PIDS"] + ".tmp", "w") as out:
        out.write(f"{os.getpid()} {pool.pid} {workdir}")
    os.replace(os.environ["SYNTH_TEST_PIDS"] + ".tmp", os.environ["SYNTH_TEST_PIDS"])
    time.sleep(600)

worker._run = attacks
sys.exit(worker.main(["worker", sys.argv[2]]))
"""

PARENT = """
import numpy as np, pandas as pd
from schemas.spec import AnonymeterChecks
from validation.anonymeter_run import evaluate

rows = pd.DataFrame({"age": np.arange(20.0), "sex": ["a", "b"] * 10})
evaluate(rows, rows, rows, quasi_identifiers=["age"], sensitive=["sex"],
         settings=AnonymeterChecks(timeout_s=600), seed=0)
"""


def _alive(pid: int) -> bool:
    return anonymeter_run._alive(pid)


def _fake_interpreter(tmp_path: Path) -> Path:
    """Passes the 'can it import anonymeter' probe, then runs the slow worker."""
    (tmp_path / "slow_worker.py").write_text(SLOW_WORKER)
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *find_spec*) exit 0;; esac\n'
        "shift\n"  # drop -I
        f'exec {sys.executable} {tmp_path / "slow_worker.py"} "$@"\n'
    )
    fake.chmod(0o700)
    return fake


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_kill_9_of_the_parent_takes_the_worker_its_pool_and_the_rows_with_it(
    tmp_path: Path,
) -> None:
    temp, pids = tmp_path / "tmp", tmp_path / "pids"
    temp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "SYNTH_ANONYMETER_PYTHON": str(_fake_interpreter(tmp_path)),
        "SYNTH_TEST_PIDS": str(pids),
        "PYTHONPATH": str(REPO),
    }
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, cwd=REPO)
    try:
        assert _wait_for(pids.exists, 120), "the worker never started"
        worker, pool, workdir = pids.read_text().split()
        assert Path(workdir, "train.parquet").exists()  # real rows, on disk, while it runs
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: the parent just vanishes
        parent.wait()
        assert _wait_for(lambda: not _alive(int(worker)) and not _alive(int(pool)), 15)
        assert not Path(workdir).exists()
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in pids.read_text().split()[:2] if pids.exists() else []:
            if _alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


def test_the_next_start_sweeps_folders_whose_process_is_gone(tmp_path: Path, monkeypatch) -> None:
    """The worker may die with its parent before it can clean up (the OOM killer takes both)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    base = Path(anonymeter_run._private_base())
    assert oct(base.stat().st_mode)[-3:] == "700"
    gone = subprocess.Popen(["true"])
    gone.wait()
    leftover = base / f"{gone.pid}-abc123"
    leftover.mkdir()
    (leftover / "train.parquet").write_bytes(b"real rows")
    running = base / f"{os.getpid()}-def456"  # a run still going: left alone
    running.mkdir()
    assert anonymeter_run.sweep_leftovers() == [leftover.name]
    assert not leftover.exists() and running.exists()


def test_a_timed_out_worker_leaves_no_process_and_no_rows(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    pids = tmp_path / "pids"
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(_fake_interpreter(tmp_path)))
    monkeypatch.setenv("SYNTH_TEST_PIDS", str(pids))
    rows = pd.DataFrame({"age": np.arange(20.0), "sex": ["a", "b"] * 10})
    with pytest.raises(RuntimeError, match="timed out"):
        anonymeter_run.evaluate(
            rows,
            rows,
            rows,
            quasi_identifiers=["age"],
            sensitive=["sex"],
            settings=AnonymeterChecks(timeout_s=5),
            seed=0,
        )
    worker, pool, workdir = pids.read_text().split()
    assert _wait_for(lambda: not _alive(int(worker)) and not _alive(int(pool)), 10)
    assert not Path(workdir).exists()


def test_a_base_folder_another_user_could_use_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    base = tmp_path / f"synth-anonymeter-{os.getuid()}"
    base.mkdir(mode=0o777)
    base.chmod(0o777)  # planted by someone else, or opened up: others could read the rows
    with pytest.raises(RuntimeError, match="not a private folder"):
        anonymeter_run.sweep_leftovers()
    base.rmdir()
    base.symlink_to(tmp_path)  # a link to a folder of the attacker's choosing
    with pytest.raises(RuntimeError, match="not a private folder"):
        anonymeter_run.sweep_leftovers()
