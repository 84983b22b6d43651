"""Issue 18 item 14 (images): errors about an image folder give counts and positions, never a
class folder or file name, which in a face set is a person's name."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from schemas import DataError
from synth.image.data import read_image_folder

PERSON = ("Zyxqwv", "Canarypii")  # a name found nowhere else


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L").save(buffer, "PNG")
    return buffer.getvalue()


def _faces(root: Path) -> Path:
    """Two people, three photos each, folders and files named after them."""
    for i, person in enumerate(("Alice Other", " ".join(PERSON))):
        folder = root / person
        folder.mkdir(parents=True)
        for j in range(3):
            (folder / f"{person.replace(' ', '_')}_000{j}.png").write_bytes(_png(3 * i + j))
    return root


def _error(root: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as caught:
        read_image_folder(root, size=8, channels=1, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    for part in (*PERSON, "Alice", "_000"):
        assert part not in message, message
    return message


def test_an_unreadable_photo_is_placed_by_counts(tmp_path: Path) -> None:
    root = _faces(tmp_path / "faces")
    (root / " ".join(PERSON) / "Zyxqwv_Canarypii_0001.png").write_bytes(b"\x89PNG\r\n\x1a\nbad")
    message = _error(root)
    assert message.endswith(
        "faces: image 2 of 3 in class folder 2 of 2 (sorted by name): not a readable image"
    )


def test_a_person_without_readable_photos_is_placed_by_counts(tmp_path: Path) -> None:
    root = _faces(tmp_path / "faces")
    for photo in (root / " ".join(PERSON)).iterdir():
        photo.write_bytes(b"not an image")
    message = _error(root, on_error="skip")
    assert message.endswith("faces: class folder 2 of 2: none of its 3 images could be decoded")


def test_a_person_without_photos_is_placed_by_counts(tmp_path: Path) -> None:
    root = _faces(tmp_path / "faces")
    for photo in (root / " ".join(PERSON)).iterdir():
        photo.unlink()
    assert _error(root).endswith(
        "class folder 2 of 2 (sorted by name) holds no .png/.jpg/.jpeg images"
    )


def test_a_photo_missing_from_the_extra_csv_is_placed_by_counts(tmp_path: Path) -> None:
    root = _faces(tmp_path / "faces")
    csv = tmp_path / "people.csv"
    files = sorted(p.name for p in (root / "Alice Other").iterdir())
    pd.DataFrame({"file": files, "sex": ["f"] * 3}).to_csv(csv, index=False)
    message = _error(root, extra_csv=csv)
    assert message == (
        "image 1 of 3 in class folder 2 of 2 (sorted by name): no row in people.csv (column 'file')"
    )
