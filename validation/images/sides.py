"""What every image check reads: one side of the comparison (training, holdout or synthetic images),
the run's contract (classes, sensitive columns, the judge classifier), seeded samples of a side in
the judge's features, and the verdict each measure gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from validation import noise
from validation.image_metrics import ImageClassifier, classify, embed

__all__ = ["ImageContract", "ImageSide", "Judge", "Sample", "pick"]


@dataclass(frozen=True)
class ImageSide:
    """One side of a comparison: float images (N, C, H, W) in [-1, 1], their LongTensor labels (N,),
    and the sensitive columns per image (one row each), or None."""

    images: Tensor
    labels: Tensor
    groups: pd.DataFrame | None = None


@dataclass(frozen=True)
class ImageContract:
    """What the image checks know of the run: the class names (label i is `classes[i]`), the
    sensitive per-image columns, and the judge: the classifier fitted on the real training images
    (`validation.image_metrics.fit_classifier`), whose features every measure is taken in."""

    classes: tuple[str, ...]
    sensitive: tuple[str, ...]
    judge: Any


class Judge:
    """One row per measure for the report and a reason per failure: a floor fails when value + z * se
    is below it, a ceiling when value - z * se is above it (one-sided `significance`)."""

    def __init__(self, significance: float) -> None:
        self.significance = significance
        self.rows: list[dict[str, Any]] = []
        self.reasons: list[str] = []

    def floor(self, measure: str, value: float, limit: float | None, se: float, why: str) -> None:
        failed = limit is not None and noise.beyond_below(value, limit, se, self.significance)
        self._judge(measure, value, limit, se, failed, why)

    def ceiling(self, measure: str, value: float, limit: float | None, se: float, why: str) -> None:
        failed = limit is not None and noise.beyond_above(value, limit, se, self.significance)
        self._judge(measure, value, limit, se, failed, why)

    def _judge(
        self, measure: str, value: float, limit: float | None, se: float, failed: bool, why: str
    ) -> None:
        self.rows.append(
            {
                "measure": measure,
                "value": round(value, 4),
                "noise (1 s.e.)": round(se, 4),
                "limit": None if limit is None else round(limit, 4),
                "passed": not failed,
            }
        )
        if failed:
            self.reasons.append(why + (f" beyond sampling noise (s.e. {se:.3f})" if se else ""))


def pick(n: int, size: int, rng: np.random.Generator) -> Tensor:
    """A seeded sample of `size` of `n` items (all of them if fewer), in order."""
    return torch.from_numpy(np.sort(rng.choice(n, size=min(size, n), replace=False)))


@dataclass(frozen=True)
class Sample:
    """A seeded sample of one image set in the classifier's features, with its labels and whether
    the classifier recognised each image as its label."""

    features: Tensor
    labels: Tensor
    hit: Tensor
    rows: Tensor  # which images of the set were sampled

    @classmethod
    def of(
        cls,
        clf: ImageClassifier,
        images: Tensor,
        labels: Tensor,
        size: int,
        rng: np.random.Generator,
    ) -> Sample:
        picked = pick(len(images), size, rng)
        features, labels = embed(clf, images[picked]), labels.cpu()[picked]
        return cls(features, labels, classify(clf, features) == labels, picked)

    def where(self, mine: Tensor) -> Sample:
        return Sample(self.features[mine], self.labels[mine], self.hit[mine], self.rows[mine])

    def of_class(self, c: int) -> Sample:
        return self.where(self.labels == c)

    def of_group(self, groups: pd.Series, value: str) -> Sample:
        """The sampled images whose `groups` entry (one per image of the whole set) is `value`."""
        chosen = groups.to_numpy()[self.rows.numpy()] == value
        return self.where(torch.from_numpy(np.asarray(chosen, dtype=bool)))

    def accuracy(self) -> float:
        return float(self.hit.float().mean())

    def take(self, size: int, rng: np.random.Generator) -> Tensor:
        return self.features[pick(len(self.features), size, rng)]
