"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Both models are scikit-learn histogram gradient boosting with the same settings, scored on the
holdout that no engine saw: ROC AUC for a categorical or boolean target (one-vs-rest, weighted, for
more than two classes), R2 for a numerical one. The gate reads TSTR / TRTR.

Like is compared with like: a model's skill grows with its training rows, so when there are fewer
synthetic rows than real ones, TRTR trains on a seeded sample of as many real rows. A categorical
feature with more categories than the booster takes (255) keeps its most frequent training
categories (at most 254, each with 10 rows or more) and folds the rest into one.

Judged beyond sampling noise. On a table of a few hundred rows the holdout has under a hundred,
and two honest models' scores on it differ by several tenths of R2 by chance. Each model predicts
the holdout once; a paired bootstrap over the holdout rows (the same resample scores both, as
multinomial row counts, so R2 and AUC are recomputed from weighted sums without refitting) gives
the distribution of tstr - r * trtr. The check fails only when the point ratio is below
`min_ratio` and the upper bound of tstr - min_ratio * trtr at `significance` is below 0 too (the
difference is better conditioned than the ratio when trtr is small). The metrics report
`ratio_upper_bound`, the largest ratio that bound does not reject. When the real model's skill is
itself within noise of chance (lower bound of R2 <= 0, or of AUC <= 0.5) the ratio means nothing
and the check is skipped with the reason. The point estimates are the same as without the bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import ColumnType, Role, UtilityChecks
from validation import noise
from validation.frames import features
from validation.result import CheckResult

__all__ = ["Booster", "check", "xy"]

NAME = "utility"
_MAX_BINS = 255  # HistGradientBoosting's limit on a categorical feature's categories
_MIN_SUPPORT = 10  # rows a category of a wide column needs to be kept apart
_CHANCE = {"r2": 0.0, "roc_auc": 0.5}  # the score of a model with no skill


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    contract: Contract,
    thresholds: UtilityChecks,
    seed: int = 0,
) -> CheckResult:
    targets = [c for c in contract.modelled if Role.target in c.roles]
    if not targets:
        return CheckResult(NAME, True, {"skipped": "no modelled column has role target"})
    if holdout is None or holdout.empty:
        return CheckResult(NAME, True, {"skipped": "no holdout rows"})
    target = targets[0]
    regression = target.type is ColumnType.numerical
    metric = "r2" if regression else "roc_auc"
    test_x, test_y = xy(holdout, contract, target.name, regression)
    if len(test_y) < 2 or (not regression and len(np.unique(test_y)) < 2):
        skipped = "the holdout target cannot be scored (fewer than two rows or classes)"
        return CheckResult(NAME, True, {"skipped": skipped})
    real_x, real_y = xy(real, contract, target.name, regression)
    synthetic_x, synthetic_y = xy(synthetic, contract, target.name, regression)
    if len(synthetic_y) < len(real_y):
        pick = np.random.default_rng(seed).choice(len(real_y), len(synthetic_y), replace=False)
        pick.sort()
        real_x, real_y = real_x.iloc[pick].reset_index(drop=True), real_y[pick]
    real_skill = _Skill.fit(real_x, real_y, test_x, test_y, regression)
    synthetic_skill = _Skill.fit(synthetic_x, synthetic_y, test_x, test_y, regression)
    trtr, tstr = real_skill.point, synthetic_skill.point
    metrics: dict[str, Any] = {
        "target": target.name,
        "metric": metric,
        "trtr": trtr,
        "tstr": tstr,
        "ratio": None,
        "trtr_rows": len(real_y),
        "tstr_rows": len(synthetic_y),
    }
    reasons = []
    if trtr is None:
        # the real rows the plan asks for (a condition on the target, say) teach nothing either
        metrics["skipped"] = "the real target has one class only"
    elif tstr is None:
        reasons.append("a model cannot be trained on the synthetic target (one class only)")
    elif trtr <= _CHANCE[metric]:
        metrics["skipped"] = "the real-data model has no skill on the holdout"
    else:
        metrics["ratio"] = round(tstr / trtr, 4)
        reasons += _judge(metrics, real_skill, synthetic_skill, thresholds, seed=seed)
    return CheckResult(NAME, not reasons, metrics, tuple(reasons))


def xy(
    frame: pd.DataFrame, contract: Contract, target: str, regression: bool
) -> tuple[pd.DataFrame, np.ndarray]:
    """Model features and the target's known values (strings for a class target)."""
    table = features(frame, contract)
    y = table.pop(target)
    known = y.notna().to_numpy()
    y = y.to_numpy(dtype="float64") if regression else y.astype(str).to_numpy()
    return table[known].reset_index(drop=True), y[known]


class Booster:
    """The model both sides train: histogram gradient boosting on an `xy` table, taking categorical
    features of any cardinality. A wide column keeps its most frequent training categories."""

    def __init__(self, *, regression: bool) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        params = {"categorical_features": "from_dtype", "random_state": 0, "max_bins": _MAX_BINS}
        kind = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        self.model = kind(**params)
        self.kept: dict[str, list[Any]] = {}
        self.empty: list[str] = []

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> Booster:
        # a column with no value at all teaches nothing, and the booster's binning fails on it
        self.empty = [name for name, values in x.items() if values.isna().all()]
        self.kept = {}
        for name, values in x.items():
            if name not in self.empty and (
                isinstance(values.dtype, pd.CategoricalDtype)
                and len(values.cat.categories) > _MAX_BINS
            ):
                counts = values.value_counts(sort=False)
                # the booster's splits ignore categories with fewer rows (its MIN_CAT_SUPPORT),
                # and on a ZIP code's thousands of them they would only cost time
                counts = counts[counts >= _MIN_SUPPORT]
                # most frequent first, ties in the domain's order, so seeded runs agree
                order = np.lexsort((np.arange(len(counts)), -counts.to_numpy()))
                self.kept[name] = list(counts.index[order[: _MAX_BINS - 1]])
        self.model.fit(self._folded(x), y)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.model.predict(self._folded(x))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self._folded(x))

    def _folded(self, x: pd.DataFrame) -> pd.DataFrame:
        if not self.kept and not self.empty:
            return x
        out = x.drop(columns=self.empty)
        for name, kept in self.kept.items():
            # the folded categories' code: one past the kept ones, never a real value
            codes = pd.Categorical(out[name], categories=kept).codes.astype(np.int64)
            codes = np.where(out[name].isna().to_numpy(), -1, np.where(codes < 0, len(kept), codes))
            out[name] = pd.Categorical.from_codes(codes, categories=[*range(len(kept) + 1)])
        return out


def _judge(
    metrics: dict[str, Any],
    real: _Skill,
    synthetic: _Skill,
    thresholds: UtilityChecks,
    *,
    seed: int,
) -> list[str]:
    """Bootstrap bounds into `metrics`, and the reason to fail, if any (see the module's doc)."""
    trtr_draws, tstr_draws = [], []
    for weights in noise.resample_weights(len(real.truth), seed=seed):
        trtr_draws.append(real.resampled(weights))
        tstr_draws.append(synthetic.resampled(weights))
    trtr_b, tstr_b = np.concatenate(trtr_draws), np.concatenate(tstr_draws)
    both = np.isfinite(trtr_b) & np.isfinite(tstr_b)
    trtr_b, tstr_b = trtr_b[both], tstr_b[both]
    alpha, metric, limit = thresholds.significance, metrics["metric"], thresholds.min_ratio
    lower = float(np.quantile(trtr_b, alpha))
    metrics["trtr_lower_bound"] = round(lower, 4)
    if lower <= _CHANCE[metric]:
        metrics["ratio"] = None
        metrics["skipped"] = (
            f"the real-data model's skill on the holdout is within sampling noise of chance "
            f"({metric} {metrics['trtr']:.3f}, lower bound {lower:.3f} at significance {alpha})"
        )
        return []

    def upper(ratio: float) -> float:  # the upper bound of tstr - ratio * trtr
        return noise.upper_quantile(tstr_b - ratio * trtr_b, alpha)

    metrics["ratio_upper_bound"] = round(_largest_ratio(upper, metrics["ratio"]), 4)
    if metrics["ratio"] >= limit or upper(limit) >= 0:
        return []
    return [
        f"TSTR/TRTR {metric} ratio {metrics['ratio']:.3f} is below the minimum {limit} beyond "
        f"sampling noise (at most {metrics['ratio_upper_bound']:.3f} at significance {alpha}; "
        f"synthetic {metrics['tstr']:.3f}, real {metrics['trtr']:.3f})"
    ]


def _largest_ratio(upper: Callable[[float], float], start: float) -> float:
    """The largest ratio r whose upper bound of tstr - r * trtr is still >= 0 (decreasing in r
    while the real model has skill): the ratio's one-sided upper confidence bound."""
    low, high, step = start, start, 1.0
    while upper(low) < 0 and step < 1e6:
        low, step = low - step, step * 2
    step = 1.0
    while upper(high) >= 0 and step < 1e6:
        high, step = high + step, step * 2
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if upper(middle) >= 0 else (low, middle)
    return low


class _Skill:
    """One model's holdout predictions, scored once (`point`, as scikit-learn scores them) and
    under bootstrap resample weights over the holdout rows (`resampled`), never refitted."""

    def __init__(self, truth: np.ndarray, predicted: Any, regression: bool) -> None:
        self.truth, self.predicted, self.regression = truth, predicted, regression
        self.point: float | None = None
        self.terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (rows, hit, score)

    @classmethod
    def fit(
        cls,
        x: pd.DataFrame,
        y: np.ndarray,
        test_x: pd.DataFrame,
        test_y: np.ndarray,
        regression: bool,
    ) -> _Skill:
        from sklearn.metrics import r2_score, roc_auc_score

        if len(y) < 2 or (not regression and len(np.unique(y)) < 2):
            return cls(test_y, None, regression)
        model = Booster(regression=regression).fit(x, y)
        if regression:
            skill = cls(test_y, model.predict(test_x), regression)
            skill.point = round(float(r2_score(test_y, skill.predicted)), 4)
            return skill
        skill = cls(test_y, model.predict_proba(test_x), regression)
        # One-vs-rest AUC of each class both sides know, weighted by its holdout share: a holdout
        # class the model never saw cannot be scored, and a class the holdout lacks has no AUC.
        rows = np.flatnonzero(np.isin(test_y, model.classes_))
        known = test_y[rows]
        aucs, shares = [], []
        for i, label in enumerate(model.classes_):
            hit = known == label
            if hit.any() and not hit.all():
                aucs.append(roc_auc_score(hit, skill.predicted[rows, i]))
                shares.append(hit.sum())
                skill.terms.append((rows, hit, skill.predicted[rows, i]))
            if len(model.classes_) == 2:
                break  # the two one-vs-rest AUCs of a binary model are the same number
        skill.point = round(float(np.average(aucs, weights=shares)), 4) if aucs else None
        return skill

    def resampled(self, weights: np.ndarray) -> np.ndarray:
        """The score under each row of `weights` (resamples x holdout rows)."""
        if self.regression:
            return noise.weighted_r2(self.truth, self.predicted, weights)
        total, shares = np.zeros(len(weights)), np.zeros(len(weights))
        for rows, hit, score in self.terms:
            w = weights[:, rows]
            auc, share = noise.weighted_auc(hit, score, w), w @ hit
            usable = np.isfinite(auc)
            total += np.where(usable, auc * share, 0.0)
            shares += np.where(usable, share, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(shares > 0, total / shares, np.nan)
