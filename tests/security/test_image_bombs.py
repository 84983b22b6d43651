"""Issue 18 item 8: a small PNG that declares a huge image is refused before any pixel is decoded.

The bomb: 12000 x 12000 grayscale zeros, about 140 kB of deflate. It sits between PIL's warning
and its error (89 M and 179 M pixels), so PIL alone decodes it fully (144 MB, more once converted).
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from schemas import DataError
from synth.image.data import read_image_folder, read_image_parquet
from synth.image.output import read_png_text
from tests.builders import REPO

SIDE = 12_000
# PIL warns at Image.open (the header): expected here, and it names no file
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A complete, valid PNG: every row a filter byte and SIDE zero pixels."""
    packer = zlib.compressobj(9)
    rows = b"\0" * (SIDE + 1) * 500
    body = b"".join(packer.compress(rows) for _ in range(SIDE // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 0, 0, 0, 0)  # 8-bit grayscale
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body)
    return png + _chunk(b"IEND", b"")


def _small_png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "PNG")
    return buffer.getvalue()


def _folder(root: Path, bomb: bytes) -> Path:
    for name in ("Jane Doe", "Richard Roe"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            (root / name / f"{name}_{i}.png").write_bytes(_small_png(i))
    (root / "Jane Doe" / "Jane_Doe_0004.png").write_bytes(bomb)
    return root


def test_the_bomb_is_small_and_declares_a_huge_image(bomb: bytes) -> None:
    assert len(bomb) < 200_000
    with Image.open(io.BytesIO(bomb)) as opened:  # the header only
        assert opened.size == (SIDE, SIDE)
        assert SIDE * SIDE < 2 * Image.MAX_IMAGE_PIXELS  # PIL itself would decode it


def test_a_bomb_in_an_image_folder_is_refused_before_decoding(tmp_path: Path, bomb: bytes) -> None:
    """Run the read in a fresh process and watch its peak memory: it must not grow by the image."""
    root = _folder(tmp_path / "faces", bomb)
    probe = f"""
import resource, sys
from schemas import DataError
from synth.image.data import read_image_folder
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_image_folder({str(root)!r}, size=16, channels=3)
except DataError as exc:
    print(exc)
else:
    print("read")
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown // 1024)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    message, grown_mib = done.stdout.strip().splitlines()
    assert message.endswith(
        "image 4 of 4 in class folder 1 of 2 (sorted by name): declares 12000 x 12000 pixels, "
        "more than the 16777216 decoded"
    )
    assert "Jane" not in message and "Doe" not in message
    assert int(grown_mib) < 40  # decoding would take 144 MiB at the very least


def test_a_bomb_is_skipped_and_counted_when_asked(tmp_path: Path, bomb: bytes) -> None:
    images = read_image_folder(
        _folder(tmp_path / "faces", bomb), size=8, channels=1, on_error="skip"
    )
    assert images.skipped == 1 and len(images) == 6


def test_a_bomb_in_parquet_bytes_is_refused(tmp_path: Path, bomb: bytes) -> None:
    blobs = [_small_png(0), _small_png(1), bomb, _small_png(2)]
    table = pa.table({"image": pa.array(blobs, pa.binary()), "label": ["a", "b", "a", "b"]})
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(DataError, match=r"row 2, column 'image': declares 12000 x 12000 pixels"):
        read_image_parquet(tmp_path / "in.parquet", size=8, channels=1)


def test_reading_png_text_does_not_decode_a_bomb(bomb: bytes) -> None:
    with pytest.raises(DataError, match="not a readable PNG"):
        read_png_text(bomb)
