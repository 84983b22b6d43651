"""The rows every privacy measure reads: equal-sized seeded samples of training and holdout rows (whole
subjects for a panel), and the people the nearest real rows belong to, whose rows share their noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.io.split import subject_codes, subject_order

__all__ = ["People", "Samples"]


@dataclass(frozen=True)
class Samples:
    """Equal-sized training and holdout samples, and a synthetic sample, all seeded."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame

    @classmethod
    def draw(
        cls,
        train: pd.DataFrame,
        holdout: pd.DataFrame,
        synthetic: pd.DataFrame,
        rows: int,
        seed: int,
        subject: str | None = None,
    ) -> Samples:
        """With `subject` (the split's `by`), the real samples are whole subjects: a row sample
        of training would spread over four times the people of an equal-sized holdout sample
        (whose people are all unseen), and an honest synthetic row would then find a near
        neighbour in training more often just because more people are there (a wage panel:
        DCR share 0.59 for rows, 0.53 with every row)."""
        n = min(rows, len(train), len(holdout))
        rng = np.random.default_rng(seed)

        def take(frame: pd.DataFrame, size: int, by: str | None = None) -> pd.DataFrame:
            if by is None:
                picked = rng.choice(len(frame), size=min(size, len(frame)), replace=False)
            else:  # whole shuffled subjects, the first `size` rows
                picked = subject_order(subject_codes(frame, by), rng)[0][:size]
            return frame.iloc[np.sort(picked)].reset_index(drop=True)

        return cls(take(train, n, subject), take(holdout, n, subject), take(synthetic, rows))


@dataclass(frozen=True)
class People:
    """Subject codes of the real rows the distances were measured to (a panel split by
    `split.by`): a synthetic row near one person's rows is near all of them, so rows judged by
    their nearest person are clustered by that person, not independent."""

    train_sample: np.ndarray
    holdout_sample: np.ndarray
    train: np.ndarray
    holdout: np.ndarray

    @classmethod
    def of(
        cls, samples: Samples, train: pd.DataFrame, holdout: pd.DataFrame, subject: str | None
    ) -> People | None:
        if subject is None:
            return None
        codes = subject_codes(pd.concat([train[[subject]], holdout[[subject]]]), subject)
        return cls(
            subject_codes(samples.train, subject),
            subject_codes(samples.holdout, subject),
            codes[: len(train)],
            codes[len(train) :],
        )

    def nearest(
        self,
        to_train: np.ndarray,
        at_train: np.ndarray,
        to_holdout: np.ndarray,
        at_holdout: np.ndarray,
        *,
        sample: bool,
    ) -> np.ndarray:
        """Per synthetic row, a code for the person its nearest real row belongs to."""
        train, holdout = (
            (self.train_sample, self.holdout_sample) if sample else (self.train, self.holdout)
        )
        offset = train.max(initial=-1) + 1
        return np.where(to_train <= to_holdout, train[at_train], holdout[at_holdout] + offset)
