"""Issue 32 item 5 (images): an image source is read inside its root, as PNG or JPEG only, and a
bomb that PIL itself refuses is still refused by its declared size.

- A link in an image folder (a file, or a whole class folder) that resolves outside the folder is
  refused by position; a file swapped for a link after the check is refused, not followed.
- Bytes reach no PIL decoder but PNG's and JPEG's (TIFF, PSD, EPS through Ghostscript, ...).
- A 50000 x 50000 PNG or JPEG (a few hundred bytes) is refused naming 50000 x 50000, where PIL's
  own check at open used to turn it into "not a readable image".
"""

from __future__ import annotations

import io
import os
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

import synth.image.data as image_data
from schemas import DataError
from synth.image.data import read_image_folder, read_image_parquet
from tests.builders import REPO
from tests.security.test_image_error_names import PERSON, _faces, _png

OUTSIDE = "Outsider_Secret"  # the name of what a link points at
SIDE = 50_000
HUGE = f"declares {SIDE} x {SIDE} pixels, more than the 16777216 decoded"


def _encoded(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 99, np.uint8), "L").save(buffer, kind)
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png() -> bytes:
    """A valid start of a PNG declaring SIDE x SIDE grayscale: its first rows, then the end."""
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (SIDE + 1) * 4, 9)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows)
    return png + _chunk(b"IEND", b"")


def _huge_jpeg() -> bytes:
    """A real 8 x 8 grayscale JPEG whose frame header (SOF0) is rewritten to SIDE x SIDE."""
    data = bytearray(_encoded("JPEG"))
    at = data.index(b"\xff\xc0\x00\x0b")  # SOF0, length 11: one component
    data[at + 5 : at + 9] = struct.pack(">HH", SIDE, SIDE)
    return bytes(data)


def _refused(root: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as caught:
        read_image_folder(root, size=8, channels=1, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    for part in (*PERSON, "Alice", "_000", OUTSIDE):
        assert part not in message, message
    return message


def _parquet(path: Path, blobs: list[bytes]) -> Path:
    labels = ["a", "b"] * (len(blobs) // 2) + ["a"] * (len(blobs) % 2)
    pq.write_table(pa.table({"image": pa.array(blobs, pa.binary()), "label": labels}), path)
    return path


# --- links --------------------------------------------------------------------------------------


def test_a_photo_linked_from_outside_the_folder_is_refused_by_position(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / f"{OUTSIDE}.png"
    secret.parent.mkdir()
    secret.write_bytes(_png(42))
    root = _faces(tmp_path / "faces")
    (root / " ".join(PERSON) / "Zyxqwv_Canarypii_0009.png").symlink_to(secret)
    for on_error in ("fail", "skip"):
        message = _refused(root, on_error=on_error)
        assert message.endswith(
            "faces: image 4 of 4 in class folder 2 of 2 (sorted by name): a link to outside the "
            "image folder; copy the image in instead"
        )


def test_a_class_folder_linked_from_outside_is_refused_by_position(tmp_path: Path) -> None:
    outside = tmp_path / OUTSIDE
    outside.mkdir()
    (outside / "x.png").write_bytes(_png(7))
    root = _faces(tmp_path / "faces")
    (root / "Bob Linked").symlink_to(outside, target_is_directory=True)
    message = _refused(root)
    assert message.endswith(
        "faces: class folder 2 of 3 (sorted by name) is a link to outside the image folder; "
        "copy its images in instead"
    )


def test_links_that_stay_inside_the_folder_are_read(tmp_path: Path) -> None:
    root = _faces(tmp_path / "faces")
    person = root / " ".join(PERSON)
    (person / "Zyxqwv_Canarypii_0003.png").symlink_to(root / "Alice Other" / "Alice_Other_0000.png")
    (root / "Carol Linked").symlink_to(person, target_is_directory=True)
    images = read_image_folder(root, size=8, channels=1)
    assert len(images) == 3 + 4 + 4 and len(images.classes) == 3
    assert (images.images[0] == images.images[6]).all()  # Alice's first photo, through the link


@pytest.mark.parametrize("swap", ["file", "class folder"])
def test_a_link_swapped_in_after_the_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str
) -> None:
    """The race: the folder is checked, then a photo (or its class folder) becomes a link out."""
    from synth.image import folder as image_folder

    secret = tmp_path / OUTSIDE
    secret.mkdir()
    root = _faces(tmp_path / "faces")
    person = root / " ".join(PERSON)
    for photo in person.iterdir():
        (secret / photo.name).write_bytes(_encoded("PNG"))  # same names, other pixels

    def scan_then_swap(path: str | Path) -> image_folder.ImageFolder:
        scanned = image_folder.scan(path)
        if swap == "file":
            target = person / "Zyxqwv_Canarypii_0001.png"
            target.unlink()
            target.symlink_to(secret / target.name)
        else:
            person.rename(tmp_path / "moved")
            person.symlink_to(secret, target_is_directory=True)
        return scanned

    monkeypatch.setattr(image_data, "scan", scan_then_swap)
    message = _refused(root)
    where = "image 1 of 3" if swap == "class folder" else "image 2 of 3"
    assert message.endswith(
        f"faces: {where} in class folder 2 of 2 (sorted by name): became a link while being read; "
        "not followed"
    )


def test_a_root_swapped_for_a_link_after_the_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synth.image import folder as image_folder

    root = _faces(tmp_path / "faces")
    secret = _faces(tmp_path / OUTSIDE)

    def scan_then_swap(path: str | Path) -> image_folder.ImageFolder:
        scanned = image_folder.scan(path)
        root.rename(tmp_path / "moved")
        root.symlink_to(secret, target_is_directory=True)
        return scanned

    monkeypatch.setattr(image_data, "scan", scan_then_swap)
    assert _refused(root).endswith("faces: image folder changed while being read")


def test_a_fifo_swapped_in_after_the_check_is_refused_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synth.image import folder as image_folder

    root = _faces(tmp_path / "faces")
    target = root / "Alice Other" / "Alice_Other_0000.png"

    def scan_then_swap(path: str | Path) -> image_folder.ImageFolder:
        scanned = image_folder.scan(path)
        target.unlink()
        os.mkfifo(target)  # opening it for reading would wait for a writer forever
        return scanned

    monkeypatch.setattr(image_data, "scan", scan_then_swap)
    assert _refused(root).endswith(
        "image 1 of 3 in class folder 1 of 2 (sorted by name): is not a plain file"
    )


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["TIFF", "GIF", "BMP"])
def test_an_image_of_another_format_is_refused(tmp_path: Path, kind: str) -> None:
    other = _encoded(kind)
    with Image.open(io.BytesIO(other)) as opened:  # a valid image PIL alone would read
        assert opened.format == kind and opened.size == (8, 8)
    path = _parquet(tmp_path / "in.parquet", [_png(0), _png(1), other, _png(2)])
    with pytest.raises(DataError, match=r"row 2, column 'image': not a PNG or JPEG image$"):
        read_image_parquet(path, size=8, channels=1)
    root = _faces(tmp_path / "faces")
    (root / "Alice Other" / "Alice_Other_0000.png").write_bytes(other)
    assert _refused(root).endswith(
        "image 1 of 3 in class folder 1 of 2 (sorted by name): not a PNG or JPEG image"
    )


def test_no_decoder_but_png_and_jpeg_is_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other plugin PIL knows records being asked; none may be.

    A broken PNG passes our PNG/JPEG sniffing and fails PIL's PNG plugin: without `formats`, PIL
    would then offer it to every other plugin in turn (EPS, whose decoder runs Ghostscript, too).
    """
    Image.init()
    asked: list[str] = []

    def recorder(name: str, factory: object) -> object:
        def accept(prefix: bytes) -> bool:
            asked.append(name)
            return False

        return factory, accept

    others = [name for name in Image.OPEN if name not in ("PNG", "JPEG")]
    assert {"TIFF", "EPS", "PSD", "GIF", "BMP"} <= set(others)
    for name in others:
        monkeypatch.setitem(Image.OPEN, name, recorder(name, Image.OPEN[name][0]))
    broken_png = _png(0)[:40] + b"\0" * 40
    blobs = [_png(1), _encoded("JPEG"), broken_png, _encoded("TIFF"), _encoded("EPS"), _png(2)]
    images = read_image_parquet(
        _parquet(tmp_path / "in.parquet", blobs), size=8, channels=1, on_error="skip"
    )
    assert asked == []
    assert images.skipped == 3 and images.sources == ("row 0", "row 1", "row 5")
    root = _faces(tmp_path / "faces")
    (root / "Alice Other" / "Alice_Other_0000.png").write_bytes(broken_png)
    (root / "Alice Other" / "Alice_Other_0001.png").write_bytes(_encoded("TIFF"))
    assert read_image_folder(root, size=8, channels=1, on_error="skip").skipped == 2
    assert asked == []


# --- bombs PIL refuses first --------------------------------------------------------------------


@pytest.mark.parametrize("bomb", [_huge_png, _huge_jpeg], ids=["png", "jpeg"])
def test_a_bomb_past_pils_own_limit_names_its_declared_size(tmp_path: Path, bomb) -> None:
    data = bomb()
    assert len(data) < 2_000
    with pytest.raises(Image.DecompressionBombError):  # why it said "not a readable image"
        Image.open(io.BytesIO(data))
    path = _parquet(tmp_path / "in.parquet", [_png(0), data, _png(1), _png(2)])
    with pytest.raises(DataError) as caught:
        read_image_parquet(path, size=8, channels=1)
    assert str(caught.value).endswith(f"row 1, column 'image': {HUGE}")
    root = _faces(tmp_path / "faces")
    (root / "Alice Other" / "Alice_Other_0000.png").write_bytes(data)
    assert _refused(root).endswith(
        f"faces: image 1 of 3 in class folder 1 of 2 (sorted by name): {HUGE}"
    )


def test_a_bomb_past_pils_own_limit_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Both readers, both formats, in a fresh process whose peak memory must not grow by them."""
    root = _faces(tmp_path / "faces")
    (root / "Alice Other" / "Alice_Other_0000.png").write_bytes(_huge_png())
    (root / "Alice Other" / "Alice_Other_0001.png").write_bytes(_huge_jpeg())
    parquet = _parquet(tmp_path / "in.parquet", [_huge_png(), _huge_jpeg(), _png(0), _png(1)])
    probe = f"""
import resource
from schemas import DataError
from synth.image.data import read_image_folder, read_image_parquet
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for read in (
    lambda: read_image_folder({str(root)!r}, size=16, channels=3, on_error="skip"),
    lambda: read_image_parquet({str(parquet)!r}, size=16, channels=3, on_error="skip"),
):
    print(read().skipped)
for read in (
    lambda: read_image_folder({str(root)!r}, size=16, channels=3),
    lambda: read_image_parquet({str(parquet)!r}, size=16, channels=3),
):
    try:
        read()
    except DataError as exc:
        print(str(exc).rsplit(": ", 1)[1])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    *lines, grown_mib = done.stdout.strip().splitlines()
    assert lines == ["2", "2", HUGE, HUGE]
    assert int(grown_mib) < 40  # one 50000 x 50000 grayscale image decoded is 2.3 GiB
