"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Both models are scikit-learn histogram gradient boosting with the same settings, scored on the
holdout that no engine saw: ROC AUC for a categorical or boolean target (one-vs-rest, weighted, for
more than two classes), R2 for a numerical one. The gate reads TSTR / TRTR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import ColumnType, Role, UtilityChecks
from validation.frames import features
from validation.result import CheckResult

__all__ = ["check", "xy"]

NAME = "utility"


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    contract: Contract,
    thresholds: UtilityChecks,
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
    trtr = _score(*xy(real, contract, target.name, regression), test_x, test_y, regression)
    tstr = _score(*xy(synthetic, contract, target.name, regression), test_x, test_y, regression)
    metrics = {"target": target.name, "metric": metric, "trtr": trtr, "tstr": tstr, "ratio": None}
    reasons = []
    if tstr is None:
        reasons.append("a model cannot be trained on the synthetic target (one class only)")
    elif trtr is None or trtr <= 0:
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


def _score(
    x: pd.DataFrame, y: np.ndarray, test_x: pd.DataFrame, test_y: np.ndarray, regression: bool
) -> float | None:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import r2_score, roc_auc_score

    params = {"categorical_features": "from_dtype", "random_state": 0}
    if regression:
        model = HistGradientBoostingRegressor(**params).fit(x, y)
        return round(float(r2_score(test_y, model.predict(test_x))), 4)
    if len(np.unique(y)) < 2:
        return None
    model = HistGradientBoostingClassifier(**params).fit(x, y)
    proba = model.predict_proba(test_x)
    known = np.isin(test_y, model.classes_)  # a holdout class the model never saw cannot be scored
    if len(model.classes_) == 2:
        return round(float(roc_auc_score(test_y[known] == model.classes_[1], proba[known, 1])), 4)
    return round(
        float(
            roc_auc_score(
                test_y[known],
                proba[known],
                multi_class="ovr",
                average="weighted",
                labels=model.classes_,
            )
        ),
        4,
    )
