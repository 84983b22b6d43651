"""The image modality: a labelled image set in, synthetic images per class out.

read -> conditioning cells (class x sensitive groups) -> stratified split -> a judge classifier on
the training images -> the plan (images per cell) -> fit (a conditional GAN or VAE, watched every
epoch for collapse and divergence) -> sample per cell -> privacy filter -> one staged Parquet part
with Hugging Face image structs.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from schemas.errors import DataError, SpecError
from schemas.image_spec import ImageJobSpec
from synth.image import data as image_data
from synth.image import output as image_output
from synth.image import train as trainer
from synth.image.cells import Cells, conditioning_cells
from synth.io.lineage import source_fingerprint_of
from synth.io.publish import StagedParts
from synth.modalities import CheckInputs, Execute, Sampled
from synth.modalities.images.fitting import fit_model, read_images, stratified_split
from validation import CheckResult, image_metrics
from validation.images import ImageContract, ImageSide

__all__ = ["ImageModality"]

_log = logging.getLogger("synth.images")
_GRID = 8  # synthetic samples per class in the report


@dataclass(frozen=True)
class ImagePrepared:
    cells: Cells
    train: np.ndarray  # indices into images
    holdout: np.ndarray
    real: ImageSide  # the training images, their classes and sensitive groups
    held: ImageSide
    contract: ImageContract  # class names, sensitive columns and the judge classifier
    judge_info: dict[str, Any]
    counts: dict[int, int]  # images to make per conditioning cell


@dataclass(frozen=True)
class ImageFitted:
    result: trainer.TrainResult
    seconds: float


class ImageModality:
    kind: ClassVar[str] = "images"
    unit: ClassVar[str] = "images"

    def preflight(self, spec: ImageJobSpec) -> None:
        """A source that is not there fails now, in one line, before a server starts (the
        images themselves are read once, by the run)."""
        source = spec.source
        if source.kind == "image_folder" and not Path(source.path).is_dir():
            raise DataError(f"{source.path}: image folder does not exist or is not a folder")
        if source.kind == "image_parquet" and not Path(source.path).exists():
            raise DataError(f"{source.path}: Parquet file or dataset folder does not exist")

    def describe(self, spec: ImageJobSpec) -> str:
        return f"{spec.images.size}x{spec.images.size} images"

    def read(self, spec: ImageJobSpec) -> image_data.ImageSet:
        return read_images(spec)

    def prepare(self, images: image_data.ImageSet, spec: ImageJobSpec) -> ImagePrepared:
        sensitive = list(spec.images.sensitive)
        cells = conditioning_cells(images, sensitive)
        train, holdout = stratified_split(
            cells, images, share=spec.split.holdout, seed=spec.split.seed
        )
        x, y = image_data.to_tensor(images.images[train]), _long(images.labels[train])
        hx, hy = image_data.to_tensor(images.images[holdout]), _long(images.labels[holdout])
        judge, judge_info = image_metrics.fit_classifier(
            x, y, len(images.classes), seed=spec.split.seed, holdout_images=hx, holdout_labels=hy
        )
        groups = {
            part: images.extra.iloc[rows][sensitive].reset_index(drop=True) if sensitive else None
            for part, rows in (("train", train), ("holdout", holdout))
        }
        # a bad class name fails before minutes of training
        counts = cells.allot(_per_class(spec, images, train), train)
        return ImagePrepared(
            cells,
            train,
            holdout,
            ImageSide(x, y, groups["train"]),
            ImageSide(hx, hy, groups["holdout"]),
            ImageContract(tuple(images.classes), tuple(sensitive), judge),
            judge_info,
            counts,
        )

    def fit(self, prepared: ImagePrepared, spec: ImageJobSpec, *, retrain: bool) -> ImageFitted:
        """Image models are not stored: every run trains (`retrain` changes nothing)."""
        started = time.perf_counter()
        cell_y = _long(prepared.cells.index[prepared.train])
        judge = prepared.contract.judge
        result = fit_model(prepared.real.images, cell_y, prepared.cells.labels, spec, judge)
        return ImageFitted(result, time.perf_counter() - started)

    def sample(
        self,
        fitted: ImageFitted,
        prepared: ImagePrepared,
        spec: ImageJobSpec,
        *,
        staging: Path,
        execute: Execute,
        run_id: str,
    ) -> Sampled:
        """Images for the planned count of each cell, the privacy filter, one staged part."""
        import torch

        model, seed = fitted.result.model, spec.sample.seed
        made = torch.cat(
            [torch.full((n,), c, dtype=torch.long) for c, n in sorted(prepared.counts.items())]
        )
        fake = trainer.sample(model, made, seed=seed)
        labels = _long(prepared.cells.labels[made.numpy()])
        results: list[CheckResult] = []
        if spec.sample.privacy_filter.enabled:
            fake, filtered = _privacy_filter(model, made, fake, prepared, spec)
            results.append(filtered)
        sensitive = bool(prepared.contract.sensitive)
        groups = prepared.cells.groups.iloc[made.numpy()].reset_index(drop=True)
        staged = staging / "part-00000.parquet"
        text = {"synthetic": "true", "synth:job": spec.name, "synth:run_id": run_id}
        image_output.write_image_parquet(
            staged,
            image_data.from_tensor(fake),
            labels.numpy(),
            prepared.contract.classes,
            text=text,
            extra=groups,
            compression="none",
        )
        synthetic = ImageSide(fake, labels, groups if sensitive else None)
        return Sampled(StagedParts((staged,), len(labels)), results, synthetic)

    def check_inputs(
        self,
        name: str,
        prepared: ImagePrepared,
        fitted: ImageFitted,
        sampled: Sampled,
        spec: ImageJobSpec,
        done: Mapping[str, CheckResult],
    ) -> CheckInputs | None:
        sides = (prepared.real, sampled.evidence, prepared.held)
        contract = prepared.contract
        if name == "training":
            keywords = {"training": fitted.result}
            return CheckInputs(*sides, contract, spec.checks.collapse, keywords)
        settings = getattr(spec.checks, name)
        if not settings.enabled:
            return None
        if name in ("quality", "privacy"):  # their own seeded subsamples (seed 0, as ever)
            return CheckInputs(*sides, contract, settings)
        if name == "bias":  # it reads per-class quality, measured even when quality is off
            quality = done.get("quality")
            if quality is None:
                from validation.registry import checks_for

                quality = checks_for("images")["quality"](
                    *sides, contract=contract, thresholds=spec.checks.quality
                )
            return CheckInputs(*sides, contract, settings, {"quality": quality})
        raise KeyError(f"no image check {name!r}")

    def run_info(
        self,
        images: image_data.ImageSet,
        prepared: ImagePrepared,
        fitted: ImageFitted,
        sampled: Sampled,
        spec: ImageJobSpec,
    ) -> dict[str, Any]:
        synthetic: ImageSide = sampled.evidence
        result = fitted.result
        return {
            "run": {
                "source_fingerprint": source_fingerprint_of(spec),
                "source": getattr(spec.source, "name", None)
                or str(getattr(spec.source, "path", "")),
                "engine": spec.model.engine,
                "engine_params": dict(spec.model.params),
                "sensitive": list(prepared.contract.sensitive),
                "conditioning_cells": len(prepared.cells),
                "train_rows": len(prepared.train),
                "holdout_rows": len(prepared.holdout),
                "skipped_images": images.skipped,
                "fit_seconds": round(fitted.seconds, 2),
                "judge": prepared.judge_info,
            },
            "training": {"history": result.history, "best_epoch": result.best_epoch},
            "samples": _samples(synthetic.images, synthetic.labels, prepared.contract.classes),
        }

    def render(self, metrics: Mapping[str, Any]) -> str:
        from validation.image_report import render

        return render(dict(metrics))

    def partition_by(self, spec: ImageJobSpec) -> list[str]:
        return []


def _per_class(
    spec: ImageJobSpec, images: image_data.ImageSet, train: np.ndarray
) -> dict[int, int]:
    real = np.bincount(images.labels[train], minlength=len(images.classes))
    counts = {c: int(spec.sample.per_class or real[c]) for c in range(len(images.classes))}
    for name, n in spec.sample.counts.items():
        if name not in images.classes:
            raise SpecError(f"sample.counts: class {name!r} is not in the data")
        counts[images.classes.index(name)] = n
    return counts


def _privacy_filter(model, made, fake, prepared: ImagePrepared, spec: ImageJobSpec):
    """Replace synthetic images closer to a training image than the holdout's `quantile` of
    nearest-training distances (or equal to one) with fresh draws for the same cell, seeded by
    round, for up to `max_rounds` rounds. Images still too close stay, and fail the gate."""
    settings = spec.sample.privacy_filter
    guard = image_metrics.DistanceGuard(
        prepared.real.images, prepared.held.images, quantile=settings.quantile
    )
    fake, replaced, left = trainer.redraw(
        model, made, fake, guard.keep, seed=spec.sample.seed, rounds=settings.max_rounds
    )
    _log.info(
        "privacy filter: %d images closer to training than the holdout's %.0f%% quantile "
        "replaced, %d could not be",
        replaced,
        100 * settings.quantile,
        left,
    )
    reasons = (
        (
            f"privacy filter: {left} images stayed closer to a training image than the holdout's "
            f"{settings.quantile:.0%} quantile after {settings.max_rounds} rounds",
        )
        if left
        else ()
    )
    metrics = {
        "threshold": round(guard.threshold, 4),
        "quantile": settings.quantile,
        "replaced": replaced,
        "not_replaced": left,
    }
    return fake, CheckResult("privacy_filter", not left, metrics, reasons)


def _long(values: np.ndarray):
    import torch

    return torch.as_tensor(values, dtype=torch.long)


def _samples(fake, labels, classes: tuple[str, ...]) -> dict[str, list[str]]:
    """The first few synthetic images of each class as PNG data URIs for the report."""
    images = image_data.from_tensor(fake)
    out: dict[str, list[str]] = {}
    for c, name in enumerate(classes):
        picked = np.flatnonzero(labels.numpy() == c)[:_GRID]
        out[name] = [
            "data:image/png;base64,"
            + base64.b64encode(
                image_output.png_bytes(images[i], text={"synthetic": "true"})
            ).decode()
            for i in picked
        ]
    return out
