"""Sampling noise, in one place: standard errors, one-sided bounds and beyond-noise verdicts.

Every gate compares a measure with a limit, and on a small table the measure moves by sampling
noise alone: a fresh draw from the same population (a perfect generator) would not score exactly
1.0 or exactly the real model's skill. A check built on these helpers fails only when the measure
is past its limit by more than noise explains at a one-sided `significance` (0.01 by default, as
the privacy and bias gates use), so an honest generator is wrongly failed about once in a hundred
runs per measure, however small the table, while a real defect, which does not shrink with the
row count, is still caught once there are enough rows to see it.

- `se_share`, `se_shares` (the difference of two independent shares), `se_pooled` (two groups
  sharing one rate), `se_ratio` (delta method), `se_mean`, `se_auc` (Hanley and McNeil, 1982):
  normal-theory standard errors; `se_interval`, the one a 95% interval implies; `clustered_se`,
  for rows that share noise within clusters (a panel's people).
- `beyond_above`, `beyond_below`: value - z * se > limit, value + z * se < limit.
- `none_unlikely`: whether seeing no rows where `expected` were due is itself past chance.
- `resample_weights`: a paired bootstrap over rows as multinomial counts (rows x resamples), seeded,
  so any measure that is a weighted sum over rows (R2 from its sums of squares, ROC AUC from
  weighted ranks) is recomputed for a thousand resamples without refitting or re-predicting.
- `weighted_r2`, `weighted_auc`: those measures for a stack of weight vectors at once.
- `lower_quantile`, `upper_quantile`: the one-sided bounds of a bootstrap distribution.
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
    "clustered_se",
    "lower_quantile",
    "none_unlikely",
    "prediction_lower",
    "resample_weights",
    "se_auc",
    "se_interval",
    "se_mean",
    "se_pooled",
    "se_ratio",
    "se_share",
    "se_shares",
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


def se_shares(p1: float, n1: int, p2: float, n2: int) -> float:
    """Standard error of the difference of two independent shares, p1 over n1 rows and p2 over n2."""
    return float(np.sqrt(p1 * (1 - p1) / max(n1, 1) + p2 * (1 - p2) / max(n2, 1)))


def se_pooled(p: float, n1: int, n2: int) -> float:
    """Standard error of the difference of two shares over n1 and n2 rows that share one rate p
    (an expected rate against an observed one)."""
    return float(np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2)))


def se_ratio(p1: float, n1: int, p2: float, n2: int) -> float:
    """Delta-method standard error of the ratio p1 / p2 of two independent shares (0 where either
    is 0: the ratio is then judged by its value alone)."""
    if p1 <= 0 or p2 <= 0:
        return 0.0
    return float(p1 / p2 * np.sqrt((1 - p1) / (p1 * n1) + (1 - p2) / (p2 * n2)))


def se_interval(low: float, high: float) -> float:
    """The standard error a two-sided 95% normal interval (low, high) implies."""
    return (high - low) / (2 * 1.96)


def clustered_se(values: np.ndarray, clusters: np.ndarray) -> float:
    """Standard error of the mean of `values` whose rows share noise within `clusters` (integer
    codes): the cluster-robust (sandwich) estimate."""
    deviations = np.asarray(values, dtype=float) - float(np.mean(values))
    sums = np.bincount(clusters, weights=deviations)
    return float(np.sqrt((sums**2).sum()) / max(len(deviations), 1))


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


def none_unlikely(expected: float, significance: float) -> bool:
    """True when seeing no item where `expected` were due (a Poisson count) is at most as likely
    as `significance`: exp(-expected) <= significance."""
    return expected >= -np.log(significance)


def lower_quantile(draws: np.ndarray, significance: float) -> float:
    """The one-sided lower bound of a bootstrap distribution: its `significance` quantile."""
    return float(np.nanquantile(draws, significance))


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
