"""What the privacy measures share: the samples encoded once, and the verdict each measure gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from validation import noise
from validation.distance import Encoder, Points, row_hashes
from validation.privacy.samples import Samples

__all__ = ["Encoded", "Verdicts"]


class Verdicts:
    """Collects each measure's row for the report and a reason for each failure.

    A measure fails only when it is above its limit by more than sampling noise explains: value -
    z * standard error > limit, with z from the spec's one-sided significance.
    """

    def __init__(self, significance: float) -> None:
        self.significance = significance
        self.rows: list[dict[str, Any]] = []
        self.reasons: list[str] = []

    def judge(
        self, measure: str, value: float, baseline: float, limit: float, se: float, why: str
    ) -> None:
        failed = noise.beyond_above(value, limit, se, self.significance)
        self.rows.append(
            {
                "measure": measure,
                "synthetic": round(value, 4),
                "honest baseline": round(baseline, 4),
                "noise (1 s.e.)": round(se, 4),
                "limit": limit,
                "passed": not failed,
            }
        )
        if failed:
            self.reasons.append(why + (f" beyond sampling noise (s.e. {se:.3f})" if se else ""))


@dataclass(frozen=True)
class Encoded:
    """The samples encoded once, with row hashes for exact matches."""

    encoder: Encoder
    train: Points
    holdout: Points
    synthetic: Points
    train_hash: np.ndarray
    holdout_hash: np.ndarray
    synthetic_hash: np.ndarray

    @classmethod
    def of(cls, samples: Samples, train: pd.DataFrame, contract: Contract) -> Encoded:
        encoder = Encoder.fit(train, contract)
        frames = (samples.train, samples.holdout, samples.synthetic)
        points = [encoder.transform(f) for f in frames]
        hashes = [row_hashes(f, contract) for f in frames]
        return cls(encoder, *points, *hashes)
