"""Issue 18 items 11 (staging) and 12: what a crash leaves is swept; `latest` never moves back.

Item 11: a run killed with -9 leaves `.staging/<run>/` with its unjudged rows. The next run of the
job sweeps it when its owner marker names a dead process on this host (or, with no usable marker,
once it is older than any run lives), and leaves live runs' staging alone.
Item 12: two runs of one job finishing out of order must not point `latest` at the older one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.publish import RunFolders, publish
from synth.io.run_folders import OWNER, STAGING_LEASE_S, point_latest
from tests.builders import COLUMNS, REPO, adult, stage_frames

CRASHING_RUN = """
import os, signal, sys
from pathlib import Path
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.publish import RunFolders
from tests.builders import COLUMNS, adult, stage_frames

folders = RunFolders.new(Path(sys.argv[1]), "job", "20250101T000000Z-dead00")
folders.begin()
contract, typed = build_contract(adult(50), DatasetSchema(columns=COLUMNS), label="t")
stage_frames([typed], folders.staged_parts, contract)
os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: what kill -9 leaves
"""


@pytest.fixture(scope="module")
def contract_and_rows():
    return build_contract(adult(120), DatasetSchema(columns=COLUMNS), label="t")


def _staging(out: Path, run_id: str, owner: dict | None, age_s: float = 0.0) -> Path:
    folder = out / "job" / ".staging" / run_id
    (folder / "staged").mkdir(parents=True)
    (folder / "staged" / "part-00000.parquet").write_bytes(b"rows")
    if owner is not None:
        (folder / OWNER).write_text(json.dumps(owner))
    then = time.time() - age_s
    os.utime(folder, (then, then))
    return folder


def test_a_run_killed_mid_write_is_swept_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(out)], cwd=REPO, capture_output=True, timeout=300
    )
    assert done.returncode == -9, done.stderr[-2000:]
    left = out / "job" / ".staging" / "20250101T000000Z-dead00"
    assert list(left.rglob("*.parquet"))  # the attack: real-shaped rows left behind
    RunFolders.new(out, "job", "20250101T000001Z-next00").begin()
    assert not left.exists()


def test_only_stale_staging_is_swept(tmp_path: Path) -> None:
    from synth.io.run_folders import _host

    out = tmp_path / "out"
    here = _host()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    dead = _staging(out, "dead", {"pid": exited.pid, "host": here})
    live = _staging(out, "live", {"pid": os.getpid(), "host": here}, age_s=10 * STAGING_LEASE_S)
    young_unmarked = _staging(out, "young", None)
    old_unmarked = _staging(out, "old", None, age_s=STAGING_LEASE_S + 60)
    elsewhere = _staging(out, "elsewhere", {"pid": 1, "host": "another-host/pid:[1]"})
    elsewhere_old = _staging(
        out, "elsewhere-old", {"pid": 1, "host": "another-host/pid:[1]"}, age_s=STAGING_LEASE_S + 60
    )
    RunFolders.new(out, "job", "mine").begin()
    assert not dead.exists() and not old_unmarked.exists() and not elsewhere_old.exists()
    assert live.exists() and young_unmarked.exists() and elsewhere.exists()
    owner = json.loads((out / "job" / ".staging" / "mine" / OWNER).read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == here


def _publish(out: Path, run_id: str, contract, typed) -> Path:
    folders = RunFolders.new(out, "job", run_id)
    folders.begin()
    staged = stage_frames([typed], folders.staged_parts, contract)
    return publish(folders, staged, passed=True, metadata={}, documents={}, compression="none")


def test_a_run_finishing_after_a_later_one_leaves_latest_on_the_later(
    tmp_path: Path, contract_and_rows
) -> None:
    contract, typed = contract_and_rows
    later = _publish(tmp_path, "20250101T000002Z-bbbbbb", contract, typed)
    earlier = _publish(tmp_path, "20250101T000001Z-aaaaaa", contract, typed)
    latest = tmp_path / "job" / "latest"
    assert latest.resolve() == later.resolve()
    assert earlier.is_dir()  # published all the same, only not pointed to


def test_concurrent_publishes_leave_latest_on_the_last_run_id(tmp_path: Path) -> None:
    """Many runs race to move `latest`, each under the job's lock: the greatest run id wins."""
    job = tmp_path / "job"
    runs = [f"20250101T0000{i:02d}Z-{i:06x}" for i in range(24)]
    for run in runs:
        (job / run).mkdir(parents=True)
    start = threading.Barrier(len(runs))

    def move(run: str) -> None:
        start.wait()
        point_latest(RunFolders.new(tmp_path, "job", run))

    threads = [threading.Thread(target=move, args=(run,)) for run in reversed(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert os.readlink(job / "latest") == runs[-1]
    assert not [p for p in job.iterdir() if p.name.startswith(".latest-")]
