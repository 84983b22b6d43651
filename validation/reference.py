"""What a run's checks compare the synthetic rows with: the real rows its sample plan asks for.

An unconditioned run asks for the real table as it is, so its reference is the real rows, untouched.
A plan with conditions (or rebalanced cells) asks for another mix, and its weights on the real rows
(`synth.fairness.plan_weights`) say how much each row stands for: zero for rows no part of the plan
asks for. Comparing such a run with every real row would fail an engine for doing what it was told
(a run of women earning >50K is far from the whole table) and dilute a privacy attack with rows no
synthetic row resembles.

- `reference`: a seeded Poisson sample, each row kept with probability weight / the largest weight,
  so the heaviest rows are certain: the plan's mix, as large as the weights allow, with no real row
  twice (a duplicated real row would teach a detector or a distance something no honest sample has);
- `support`: every row with a positive weight, for the privacy measures, which must see every real
  row an engine could have copied from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["reference", "support"]


def reference(frame: pd.DataFrame, weights: np.ndarray | None, *, seed: int) -> pd.DataFrame:
    """The real rows in the proportions `weights` ask for; `frame` itself when they are uniform."""
    if weights is None or _uniform(weights):
        return frame
    weights = np.asarray(weights, dtype="float64")
    if weights.max(initial=0.0) <= 0:
        return frame.iloc[:0]
    keep = np.random.default_rng(seed).random(len(frame)) < weights / weights.max()
    return frame.iloc[np.flatnonzero(keep)]


def support(frame: pd.DataFrame, weights: np.ndarray | None) -> pd.DataFrame:
    """The real rows the plan asks for at all; `frame` itself when that is every row."""
    if weights is None or _uniform(weights):
        return frame
    return frame.iloc[np.flatnonzero(np.asarray(weights) > 0)]


def _uniform(weights: np.ndarray) -> bool:
    weights = np.asarray(weights, dtype="float64")
    if len(weights) == 0:
        return True
    top = weights.max()
    return bool(top > 0 and weights.min() >= top * (1 - 1e-9))
