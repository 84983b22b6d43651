"""Decoding untrusted image bytes: PNG and JPEG only, and the size we refuse before decoding.

`Image.open` reads only the header; everything after it (`load`, `convert`, even `getexif` on a
PNG) decodes the whole image. A small file can declare a huge image (a decompression bomb): PIL's
own limit (about 89 M pixels, an error only above twice that) lets a 156 kB PNG take a GiB, while
our targets are at most a few dozen pixels across. So every reader calls `check_pixels` first.

Bytes reach PIL only through `open_image`, which names PNG and JPEG as the only formats: no other
decoder (TIFF, PSD, EPS through Ghostscript, ...) ever sees them. Where PIL refuses a bomb itself
before `check_pixels` sees it, the declared size is read from the header here, so the error still
names it.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

__all__ = [
    "DECODE_ERRORS",
    "IMAGE_FORMATS",
    "MAX_DECODED_PIXELS",
    "ImageRefused",
    "ImageTooLarge",
    "NotPngOrJpeg",
    "check_pixels",
    "declared_size",
    "decode_problem",
    "open_image",
]

# 4096 x 4096 (48 MiB as RGB): far above any target size or photo we scale down, far below a bomb.
MAX_DECODED_PIXELS = 4096 * 4096
IMAGE_FORMATS = ("PNG", "JPEG")  # the only decoders PIL may try
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_START = b"\xff\xd8\xff"  # what PIL's JPEG plugin accepts
# JPEG start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: a marker alone


class ImageRefused(ValueError):
    """An image we refuse; its message holds counts only, so errors may show it."""


class ImageTooLarge(ImageRefused):
    """An image whose header declares more pixels than we decode; raised before decoding."""


class NotPngOrJpeg(ImageRefused):
    """Bytes that do not start as a PNG or a JPEG: never handed to any other decoder."""


# What PIL raises on a truncated, corrupt or hostile file, and our own refusals.
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    ImageRefused,
)


def open_image(data: bytes) -> Image.Image:
    """Open PNG or JPEG bytes, reading the header only; the caller must `check_pixels` next."""
    if not data.startswith((_PNG_SIGNATURE, _JPEG_START)):
        raise NotPngOrJpeg("not a PNG or JPEG image")
    try:
        return Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:  # PIL's own check, at open, above 2 x its limit
        size = declared_size(data)
        if size is None:
            raise ImageTooLarge(
                f"declares more than {2 * Image.MAX_IMAGE_PIXELS} pixels, "
                f"more than the {MAX_DECODED_PIXELS} decoded"
            ) from None
        raise _too_large(*size) from None


def check_pixels(opened: Image.Image) -> None:
    """Refuse an opened, not yet decoded image whose header declares too many pixels."""
    width, height = opened.size
    if width * height > MAX_DECODED_PIXELS:
        raise _too_large(width, height)


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG's IHDR or a JPEG's frame header declares it, else None."""
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(_JPEG_START):
        return None
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
        elif marker in _JPEG_NO_LENGTH:
            at += 2
        elif marker in _JPEG_FRAMES:  # length (2), precision (1), height (2), width (2)
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            return int.from_bytes(data[at + 7 : at + 9], "big"), height
        elif marker in (0xD9, 0xDA):  # the image ends or its scan starts before any frame
            return None
        else:
            at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def decode_problem(exc: BaseException) -> str:
    """One line for an error message: counts only, never a file name or a pixel."""
    return str(exc) if isinstance(exc, ImageRefused) else "not a readable image"


def _too_large(width: int, height: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"declares {width} x {height} pixels, more than the {MAX_DECODED_PIXELS} decoded"
    )
