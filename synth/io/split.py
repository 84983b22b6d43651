"""Seeded train/holdout split. The holdout is never trained on; only the checks read it."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["split_holdout"]


def split_holdout(
    frame: pd.DataFrame, *, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, holdout) with round(share * rows) holdout rows, chosen by a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = round(share * len(frame))
    if cut < 1 or cut >= len(frame):
        from schemas.errors import DataError

        raise DataError(
            f"split.holdout: {share} of {len(frame)} rows leaves an empty train or holdout"
        )
    holdout = frame.iloc[np.sort(order[:cut])].reset_index(drop=True)
    train = frame.iloc[np.sort(order[cut:])].reset_index(drop=True)
    return train, holdout
