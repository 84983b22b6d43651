"""Sampling noise, in one place: standard errors, one-sided bounds and beyond-noise verdicts.

Every gate compares a measure with a limit, and on a small table the measure moves by sampling
noise alone: a fresh draw from the same population (a perfect generator) would not score exactly
1.0 or exactly the real model's skill. A check built on these helpers fails only when the measure
is past its limit by more than noise explains at a one-sided `significance` (0.01 by default, as
the privacy and bias gates use), so an honest generator is wrongly failed about once in a hundred
runs per measure, however small the table, while a real defect, which does not shrink with the
row count, is still caught once there are enough rows to see it.

- `se_share`, `se_mean`, `se_auc` (Hanley and McNeil, 1982): normal-theory standard errors.
- `beyond_above`, `beyond_below`: value - z * se > limit, value + z * se < limit.
- `resample_weights`: a paired bootstrap over rows as multinomial counts (rows x resamples), seeded,
  so any measure that is a weighted sum over rows (R2 from its sums of squares, ROC AUC from
  weighted ranks) is recomputed for a thousand resamples without refitting or re-predicting.
- `weighted_r2`, `weighted_auc`: those measures for a stack of weight vectors at once.
- `prediction_lower`: the one-sided prediction bound for one more draw of a quantity observed a
  few times (Student's t), for references built by re-splitting real rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = [
    "RESAMPLES",
    "beyond_above",
    "beyond_below",
    "prediction_lower",
    "resample_weights",
    "se_auc",
    "se_mean",
    "se_share",
    "upper_quantile",
    "weighted_auc",
    "weighted_r2",
    "z",
]

RESAMPLES = 1000  # bootstrap resamples: a 1% tail rests on ten of them
_CHUNK = 2_000_000  # weights held at once (resamples x rows), about 16 MB


def z(significance: float) -> float:
    """The one-sided standard normal quantile: 2.33 at 0.01."""
    from scipy.stats import norm

    return float(norm.ppf(1.0 - significance))


def se_share(p: float, n: int) -> float:
    """Standard error of a share p observed over n rows."""
    return float(np.sqrt(max(p * (1.0 - p), 0.0) / max(n, 1)))


def se_mean(values: np.ndarray) -> float:
    """Standard error of the mean of `values` (0 for fewer than two)."""
    values = np.asarray(values, dtype="float64")
    if len(values) < 2:
        return 0.0
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def se_auc(auc: float, positives: int, negatives: int) -> float:
    """Hanley-McNeil standard error of a ROC AUC over `positives` and `negatives` rows."""
    a = min(max(auc, 1e-6), 1.0 - 1e-6)
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)
    return float(np.sqrt(max(var, 0.0) / max(positives * negatives, 1)))


def beyond_above(value: float, limit: float, se: float, significance: float) -> bool:
    """True when `value` is above `limit` by more than noise explains (one-sided)."""
    return value - z(significance) * se > limit


def beyond_below(value: float, limit: float, se: float, significance: float) -> bool:
    """True when `value` is below `limit` by more than noise explains (one-sided)."""
    return value + z(significance) * se < limit


def upper_quantile(draws: np.ndarray, significance: float) -> float:
    """The one-sided upper bound of a bootstrap distribution: its 1 - significance quantile."""
    return float(np.nanquantile(draws, 1.0 - significance))


def prediction_lower(draws: np.ndarray, significance: float) -> float:
    """Lower one-sided prediction bound for one more draw like `draws` (at least two):
    mean - t(1 - significance, k - 1) * sd * sqrt(1 + 1/k)."""
    from scipy.stats import t

    draws = np.asarray(draws, dtype="float64")
    k = len(draws)
    spread = float(np.std(draws, ddof=1)) * np.sqrt(1.0 + 1.0 / k)
    return float(np.mean(draws) - t.ppf(1.0 - significance, k - 1) * spread)


def resample_weights(rows: int, *, seed: int, resamples: int = RESAMPLES) -> Iterator[np.ndarray]:
    """Bootstrap resamples of `rows` rows as counts (resamples x rows, in chunks): row i is drawn
    counts[b, i] times in resample b. The same chunks for the same (seed, rows), so measures
    computed on the same rows are paired resample by resample."""
    rng = np.random.default_rng([seed, rows])
    per_chunk = max(1, min(resamples, _CHUNK // max(rows, 1)))
    done = 0
    while done < resamples:
        size = min(per_chunk, resamples - done)
        yield rng.multinomial(rows, np.full(rows, 1.0 / rows), size=size).astype("float64")
        done += size


def weighted_r2(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """R2 of `predicted` for each row of `weights` (resamples x rows); unit weights give sklearn's
    r2_score. NaN where the resampled truth has no spread."""
    truth = np.asarray(truth, dtype="float64")
    residual = weights @ (truth - np.asarray(predicted, dtype="float64")) ** 2
    total = weights.sum(axis=1)
    mean = (weights @ truth) / total
    spread = weights @ truth**2 - total * mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 1e-12 * np.maximum(total, 1.0), 1.0 - residual / spread, np.nan)


def weighted_auc(hit: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of `score` for the positives `hit`, for each row of `weights` (resamples x rows),
    ties counted half; unit weights give sklearn's roc_auc_score. NaN without both classes."""
    order = np.argsort(score, kind="stable")
    ordered = np.asarray(score)[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # groups of tied scores
    w = weights[:, order]
    positive = np.add.reduceat(w * hit[order], starts, axis=1)
    negative = np.add.reduceat(w * ~hit[order], starts, axis=1)
    below = np.cumsum(negative, axis=1) - negative
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            pairs > 0, (positive * (below + 0.5 * negative)).sum(axis=1) / pairs, np.nan
        )
