"""Decoding untrusted image bytes: what PIL raises, and the size we refuse before decoding.

`Image.open` reads only the header; everything after it (`load`, `convert`, even `getexif` on a
PNG) decodes the whole image. A small file can declare a huge image (a decompression bomb): PIL's
own limit (about 89 M pixels, an error only above twice that) lets a 156 kB PNG take a GiB, while
our targets are at most a few dozen pixels across. So every reader calls `check_pixels` first.
"""

from __future__ import annotations

from PIL import Image, UnidentifiedImageError

__all__ = ["DECODE_ERRORS", "MAX_DECODED_PIXELS", "ImageTooLarge", "check_pixels", "decode_problem"]

# 4096 x 4096 (48 MiB as RGB): far above any target size or photo we scale down, far below a bomb.
MAX_DECODED_PIXELS = 4096 * 4096


class ImageTooLarge(ValueError):
    """An image whose header declares more pixels than we decode; raised before decoding."""


# What PIL raises on a truncated, corrupt or hostile file, and our own refusal.
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    ImageTooLarge,
)


def check_pixels(opened: Image.Image) -> None:
    """Refuse an opened, not yet decoded image whose header declares too many pixels."""
    width, height = opened.size
    if width * height > MAX_DECODED_PIXELS:
        raise ImageTooLarge(
            f"declares {width} x {height} pixels, more than the {MAX_DECODED_PIXELS} decoded"
        )


def decode_problem(exc: BaseException) -> str:
    """One line for an error message: counts only, never a file name or a pixel."""
    return str(exc) if isinstance(exc, ImageTooLarge) else "not a readable image"
