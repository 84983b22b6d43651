"""Reading, splitting and fitting for the image modality: the reader a source kind needs, a split
stratified by conditioning cell, each engine's defaults and the monitor that watches training
through the judge classifier."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from schemas.errors import SpecError
from schemas.image_spec import ImageJobSpec
from synth.image import data as image_data
from synth.image import train as trainer
from synth.image.cells import Cells
from synth.image.monitor import diversity_monitor
from validation import image_metrics

__all__ = ["DEFAULT_LR", "fit_model", "read_images", "stratified_split"]

_log = logging.getLogger("synth.images")

DEFAULT_LR = {"cgan": 2e-4, "cvae": 1e-3}
MONITOR_PER_CELL = 32  # samples per conditioning cell the monitor draws each epoch


def read_images(spec: ImageJobSpec) -> image_data.ImageSet:
    source, settings = spec.source, spec.images
    if source.kind == "builtin":
        return image_data.builtin(source.name, size=settings.size, channels=settings.channels)
    if source.kind == "image_folder":
        return image_data.read_image_folder(
            source.path,
            size=settings.size,
            channels=settings.channels,
            on_error=settings.on_error,
            extra_csv=source.extra_csv,
            extra_key=source.extra_key,
        )
    return image_data.read_image_parquet(
        source.path,
        image_column=source.image_column,
        label_column=source.label_column,
        size=settings.size,
        channels=settings.channels,
        on_error=settings.on_error,
        extra_columns=source.extra_columns,
    )


def stratified_split(
    cells: Cells, images: image_data.ImageSet, *, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified by conditioning cell (class x sensitive groups) where every cell has two
    images or more, else by class: every class is in both parts."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(images.labels))
    by_cell = np.bincount(cells.index).min() >= 2
    train, holdout = train_test_split(
        index,
        test_size=share,
        random_state=seed,
        stratify=cells.index if by_cell else images.labels,
    )
    return np.sort(train), np.sort(holdout)


def fit_model(x, cell_y, cell_labels, spec: ImageJobSpec, judge) -> trainer.TrainResult:
    """Train the spec's engine on conditioning cells (`cell_y`, whose classes are
    `cell_labels`), watched every epoch through the judge."""
    from synth.image.models import GANConfig, VAEConfig

    kind = spec.model.engine
    config_type = GANConfig if kind == "cgan" else VAEConfig
    try:
        config = config_type(
            image_size=spec.images.size,
            channels=spec.images.channels,
            classes=len(cell_labels),
            **spec.model.params,
        )
    except TypeError as exc:
        raise SpecError(f"model.params: {exc}") from None
    settings = trainer.TrainSettings(
        epochs=spec.model.epochs,
        batch_size=spec.model.batch_size,
        lr=spec.model.lr or DEFAULT_LR[kind],
        seed=spec.sample.seed,
        device=spec.model.device,
        patience=spec.model.patience,
        progress=False,
    )
    monitor = _monitor(judge, x, cell_y, cell_labels, seed=spec.sample.seed)

    def logged(model, epoch: int) -> dict[str, Any]:
        scores = monitor(model, epoch)
        _log.info(
            "epoch %d: %s",
            epoch,
            ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float)),
        )
        return scores

    return trainer.train(kind, x, cell_y, config, settings, monitor=logged)


def _monitor(judge, x, cell_y, cell_labels, *, seed: int):
    """Each epoch: 32 samples per cell; conditional accuracy and class coverage through the judge,
    within-cell diversity against the real images in the judge's features; collapse when any cell
    stops varying."""
    import torch

    from synth.image.models import ConditionalVAE

    diversity = diversity_monitor(
        x,
        cell_y,
        per_class=MONITOR_PER_CELL,
        seed=seed,
        features=lambda batch: image_metrics.embed(judge, batch),
    )
    asked = torch.arange(len(cell_labels)).repeat_interleave(MONITOR_PER_CELL)
    wanted = torch.as_tensor(cell_labels)[asked]
    classes = len(np.unique(cell_labels))

    def watch(model, epoch: int) -> dict[str, Any]:
        scores = diversity(model, epoch)
        fake = trainer.sample(model, asked, seed=seed + 1)
        with torch.no_grad():
            predicted = judge(fake).argmax(1)
        accuracy = float((predicted == wanted).float().mean())
        coverage = float(len(torch.unique(predicted)) / classes)
        spread = min(1.0, float(scores.get("diversity", 1.0)))
        # a VAE keeps its held-out loss as the score (a sound, low-noise selection signal); a GAN's
        # losses are not one, so its score is what the judge sees: accuracy times spread
        score = scores["score"] if isinstance(model, ConditionalVAE) else accuracy * spread
        return {
            **scores,
            "conditional_accuracy": accuracy,
            "class_coverage": coverage,
            "score": score,
        }

    return watch
