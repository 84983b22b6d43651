"""Detection: can a classifier tell real rows from synthetic ones? Cross-validated ROC AUC, 0.5 ideal.

Like SDMetrics' LogisticDetection, the detector is a logistic regression on standardised numbers
and one-hot categories (categories seen fewer than 10 times share one column), run here with a
seeded, balanced sample of each side so the time stays bounded for any output size.

Judged beyond sampling noise: with a few hundred rows per side a detector's AUC moves by several
hundredths by chance, so the check fails only when the AUC is above `max_auc` by more than its
Hanley-McNeil standard error (at the rows per side: every row is scored once across the folds)
times the one-sided normal quantile at `significance`. On Adult (10,000 rows per side) the bound
sits within 0.015 of the AUC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import DetectionChecks
from validation import noise
from validation.frames import features
from validation.result import CheckResult

__all__ = ["check"]

NAME = "detection"


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    contract: Contract,
    thresholds: DetectionChecks,
    seed: int = 0,
) -> CheckResult:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rows = min(thresholds.rows, len(real), len(synthetic))
    if rows < thresholds.folds * 2:
        return CheckResult(NAME, True, {"skipped": f"too few rows ({rows}) to cross-validate"})
    both = pd.concat(
        [
            features(real, contract).sample(rows, random_state=seed),
            features(synthetic, contract).sample(rows, random_state=seed),
        ],
        ignore_index=True,
    )
    labels = np.r_[np.zeros(rows), np.ones(rows)]
    categorical = [n for n, v in both.items() if isinstance(v.dtype, pd.CategoricalDtype)]
    numeric = [n for n in both if n not in categorical]
    for name in categorical:
        both[name] = both[name].astype(object).where(both[name].notna(), "<missing>")
    encode = ColumnTransformer(
        [
            (
                "numbers",
                make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler()),
                numeric,
            ),
            (
                "categories",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10),
                categorical,
            ),
        ]
    )
    detector = make_pipeline(encode, LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(thresholds.folds, shuffle=True, random_state=seed)
    auc = float(np.mean(cross_val_score(detector, both, labels, cv=folds, scoring="roc_auc")))
    se = noise.se_auc(auc, rows, rows)
    metrics = {
        "roc_auc": round(auc, 4),
        "roc_auc_lower_bound": round(auc - noise.z(thresholds.significance) * se, 4),
        "rows_per_side": rows,
        "detector": "logistic regression",
    }
    reasons = ()
    if noise.beyond_above(auc, thresholds.max_auc, se, thresholds.significance):
        reasons = (
            f"a classifier tells synthetic from real rows with ROC AUC {auc:.3f}, above the "
            f"maximum {thresholds.max_auc} beyond sampling noise (at least "
            f"{metrics['roc_auc_lower_bound']:.3f} at significance {thresholds.significance})",
        )
    return CheckResult(NAME, not reasons, metrics, reasons)
