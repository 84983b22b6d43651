"""The guard the sampler uses to replace rows that sit too close to training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.contract import Contract
from validation.distance import DistanceFloor, Encoder, Points, nearest, row_hashes

__all__ = ["DistanceGuard"]


@dataclass(frozen=True)
class DistanceGuard:
    """Keeps a synthetic row only if its nearest training row is farther than the holdout's
    `quantile` of nearest-training-row distances and it is not a copy of one: the rule of
    `validation.distance.DistanceFloor`, over encoded rows, where identical means the same hash
    over the modelled columns."""

    encoder: Encoder
    train_points: Points
    train_hashes: np.ndarray
    floor: DistanceFloor

    @classmethod
    def fit(
        cls, train: pd.DataFrame, holdout: pd.DataFrame, contract: Contract, quantile: float
    ) -> DistanceGuard:
        encoder = Encoder.fit(train, contract)
        points, hashes = encoder.transform(train), row_hashes(train, contract)
        same = np.isin(row_hashes(holdout, contract), hashes)
        baseline, _ = nearest(encoder.transform(holdout), points, same=same)
        return cls(encoder, points, hashes, DistanceFloor.fit(baseline[:, 0], quantile))

    @property
    def threshold(self) -> float:
        return self.floor.threshold

    def keep(self, modelled: pd.DataFrame) -> np.ndarray:
        copies = np.isin(row_hashes(modelled, self.encoder.contract), self.train_hashes)
        distance, _ = nearest(self.encoder.transform(modelled), self.train_points, same=copies)
        return self.floor.keep(distance[:, 0], copies)
