"""Engine names, in one place: the spec's Literal types, the CLI's choices, the registries' keys.

`synth.tabular`'s registry and `synth.image.models.KINDS` must name exactly these engines
(tests/schemas/test_engine_names.py holds them to it). Order matters only for messages: it is the
order `synth run --help` and "unknown engine; choose one of ..." list them in.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "DEFAULT_IMAGE_ENGINE",
    "DEFAULT_TABLE_ENGINE",
    "IMAGE_ENGINES",
    "TABLE_ENGINES",
    "ImageEngine",
    "TableEngine",
]

TableEngine = Literal[
    "gaussian_copula", "ctgan", "tvae", "copulagan", "independent", "bootstrap", "autoregressive"
]
ImageEngine = Literal["cgan", "cvae"]

TABLE_ENGINES: tuple[str, ...] = get_args(TableEngine)
IMAGE_ENGINES: tuple[str, ...] = get_args(ImageEngine)

# what `model.engine` is when a spec leaves it out
DEFAULT_TABLE_ENGINE: TableEngine = "autoregressive"
DEFAULT_IMAGE_ENGINE: ImageEngine = "cgan"
