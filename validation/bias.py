"""Bias: what happened to each group of the sensitive columns, and to fairness downstream.

Generative models drop rare groups first and can bend outcome rates between groups. For every
sensitive column and their crossings (sex x race) with at least `min_count` training rows (a
numerical or datetime column is grouped in bands, synth.bands, never one exact value at a time):
- the group's share of rows, synthetic against expected;
- the positive-outcome rate of the target in the group, synthetic against expected;
- groups, and categories of any modelled column, that vanished.
"Expected" is the real training rows weighted by the sample plan (synthesis.fairness.plan_weights):
the real share when the plan is plain, the asked-for share when it rebalances, the parity rate when
it asks for parity. A group fails only when it is off by more than sampling noise explains.

Downstream (validation.downstream): the same gradient-boosting model trained on synthetic rows and
on as many real rows, both scored on the holdout with fairlearn's demographic parity difference and
equalized odds difference per sensitive column; the synthetic-trained model may not be less fair by
more than a threshold beyond the holdout's sampling noise (paired bootstrap).
Everything returned is an aggregate over groups of at least `min_count` real rows.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import BiasChecks, ColumnType, Role
from synth.bands import Bands, bands_for, group_labels
from synth.fairness import FairPlan, outcome_name, positive_class
from validation import noise
from validation.downstream import downstream
from validation.result import CheckResult

__all__ = ["check"]

NAME = "bias"
_RARE_CATEGORY = "(a rare category)"  # a category too rare to name (report.min_count)


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    contract: Contract,
    thresholds: BiasChecks,
    weights: np.ndarray | None = None,
    fair: FairPlan | None = None,
) -> CheckResult:
    """`real` are the training rows; `weights` (one per training row) say what the sample plan asks
    for; `fair` what rebalance and parity asked for, to report what was reached."""
    sensitive = contract.with_role(Role.sensitive)
    weights = np.ones(len(real)) if weights is None else np.asarray(weights, dtype="float64")
    metrics: dict[str, Any] = {"groups": 0, "vanished": 0}
    if weights.sum() <= 0:  # conditions no real row meets: compare with the real shares
        weights = np.ones(len(real))
        metrics["note"] = "the sample plan matches no real rows; expected = real shares"
    target, positive = _target(real, contract, fair, thresholds.min_count)
    # a positive class held by fewer than min_count real rows is judged but never named
    named = outcome_name(real[target], positive, min_count=thresholds.min_count) if target else ""
    reasons: list[str] = []
    details: list[dict[str, Any]] = []
    charts: dict[str, Any] = {}
    grouping = _grouping(real, contract, sensitive, thresholds.min_count)
    if len(grouping) < len(sensitive):
        metrics["unbanded"] = len(sensitive) - len(grouping)  # too few rows for two bands
    judged_columns = list(grouping)

    for size in range(1, min(thresholds.intersections, len(judged_columns)) + 1):
        for columns in itertools.combinations(judged_columns, size):
            details += _groups(
                list(columns),
                grouping,
                real,
                synthetic,
                weights,
                target,
                (positive, named),
                thresholds,
                reasons,
            )
    judged = [d for d in details if "share" in d]
    metrics["groups"] = len(judged)
    metrics["vanished"] = sum(1 for d in judged if d["synthetic rows"] == 0)
    if judged:
        metrics["max_share_diff"] = max(abs(d["share diff"]) for d in judged)
        outcomes = [abs(d["outcome diff"]) for d in judged if d.get("outcome diff") is not None]
        if outcomes:
            metrics["max_outcome_diff"] = round(max(outcomes), 4)
    vanished = _vanished_categories(real, synthetic, contract, weights, thresholds, sensitive)
    charts["vanished_categories"] = vanished
    reasons += [
        f"column {v['column']!r}: category {v['category']!r} ({v['real rows']} real rows, about "
        f"{v['expected rows']:.0f} expected) vanished from the synthetic data"
        for v in vanished
    ]
    if fair is not None:
        charts["plan"] = _reached(fair, synthetic, real, thresholds.min_count)
        if fair.parity_column is not None:
            metrics["parity_gap"] = charts["plan"]["parity"]["gap"]
    if holdout is not None and target is not None and grouping and len(holdout):
        charts["downstream"], unfair = downstream(
            real,
            synthetic,
            holdout,
            contract,
            grouping,
            target,
            positive,
            thresholds,
            positive_name=named,
        )
        reasons += unfair
        bounds = [
            v
            for row in charts["downstream"].get("columns", [])
            for k, v in row.items()
            if k.endswith("increase lower bound")
        ]
        if bounds:
            metrics["max_fairness_increase_lower_bound"] = max(bounds)
    if not sensitive:
        metrics["skipped"] = "no modelled column has role sensitive"
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details), charts)


def _target(
    train: pd.DataFrame, contract: Contract, fair: FairPlan | None, min_count: int
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
    return targets[0], positive_class(train[targets[0]], min_count=min_count)


def _grouping(
    train: pd.DataFrame, contract: Contract, sensitive: list[str], min_count: int
) -> dict[str, Bands | None]:
    """Each judgeable sensitive column and its bands (None: grouped by value). A numerical or
    datetime column too small for two bands of `min_count` rows is left out, never judged by
    exact value."""
    out: dict[str, Bands | None] = {}
    for column in sensitive:
        bands = bands_for(contract[column], train[column], min_count=min_count)
        if bands is not None or contract[column].categories is not None:
            out[column] = bands
    return out


def _groups(
    columns: list[str],
    grouping: dict[str, Bands | None],
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    weights: np.ndarray,
    target: str | None,
    outcome: tuple[Any, str],  # the positive class, and how it may be named
    settings: BiasChecks,
    reasons: list[str],
) -> list[dict[str, Any]]:
    positive, named = outcome
    real_keys = _keys(train, columns, grouping)
    synth_keys = _keys(synthetic, columns, grouping)
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
        alpha = settings.significance
        se = noise.se_share(expected, n_syn)
        if expected > 0 and in_synth.sum() == 0:
            reasons.append(f"group {name} = {key} vanished ({in_real.sum()} real rows)")
        elif noise.beyond_above(abs(share - expected), settings.max_share_diff, se, alpha):
            reasons.append(
                f"group {name} = {key}: {share:.1%} of synthetic rows against {expected:.1%} "
                f"expected (more than {settings.max_share_diff:.0%} off)"
            )
        elif (
            expected > 0
            and share / expected < settings.min_share_ratio
            and noise.beyond_above(expected - share, 0.0, se, alpha)
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
                se = noise.se_pooled(rate, in_synth.sum(), in_real.sum())
                if noise.beyond_above(abs(got - rate), settings.max_outcome_diff, se, alpha):
                    reasons.append(
                        f"group {name} = {key}: {target} = {named} in {got:.1%} of synthetic "
                        f"rows against {rate:.1%} expected (more than "
                        f"{settings.max_outcome_diff:.0%} off)"
                    )
        rows.append(row)
    return rows


def _keys(frame: pd.DataFrame, columns: list[str], grouping: dict[str, Bands | None]) -> np.ndarray:
    """One string per row naming its group (a value, or a band); "" where any is missing."""
    parts = [group_labels(frame, c, grouping.get(c)) for c in columns]
    key = parts[0]
    missing = key == ""
    for part in parts[1:]:
        key = key + " x " + part
        missing |= part == ""
    key[missing] = ""
    return key


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
    total = weights.sum()
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
            if noise.none_unlikely(expected * len(synthetic), settings.significance):
                out.append(
                    {
                        "column": c.name,
                        "category": str(category),
                        "real rows": int(count),
                        "expected rows": round(float(expected * len(synthetic)), 1),
                    }
                )
    return out


def _reached(
    fair: FairPlan, synthetic: pd.DataFrame, train: pd.DataFrame, min_count: int
) -> dict[str, Any]:
    """What rebalance and parity asked for, and what the synthetic rows have. A category or group
    held by fewer than `min_count` real training rows is never named: a rebalanced one shows as a
    placeholder, parity's rare groups (which any synthetic row may hold) only as a count."""
    out: dict[str, Any] = {"rebalance": []}
    for column, shares in fair.shares.items():
        if column in fair.bands:
            labels = fair.bands[column].label(synthetic[column])
            got = pd.Series(labels[labels != ""]).value_counts(normalize=True)
        else:
            got = synthetic[column].value_counts(normalize=True)
        for category, share in shares.items():
            # a band holds min_count rows by construction; a category is counted
            held = (
                min_count
                if column in fair.bands
                else int((train[column] == category).fillna(False).sum())
            )
            out["rebalance"].append(
                {
                    "column": column,
                    "category": str(category) if held >= min_count else _RARE_CATEGORY,
                    "asked share": round(share, 4),
                    "synthetic share": round(float(got.get(category, 0.0)), 4),
                }
            )
    if fair.parity_column is not None:
        hit = synthetic[fair.target] == fair.positive
        bands = fair.bands.get(fair.parity_column)
        real = pd.Series(group_labels(train, fair.parity_column, bands)).value_counts()
        named = {g for g, n in real.items() if g != "" and n >= min_count}
        groups = group_labels(synthetic, fair.parity_column, bands)
        shown = np.isin(groups, list(named))
        rates = hit[shown].groupby(groups[shown]).mean()
        out["parity"] = {
            "column": fair.parity_column,
            "target": fair.target,
            "positive": outcome_name(train[fair.target], fair.positive, min_count=min_count),
            "asked rate": round(fair.rate or 0.0, 4),
            "rates": {str(k): round(float(v), 4) for k, v in rates.items()},
            # the gap is judged over the named groups: a rare group's few rows are noise
            "gap": round(float(rates.max() - rates.min()), 4) if len(rates) else 0.0,
            "rare groups (not named)": len(set(groups[groups != ""]) - named),
        }
    return out
