"""Synthetic images out: PNG with text chunks that say what the image is, and Hugging Face style
Parquet (`image` struct of PNG bytes and path, `label` ClassLabel) that `datasets` decodes as images.

    write_image_parquet(path, from_tensor(fake), labels, classes, text={"synthetic": "true"})
    read_png_text(png)  # {"synthetic": "true", ...}: a copied image still says what it is
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image, PngImagePlugin

from schemas.errors import DataError
from synth.image.decoding import DECODE_ERRORS, check_pixels

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["png_bytes", "read_png_text", "write_image_parquet"]

# datasets writes image tables in small row groups so viewers can stream them; we do the same.
_ROW_GROUP = 100


def png_bytes(image: np.ndarray, *, text: Mapping[str, str]) -> bytes:
    """Encode one uint8 (H, W), (H, W, 1) or (H, W, 3) image as PNG with `text` chunks.

    Latin-1 values go in tEXt chunks, others in iTXt (UTF-8); keys must be 1-79 Latin-1 chars.
    """
    pixels = image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image
    if (
        pixels.dtype != np.uint8
        or pixels.ndim not in (2, 3)
        or (pixels.ndim == 3 and pixels.shape[2] != 3)
    ):
        raise ValueError("png_bytes expects one uint8 image shaped (H, W), (H, W, 1) or (H, W, 3)")
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        if not (0 < len(key) < 80 and key == key.strip() and key.isprintable() and _latin1(key)):
            raise ValueError(f"png_bytes: {key!r} is not a valid PNG text key")
        info.add_text(key, str(value))
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def read_png_text(data: bytes) -> dict[str, str]:
    """The tEXt/zTXt/iTXt chunks of one PNG, as plain strings."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as opened:
            check_pixels(opened)  # `.text` decodes the whole image to reach trailing chunks
            return {str(k): str(v) for k, v in opened.text.items()}
    except DECODE_ERRORS:
        raise DataError("PNG bytes: not a readable PNG") from None


def write_image_parquet(
    path: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    *,
    text: Mapping[str, str],
    extra: pd.DataFrame | None = None,
    compression: str = "zstd",
) -> None:
    """Write an HF-loadable Parquet: `image` (PNG struct), `label` (ClassLabel), extra columns.

    Written to a temporary file beside `path` and moved into place, so readers never see half.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    labels = np.asarray(labels)
    if images.ndim != 4 or labels.shape != (len(images),):
        raise ValueError("write_image_parquet needs images (N, H, W, C) and one label per image")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError("write_image_parquet: a label is not an index into classes")
    extra = (
        pd.DataFrame(index=range(len(images))) if extra is None else extra.reset_index(drop=True)
    )
    if len(extra) != len(images) or {"image", "label"} & set(map(str, extra.columns)):
        raise ValueError(
            "write_image_parquet: extra needs one row per image and no image/label column"
        )

    names = [str(c).replace("/", "_") for c in classes]
    blobs = [png_bytes(image, text=text) for image in images]
    paths = [f"synthetic/{names[label]}/{i}.png" for i, label in enumerate(labels)]
    image_array = pa.StructArray.from_arrays(
        [pa.array(blobs, pa.binary()), pa.array(paths, pa.string())], names=["bytes", "path"]
    )
    extra_table = pa.Table.from_pandas(_plain_categories(extra), preserve_index=False)
    table = pa.table(
        {"image": image_array, "label": pa.array(labels, pa.int64())}
        | {name: extra_table.column(name) for name in extra_table.column_names}
    )
    features: dict[str, Any] = {
        "image": {"_type": "Image"},
        "label": {"_type": "ClassLabel", "names": [str(c) for c in classes]},
    }
    for field in extra_table.schema:
        features[field.name] = {"_type": "Value", "dtype": _hf_dtype(field)}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = table.replace_schema_metadata(metadata)

    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # os.open, not mkstemp: the finished file gets the usual umask permissions, not 0600.
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        pq.write_table(table, temp, compression=compression, row_group_size=_ROW_GROUP)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


# --- helpers -------------------------------------------------------------------------------------


def _plain_categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals become their values: datasets has no Value type for Arrow dictionaries."""
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return (
        frame.astype({c: frame[c].cat.categories.dtype for c in categorical})
        if categorical
        else frame
    )


def _hf_dtype(field: pa.Field) -> str:
    """The datasets `Value` dtype for an Arrow type (datasets spells floats float32/float64)."""
    import pyarrow as pa

    kind = field.type
    floats = {pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64"}
    if kind in floats:
        return floats[kind]
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_string(kind):
        return str(kind)
    if pa.types.is_large_string(kind) or pa.types.is_timestamp(kind):
        return str(kind)
    if pa.types.is_null(kind):
        return "null"
    raise ValueError(
        f"write_image_parquet: extra column {field.name!r} has unsupported type {kind}"
    )


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
