"""How synth writes a file: never through a link it did not make, never half of one.

    write_atomic(run / "report.html", html)        # text or bytes
    with atomic_file(path) as handle:              # a stream (a Parquet writer)
        pq.write_table(table, handle)

The bytes go to a new file under a random name in the target's folder, created exclusively
(`O_CREAT | O_EXCL | O_NOFOLLOW`: a name someone planted, link or not, is never opened), fsynced,
then renamed over the target, and the folder fsynced: a reader sees the old file or the new one.
The folder is opened once without following a link, and the file is created and renamed through
that descriptor, so swapping the folder for a link midway changes nothing. A target that is a
link, a folder, a FIFO or a device is refused (OutputError, exit 2, naming it), and so is a folder
that is itself a link (the run's `latest`, which synth makes, is resolved by the caller first).
Only the last part of the folder's path is held to this: the folders above it are the user's.

Files under a folder synth has just made exclusively and privately (a `mkdtemp` folder, a run's
0700 staging) may be written plainly: nobody else can have planted anything there.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from schemas.errors import OutputError

__all__ = ["atomic_file", "check_folder", "write_atomic"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def write_atomic(path: str | Path, data: str | bytes, *, mode: int = 0o666) -> Path:
    """`data` (text as UTF-8) as the whole of `path`, replacing a regular file there atomically.
    `mode` is cut by the umask, as for any new file (0o600: private)."""
    with atomic_file(path, mode=mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


@contextmanager
def atomic_file(path: str | Path, *, mode: int = 0o666) -> Iterator[BinaryIO]:
    """A binary handle whose bytes become `path` when the block ends without an error; on an
    error the partial file is removed and `path` is left as it was."""
    path = Path(path)
    folder = _open_folder(path.parent, path)
    try:
        _require_replaceable(path, folder)
        temporary = f".{path.name[:64]}.{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(temporary, _CREATE, mode, dir_fd=folder)
        except OSError as exc:
            raise OutputError(f"{path}: cannot be written ({_reason(exc)})") from None
        try:
            with os.fdopen(descriptor, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            # renames the name, never follows it: a link planted meanwhile is replaced, not used
            os.replace(temporary, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        os.fsync(folder)
    finally:
        os.close(folder)


def check_folder(folder: str | Path, *, what: str) -> None:
    """Refuse `folder` (`what` names it, e.g. "--out OUT") when it, or the nearest part of its
    path that exists, is not a folder, or when it is itself a link: before any work starts."""
    folder = Path(folder)
    if folder.is_symlink():
        raise OutputError(
            f"{what}: {folder} is a symbolic link; give the folder it points to, if you trust it"
        )
    existing = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), None)
    if existing is not None and not existing.is_dir():
        where = "is" if existing == folder else f"is under {existing}, which is"
        raise OutputError(f"{what}: {folder} {where} not a folder")


def _open_folder(folder: Path, path: Path) -> int:
    try:
        return os.open(folder, _FOLDER)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and folder.is_symlink()):
            raise OutputError(
                f"{path}: its folder {folder} is a symbolic link; refusing to write through it"
            ) from None
        raise OutputError(f"{path}: cannot be written ({_reason(exc)})") from None


def _require_replaceable(path: Path, folder: int) -> None:
    try:
        status = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode):
        raise OutputError(f"{path}: is a symbolic link; refusing to replace it (remove it first)")
    if not stat.S_ISREG(status.st_mode):
        raise OutputError(f"{path}: exists and is not a regular file; refusing to replace it")


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else type(exc).__name__
