"""Bias: what happened to each group of the sensitive columns, and to fairness downstream.

Generative models drop rare groups first and can bend outcome rates between groups. For every
sensitive column and their crossings (sex x race) with at least `min_count` training rows:
- the group's share of rows, synthetic against expected;
- the positive-outcome rate of the target in the group, synthetic against expected;
- groups, and categories of any modelled column, that vanished.
"Expected" is the real training rows weighted by the sample plan (synthesis.fairness.plan_weights):
the real share when the plan is plain, the asked-for share when it rebalances, the parity rate when
it asks for parity. A group fails only when it is off by more than sampling noise explains.

Downstream: the same gradient-boosting model trained on synthetic rows and on real rows, both
scored on the holdout with fairlearn's demographic parity difference and equalized odds difference
per sensitive column; the synthetic-trained model may not be less fair beyond a threshold.
Everything returned is an aggregate over groups of at least `min_count` real rows.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from schemas.contract import Contract
from schemas.spec import BiasChecks, ColumnType, Role
from synth.fairness import FairPlan, positive_class
from validation.result import CheckResult
from validation.utility import xy

__all__ = ["check"]

NAME = "bias"


def check(
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    contract: Contract,
    settings: BiasChecks,
    *,
    weights: np.ndarray | None = None,
    fair: FairPlan | None = None,
) -> CheckResult:
    """`weights` (one per training row) say what the sample plan asks for; `fair` what rebalance
    and parity asked for, to report what was reached."""
    sensitive = contract.with_role(Role.sensitive)
    weights = np.ones(len(train)) if weights is None else np.asarray(weights, dtype="float64")
    metrics: dict[str, Any] = {"groups": 0, "vanished": 0}
    if weights.sum() <= 0:  # conditions no real row meets: compare with the real shares
        weights = np.ones(len(train))
        metrics["note"] = "the sample plan matches no real rows; expected = real shares"
    z = float(norm.ppf(1.0 - settings.significance))
    target, positive = _target(train, contract, fair)
    reasons: list[str] = []
    details: list[dict[str, Any]] = []
    charts: dict[str, Any] = {}

    for size in range(1, min(settings.intersections, len(sensitive)) + 1):
        for columns in itertools.combinations(sensitive, size):
            details += _groups(
                list(columns), train, synthetic, weights, target, positive, settings, z, reasons
            )
    judged = [d for d in details if "share" in d]
    metrics["groups"] = len(judged)
    metrics["vanished"] = sum(1 for d in judged if d["synthetic rows"] == 0)
    if judged:
        metrics["max_share_diff"] = max(abs(d["share diff"]) for d in judged)
        outcomes = [abs(d["outcome diff"]) for d in judged if d.get("outcome diff") is not None]
        if outcomes:
            metrics["max_outcome_diff"] = round(max(outcomes), 4)
    vanished = _vanished_categories(train, synthetic, contract, weights, settings, sensitive)
    charts["vanished_categories"] = vanished
    reasons += [
        f"column {v['column']!r}: category {v['category']!r} ({v['real rows']} real rows, about "
        f"{v['expected rows']:.0f} expected) vanished from the synthetic data"
        for v in vanished
    ]
    if fair is not None:
        charts["plan"] = _reached(fair, synthetic)
        if fair.parity_column is not None:
            metrics["parity_gap"] = charts["plan"]["parity"]["gap"]
    if holdout is not None and target is not None and sensitive and len(holdout):
        downstream = _downstream(
            train, synthetic, holdout, contract, sensitive, target, positive, settings
        )
        charts["downstream"] = downstream
        for row in downstream.get("columns", []):
            for measure in ("demographic_parity_difference", "equalized_odds_difference"):
                real, synth = row[f"{measure} real"], row[f"{measure} synthetic"]
                if synth - real > settings.max_fairness_increase:
                    reasons.append(
                        f"a model trained on synthetic rows is less fair by {row['column']!r}: "
                        f"{measure.replace('_', ' ')} {synth:.3f} against {real:.3f} when trained "
                        f"on real rows (more than {settings.max_fairness_increase} worse)"
                    )
    if not sensitive:
        metrics["skipped"] = "no modelled column has role sensitive"
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details), charts)


def _target(
    train: pd.DataFrame, contract: Contract, fair: FairPlan | None
) -> tuple[str | None, Any]:
    if fair is not None and fair.target is not None:
        return fair.target, fair.positive
    targets = [
        c.name
        for c in contract.modelled
        if Role.target in c.roles and c.type in (ColumnType.categorical, ColumnType.boolean)
    ]
    if not targets or train[targets[0]].dropna().nunique() < 2:
        return None, None
    return targets[0], positive_class(train[targets[0]])


def _groups(
    columns: list[str],
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    weights: np.ndarray,
    target: str | None,
    positive: Any,
    settings: BiasChecks,
    z: float,
    reasons: list[str],
) -> list[dict[str, Any]]:
    real_keys = _keys(train, columns)
    synth_keys = _keys(synthetic, columns)
    real_hit = (train[target] == positive).fillna(False).to_numpy(bool) if target else None
    synth_hit = (synthetic[target] == positive).fillna(False).to_numpy(bool) if target else None
    total_w, n_syn = weights.sum(), len(synthetic)
    rows = []
    for key in sorted(pd.unique(real_keys[real_keys != ""]), key=str):
        in_real = real_keys == key
        if in_real.sum() < settings.min_count:
            continue
        in_synth = synth_keys == key
        expected = float(weights[in_real].sum() / total_w)
        share = float(in_synth.mean()) if n_syn else 0.0
        name = " x ".join(columns)
        row: dict[str, Any] = {
            "group": f"{name} = {key}",
            "real rows": int(in_real.sum()),
            "synthetic rows": int(in_synth.sum()),
            "expected share": round(expected, 4),
            "share": round(share, 4),
            "share diff": round(share - expected, 4),
            "share ratio": round(share / expected, 3) if expected > 0 else None,
        }
        noise = np.sqrt(expected * (1 - expected) / max(n_syn, 1))
        if expected > 0 and in_synth.sum() == 0:
            reasons.append(f"group {name} = {key} vanished ({in_real.sum()} real rows)")
        elif abs(share - expected) - z * noise > settings.max_share_diff:
            reasons.append(
                f"group {name} = {key}: {share:.1%} of synthetic rows against {expected:.1%} "
                f"expected (more than {settings.max_share_diff:.0%} off)"
            )
        elif (
            expected > 0
            and share / expected < settings.min_share_ratio
            and (expected - share > z * noise)
        ):
            reasons.append(
                f"group {name} = {key} shrank to {share / expected:.2f} of its expected share "
                f"(minimum {settings.min_share_ratio})"
            )
        if target is not None and expected > 0:
            w = weights[in_real]
            rate = float((w * real_hit[in_real]).sum() / w.sum()) if w.sum() > 0 else 0.0
            row["expected outcome rate"] = round(rate, 4)
            row["outcome rate"] = None
            row["outcome diff"] = None
            if in_synth.any():
                got = float(synth_hit[in_synth].mean())
                row["outcome rate"], row["outcome diff"] = round(got, 4), round(got - rate, 4)
                noise = np.sqrt(rate * (1 - rate) * (1 / in_synth.sum() + 1 / in_real.sum()))
                if abs(got - rate) - z * noise > settings.max_outcome_diff:
                    reasons.append(
                        f"group {name} = {key}: {target} = {positive} in {got:.1%} of synthetic "
                        f"rows against {rate:.1%} expected (more than "
                        f"{settings.max_outcome_diff:.0%} off)"
                    )
        rows.append(row)
    return rows


def _keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One string per row naming its group; "" where any of the columns is missing."""
    parts = [frame[c].astype("string") for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + " x " + part
    return key.fillna("").to_numpy(dtype=object)


def _vanished_categories(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    contract: Contract,
    weights: np.ndarray,
    settings: BiasChecks,
    sensitive: list[str],
) -> list[dict[str, Any]]:
    """Categories of any modelled column with min_count real rows and enough expected synthetic
    rows that seeing none is not chance (P(0) below the significance), yet none appeared."""
    floor, total = -np.log(settings.significance), weights.sum()
    out = []
    for c in contract.modelled:
        if c.type not in (ColumnType.categorical, ColumnType.boolean) or c.name in sensitive:
            continue  # sensitive groups are judged above
        real = train[c.name].astype("string")
        seen = set(synthetic[c.name].dropna().astype(str))
        for category, count in real.value_counts().items():
            if count < settings.min_count or category in seen:
                continue
            expected = weights[(real == category).fillna(False).to_numpy(bool)].sum() / total
            if expected * len(synthetic) >= floor:
                out.append(
                    {
                        "column": c.name,
                        "category": str(category),
                        "real rows": int(count),
                        "expected rows": round(float(expected * len(synthetic)), 1),
                    }
                )
    return out


def _reached(fair: FairPlan, synthetic: pd.DataFrame) -> dict[str, Any]:
    """What rebalance and parity asked for, and what the synthetic rows have."""
    out: dict[str, Any] = {"rebalance": []}
    for column, shares in fair.shares.items():
        got = synthetic[column].value_counts(normalize=True)
        for category, share in shares.items():
            out["rebalance"].append(
                {
                    "column": column,
                    "category": str(category),
                    "asked share": round(share, 4),
                    "synthetic share": round(float(got.get(category, 0.0)), 4),
                }
            )
    if fair.parity_column is not None:
        hit = synthetic[fair.target] == fair.positive
        rates = hit.groupby(synthetic[fair.parity_column]).mean()
        out["parity"] = {
            "column": fair.parity_column,
            "target": fair.target,
            "positive": str(fair.positive),
            "asked rate": round(fair.rate or 0.0, 4),
            "rates": {str(k): round(float(v), 4) for k, v in rates.items()},
            "gap": round(float(rates.max() - rates.min()), 4) if len(rates) else 0.0,
        }
    return out


def _downstream(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    sensitive: list[str],
    target: str,
    positive: Any,
    settings: BiasChecks,
) -> dict[str, Any]:
    """fairlearn's gaps on the holdout for a model trained on real rows and one on synthetic."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score

    test_x, test_y = xy(holdout, contract, target, regression=False)
    known = holdout[target].notna().to_numpy()
    truth = test_y == str(positive)
    predictions = {}
    for name, frame in (("real", train), ("synthetic", synthetic)):
        x, y = xy(frame, contract, target, regression=False)
        if len(np.unique(y)) < 2:
            return {"skipped": f"the {name} target has one class only"}
        model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
        predictions[name] = model.fit(x, y).predict(test_x) == str(positive)
    columns = []
    for column in sensitive:
        groups = holdout[column].astype("string").to_numpy(dtype=object)[known]
        counts = pd.Series(groups).value_counts()
        big = np.isin(groups, counts[counts >= settings.min_count].index)
        if len(np.unique(groups[big])) < 2:
            continue
        row: dict[str, Any] = {"column": column, "groups": len(np.unique(groups[big]))}
        for name, predicted in predictions.items():
            args = (truth[big], predicted[big])
            row[f"demographic_parity_difference {name}"] = round(
                float(demographic_parity_difference(*args, sensitive_features=groups[big])), 4
            )
            row[f"equalized_odds_difference {name}"] = round(
                float(equalized_odds_difference(*args, sensitive_features=groups[big])), 4
            )
            accuracy = MetricFrame(
                metrics=accuracy_score,
                y_true=truth[big],
                y_pred=predicted[big],
                sensitive_features=groups[big],
            ).by_group
            row[f"accuracy by group {name}"] = {
                str(k): round(float(v), 4) for k, v in accuracy.items()
            }
        columns.append(row)
    return {"target": target, "positive": str(positive), "columns": columns}
