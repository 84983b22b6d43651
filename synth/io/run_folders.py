"""Where one run writes under the output root, who owns a staging folder, and the `latest` link.

    folders = RunFolders.new(out, job, run_id)   # names paths; creates nothing
    folders.begin()                              # sweep dead runs' staging, claim ours (0700)
    ...                                          # stage parts under folders.staged_parts
    point_latest(folders)                        # under the job's lock, forward only

A staging folder holds rows no gate has judged yet, so it is private (0700) and carries an owner
marker (pid and host). A run killed with -9 leaves its staging behind; the next run of the job
sweeps it when the marker names a dead process on this host, or, when the marker is missing or
names another host (whose processes we cannot see), once it is older than any run lives.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import OutputError
from synth import cancel
from synth.io.files import check_folder

__all__ = [
    "STAGING_LEASE_S",
    "RunFolders",
    "check_output",
    "fsync_dir",
    "job_lock",
    "point_latest",
]

OWNER = "owner.json"
LOCK = ".lock"
# No run stages for two days; a staging folder we cannot attribute to a live process is stale then.
STAGING_LEASE_S = 2 * 24 * 3600
_CANCEL: dict[Path, int] = {}  # staging folder -> its clean-up if the run is cancelled


@dataclass(frozen=True)
class RunFolders:
    """Every path one run reads or writes under the output root."""

    out: Path
    job: str
    run_id: str
    preexisting: frozenset[Path] = frozenset()  # folders that existed before the run: never removed

    @classmethod
    def new(cls, out: Path, job: str, run_id: str) -> RunFolders:
        existing = frozenset(p for p in (out, out / job, out / job / ".staging") if p.exists())
        return cls(out, job, run_id, existing)

    @property
    def job_dir(self) -> Path:
        return self.out / self.job

    @property
    def staging(self) -> Path:
        return self.job_dir / ".staging" / self.run_id

    @property
    def staged_parts(self) -> Path:
        return self.staging / "staged"

    @property
    def final(self) -> Path:
        return self.job_dir / self.run_id

    @property
    def quarantine(self) -> Path:
        return self.job_dir / "quarantine" / self.run_id

    @property
    def latest(self) -> Path:
        return self.job_dir / "latest"

    def begin(self) -> None:
        """Sweep stale staging folders of this job, then make ours, private, with its owner.
        A link where synth makes a folder (the job's, `.staging`, ours) is refused: planted."""
        check_output(self.out, self.job, what="output.path")
        check_folder(self.staging.parent, what="staging folder")
        sweep_stale_staging(self.staging.parent, keep=self.run_id)
        self.staging.parent.mkdir(parents=True, exist_ok=True)
        check_folder(self.staging.parent, what="staging folder")  # made meanwhile by someone
        try:
            self.staging.mkdir(mode=0o700)  # ours alone: a name already there was not made by us
        except FileExistsError:
            raise OutputError(f"staging folder: {self.staging} already exists") from None
        os.chmod(self.staging, 0o700)  # mkdir's mode is cut by the umask
        _CANCEL[self.staging] = cancel.on_cancel(self.discard_staging)  # a signal: no leftovers
        owner = {"pid": os.getpid(), "host": _host(), "started": time.time()}
        (self.staging / OWNER).write_text(json.dumps(owner))

    def discard_staging(self) -> None:
        cancel.off(_CANCEL.pop(self.staging, -1))
        shutil.rmtree(self.staging, ignore_errors=True)
        try:
            self.staging.parent.rmdir()  # `.staging` is ours: drop it once empty
        except OSError:
            return
        for folder in (self.job_dir, self.out):
            if folder in self.preexisting:
                break
            try:
                folder.rmdir()  # only folders this run created and left empty
            except OSError:
                break


def check_output(out: str | Path, job: str, *, what: str) -> None:
    """Refuse an output root (`what` names where it came from: --out, output.path) or job folder
    that is a file, is under a file, or is a link: one line, before any work starts."""
    check_folder(out, what=what)
    check_folder(Path(out) / job, what=what)


def sweep_stale_staging(root: Path, *, keep: str, now: float | None = None) -> list[Path]:
    """Remove the staging folders under `root` (`<job>/.staging`) whose run is gone; returns them."""
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    swept = []
    for folder in sorted(root.iterdir()):
        if folder.name == keep or folder.is_symlink() or not folder.is_dir():
            continue
        if _is_stale(folder, now):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def _is_stale(folder: Path, now: float) -> bool:
    try:
        owner = json.loads((folder / OWNER).read_text())
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):
        owner = None
    if owner is not None and host == _host():
        return not _alive(pid)
    # Unmarked (a run between mkdir and its marker, or from an older synth) or another host's:
    # only age tells, and the lease is far longer than any run.
    try:
        return now - folder.stat().st_mtime > STAGING_LEASE_S
    except OSError:
        return False


def _host() -> str:
    """This host as process ids are seen from here: two containers may share a host name and an
    output volume but not their process ids, so the pid namespace is part of it (Linux)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()}/{namespace}"


def _alive(pid: int) -> bool:
    """Whether a process with this id runs here (a reused id reads as alive: we keep, not sweep)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def job_lock(job_dir: Path) -> Iterator[None]:
    """An exclusive lock per job (a `.lock` file in its folder), held across processes.

    A lock file rather than the folder itself: flock on NFS becomes a POSIX lock, which needs a
    file open for writing. The file is never removed, or two runs could lock two different files.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(job_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def point_latest(folders: RunFolders) -> bool:
    """Point `latest` at this run unless it already points at a later one; returns whether it moved.

    Run ids sort by time (`synth.runinfo.new_run_id`), so under the job's lock a run that finishes
    after a later-started one leaves `latest` where it is: it never moves backwards.
    """
    with job_lock(folders.job_dir):
        current = _latest_run_id(folders.latest)
        if current is not None and current > folders.run_id:
            return False
        temporary = folders.job_dir / f".latest-{folders.run_id}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(folders.run_id, target_is_directory=True)
        os.replace(temporary, folders.latest)  # atomic: readers see the old or the new run
        fsync_dir(folders.job_dir)
        return True


def _latest_run_id(latest: Path) -> str | None:
    try:
        return Path(os.readlink(latest)).name
    except OSError:  # no link yet (or not a link: replaced as before)
        return None


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
