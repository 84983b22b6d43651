"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Both models are scikit-learn histogram gradient boosting with the same settings, scored on the
holdout that no engine saw: ROC AUC for a categorical or boolean target (one-vs-rest, weighted, for
more than two classes), R2 for a numerical one. The gate reads TSTR / TRTR.

Like is compared with like: a model's skill grows with its training rows, so when there are fewer
synthetic rows than real ones, TRTR trains on a seeded sample of as many real rows. A categorical
feature with more categories than the booster takes (255) keeps its most frequent training
categories (at most 254, each with 10 rows or more) and folds the rest into one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import ColumnType, Role, UtilityChecks
from validation.frames import features
from validation.result import CheckResult

__all__ = ["Booster", "check", "xy"]

NAME = "utility"
_MAX_BINS = 255  # HistGradientBoosting's limit on a categorical feature's categories
_MIN_SUPPORT = 10  # rows a category of a wide column needs to be kept apart


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    contract: Contract,
    thresholds: UtilityChecks,
    *,
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
    trtr = _score(real_x, real_y, test_x, test_y, regression)
    tstr = _score(synthetic_x, synthetic_y, test_x, test_y, regression)
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
    elif trtr <= 0:
        metrics["skipped"] = "the real-data model has no skill on the holdout"
    else:
        metrics["ratio"] = round(tstr / trtr, 4)
        if metrics["ratio"] < thresholds.min_ratio:
            reasons.append(
                f"TSTR/TRTR {metric} ratio {metrics['ratio']:.3f} is below the minimum "
                f"{thresholds.min_ratio} (synthetic {tstr:.3f}, real {trtr:.3f})"
            )
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


def _score(
    x: pd.DataFrame, y: np.ndarray, test_x: pd.DataFrame, test_y: np.ndarray, regression: bool
) -> float | None:
    from sklearn.metrics import r2_score, roc_auc_score

    if len(y) < 2:
        return None
    if regression:
        model = Booster(regression=True).fit(x, y)
        return round(float(r2_score(test_y, model.predict(test_x))), 4)
    if len(np.unique(y)) < 2:
        return None
    model = Booster(regression=False).fit(x, y)
    proba = model.predict_proba(test_x)
    # One-vs-rest AUC of each class both sides know, weighted by its holdout share: a holdout class
    # the model never saw cannot be scored, and a class the holdout lacks has no AUC.
    known = np.isin(test_y, model.classes_)
    proba, test_y = proba[known], test_y[known]
    aucs, shares = [], []
    for i, label in enumerate(model.classes_):
        hit = test_y == label
        if hit.any() and not hit.all():
            aucs.append(roc_auc_score(hit, proba[:, i]))
            shares.append(hit.sum())
        if len(model.classes_) == 2:
            break  # the two one-vs-rest AUCs of a binary model are the same number
    return round(float(np.average(aucs, weights=shares)), 4) if aucs else None
