"""An image folder's files, read without leaving the folder.

Class folders and files may be links, as long as each resolves (realpath) to a place inside the
resolved root; a link to anywhere else is refused by position before any image is read. Each file
is then opened from the root's descriptor along its resolved path, one plain name at a time and
never following a link (`O_NOFOLLOW`), and read once: a link swapped in after the check is refused,
not followed, and the bytes decoded are the very bytes read. Errors give positions and counts,
never a class folder or file name (in a face set, a person's name).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import DataError
from synth.image.decoding import ImageRefused

__all__ = ["IMAGE_SUFFIXES", "MAX_FILE_BYTES", "FileRefused", "ImageFolder", "place", "scan"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
# A 4096 x 4096 photo is a few MiB as JPEG, 48 MiB as a raw-ish PNG; a file past this is no photo.
MAX_FILE_BYTES = 256 * 2**20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO would otherwise wait for a writer; on a regular file it changes nothing.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class FileRefused(ImageRefused):
    """An image file that changed into a link or into something other than a plain file."""


@dataclass(frozen=True)
class ImageFolder:
    """`root/<class>/<file>`, listed and checked: every path resolves inside `real`."""

    root: Path  # as given: errors start with it
    real: Path  # the root, resolved
    classes: tuple[str, ...]  # class folder names, sorted
    names: tuple[tuple[str, ...], ...]  # per class, its image file names, sorted
    inside: tuple[tuple[tuple[str, ...], ...], ...]  # per class and file: its resolved path's parts

    @contextmanager
    def reader(self) -> Iterator[Callable[[int, int], bytes]]:
        """A function from an image's position (class, file) to its bytes, while the root is open."""
        try:
            root_fd = os.open(self.real, _DIR_FLAGS)
        except OSError:
            raise DataError(f"{self.root}: image folder changed while being read") from None
        try:
            yield lambda label, index: _read_under(root_fd, self.inside[label][index])
        finally:
            os.close(root_fd)


def place(index: int, count: int, label: int, classes: int) -> str:
    """Where an image is, by position: its file and folder names may name a person."""
    return f"image {index + 1} of {count} in class folder {label + 1} of {classes} (sorted by name)"


def scan(path: str | Path) -> ImageFolder:
    """List `path/<class>/<file>.png|jpg|jpeg`, refusing a layout we cannot use or a link out."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: image folder does not exist or is not a folder")
    real = Path(os.path.realpath(root))
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for position, folder in enumerate(folders, 1):
        if _outside(folder, real):
            raise DataError(
                f"{root}: class folder {position} of {len(folders)} (sorted by name) is a link "
                "to outside the image folder; copy its images in instead"
            )
    files = [_image_files(folder) for folder in folders]
    if not any(files):
        raise DataError(f"{root}: no images found (expected <class>/<file>.png|jpg|jpeg)")
    if len(folders) < 2:
        raise DataError(f"{root}: needs at least two class folders, found {len(folders)}")
    inside = []
    for label, found in enumerate(files):
        if not found:
            raise DataError(
                f"{root}: class folder {label + 1} of {len(files)} (sorted by name) holds no "
                ".png/.jpg/.jpeg images"
            )
        parts = []
        for index, file in enumerate(found):
            resolved = Path(os.path.realpath(file))
            if not resolved.is_relative_to(real):
                where = place(index, len(found), label, len(files))
                raise DataError(
                    f"{root}: {where}: a link to outside the image folder; copy the image in instead"
                )
            parts.append(resolved.relative_to(real).parts)
        inside.append(tuple(parts))
    return ImageFolder(
        root,
        real,
        tuple(f.name for f in folders),
        tuple(tuple(f.name for f in found) for found in files),
        tuple(inside),
    )


def _outside(folder: Path, real_root: Path) -> bool:
    return not Path(os.path.realpath(folder)).is_relative_to(real_root)


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        f
        for f in folder.iterdir()
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
    )


def _read_under(root_fd: int, parts: tuple[str, ...]) -> bytes:
    """The bytes of the plain file at `parts` under the root, reached without following a link."""
    opened: list[int] = []
    try:
        try:
            at = root_fd
            for part in parts[:-1]:
                at = os.open(part, _DIR_FLAGS, dir_fd=at)
                opened.append(at)
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=at)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise FileRefused("became a link while being read; not followed") from None
            raise
        opened.append(fd)
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise FileRefused("is not a plain file")
        if status.st_size > MAX_FILE_BYTES:
            raise FileRefused(f"holds more than {MAX_FILE_BYTES >> 20} MiB")
        chunks, left = [], MAX_FILE_BYTES + 1
        while left and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        if not left:  # it grew after fstat
            raise FileRefused(f"holds more than {MAX_FILE_BYTES >> 20} MiB")
        return b"".join(chunks)
    finally:
        for fd in reversed(opened):
            os.close(fd)
