"""Downstream fairness: is a model trained on synthetic rows less fair than one trained on real rows,
beyond the noise of the holdout both are scored on?

The same gradient-boosting model is trained on the synthetic rows and on as many real training rows
(a seeded subsample when there are more, so neither gets the advantage of more data), and each
predicts the holdout once. Per sensitive column (a numerical one in its bands) it reports fairlearn's
demographic parity difference (the spread of the positive-prediction rate across groups) and
equalized odds difference (the larger spread of the true- and false-positive rates). Only groups
with `min_count` holdout rows count, and a true- or false-positive rate only where it rests on
`min_count` positive or negative rows: a rate over five rows is noise, and the spread across
groups, a maximum, grows with noise.

Judged like every other check, beyond sampling noise: a paired bootstrap over the holdout rows (the
same resample scores both models) gives the distribution of (synthetic - real); the check fails when
its lower confidence bound, at `significance`, exceeds `max_fairness_increase`. Every measure
depends only on the counts of (group, truth, real prediction, synthetic prediction), so resampling
rows is drawing those counts from one multinomial: a thousand resamples cost milliseconds whatever
the holdout's size.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import BiasChecks
from synth.bands import Bands, group_labels
from validation import noise
from validation.utility import Booster, xy

__all__ = ["RESAMPLES", "downstream", "group_gaps"]

RESAMPLES = 1000
MEASURES = ("demographic_parity_difference", "equalized_odds_difference")


def downstream(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    grouping: dict[str, Bands | None],
    target: str,
    positive: Any,
    settings: BiasChecks,
    *,
    positive_name: str,
) -> tuple[dict[str, Any], list[str]]:
    """The chart (aggregates over groups of `min_count` holdout rows) and the reasons to fail.
    `grouping` maps each judged sensitive column to its bands (None: grouped by value);
    `positive_name` is how the chart may name the positive class (synth.fairness.outcome_name)."""
    test_x, test_y = xy(holdout, contract, target, regression=False)
    known = holdout[target].notna().to_numpy()
    truth = test_y == str(positive)
    rows = min(len(train), len(synthetic))
    real = train.sample(n=rows, random_state=0) if rows < len(train) else train
    predicted = {}
    for name, frame in (("real", real), ("synthetic", synthetic)):
        x, y = xy(frame, contract, target, regression=False)
        if len(np.unique(y)) < 2:
            return {"skipped": f"the {name} target has one class only"}, []
        model = Booster(regression=False)  # the utility check's model: any category count
        predicted[name] = model.fit(x, y).predict(test_x) == str(positive)
    chart: dict[str, Any] = {
        "target": target,
        "positive": positive_name,
        "real training rows": len(real),
        "resamples": RESAMPLES,
        "columns": [],
    }
    reasons: list[str] = []
    for column, bands in grouping.items():
        groups = group_labels(holdout, column, bands)[known]
        # seeded by the column's name: its resamples don't change with the other columns
        row = _column(column, groups, truth, predicted, settings, seed=zlib.crc32(column.encode()))
        if row is None:
            continue
        chart["columns"].append(row)
        for measure in MEASURES:
            lower = row.get(f"{measure} increase lower bound")
            limit = settings.max_fairness_increase
            if lower is not None and min(lower, row[f"{measure} increase"]) > limit:
                reasons.append(
                    f"a model trained on synthetic rows is less fair by {column!r}: "
                    f"{measure.replace('_', ' ')} {row[f'{measure} synthetic']:.3f} against "
                    f"{row[f'{measure} real']:.3f} when trained on real rows (at least "
                    f"{lower:.3f} worse at significance {settings.significance}, more than "
                    f"{settings.max_fairness_increase} allowed)"
                )
    return chart, reasons


def _column(
    column: str,
    groups: np.ndarray,
    truth: np.ndarray,
    predicted: dict[str, np.ndarray],
    settings: BiasChecks,
    *,
    seed: int,
) -> dict[str, Any] | None:
    """Point gaps of both models, and the bootstrap lower bound of their difference."""
    names, sizes = np.unique(groups[groups != ""], return_counts=True)
    names = names[sizes >= settings.min_count]
    if len(names) < 2:
        return None
    code = np.full(len(groups), len(names))  # the last index collects every other row
    for g, name in enumerate(names):
        code[groups == name] = g
    cell = ((code * 2 + truth) * 2 + predicted["real"]) * 2 + predicted["synthetic"]
    counts = np.bincount(cell.astype(np.int64), minlength=(len(names) + 1) * 8).astype(float)
    rng = np.random.default_rng([seed, len(groups)])
    resampled = rng.multinomial(len(groups), counts / counts.sum(), size=RESAMPLES)
    full = counts.reshape(len(names) + 1, 2, 2, 2)[:-1]
    boot = resampled.reshape(RESAMPLES, len(names) + 1, 2, 2, 2)[:, :-1]
    positives, negatives = full[:, 1].sum(axis=(1, 2)), full[:, 0].sum(axis=(1, 2))
    usable = (positives >= settings.min_count, negatives >= settings.min_count)
    row: dict[str, Any] = {"column": column, "groups": len(names)}
    gaps: dict[str, dict[str, Any]] = {}
    for name, axis in (("real", -1), ("synthetic", -2)):  # sum out the other model's prediction
        point = _gaps(full.sum(axis=axis), usable)
        gaps[name] = {"point": point, "boot": _gaps(boot.sum(axis=axis), usable)}
        for measure, value in zip(MEASURES, point, strict=True):
            row[f"{measure} {name}"] = None if np.isnan(value) else round(float(value), 4)
        table = full.sum(axis=axis)
        accuracy = (table[:, 0, 0] + table[:, 1, 1]) / table.sum(axis=(1, 2))
        row[f"accuracy by group {name}"] = {
            str(k): round(float(v), 4) for k, v in zip(names, accuracy, strict=True)
        }
    for k, measure in enumerate(MEASURES):
        increase = gaps["synthetic"]["point"][k] - gaps["real"]["point"][k]
        spread = gaps["synthetic"]["boot"][k] - gaps["real"]["boot"][k]
        if np.isnan(increase):
            continue
        row[f"{measure} increase"] = round(float(increase), 4)
        lower = noise.lower_quantile(spread, settings.significance)
        row[f"{measure} increase lower bound"] = round(lower, 4)
    return row


def _gaps(table: np.ndarray, usable: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Demographic parity and equalized odds differences from counts shaped (..., group, truth,
    prediction); `usable` says which groups' true- and false-positive rates count."""
    with np.errstate(invalid="ignore", divide="ignore"):
        selection = table[..., 1].sum(axis=-1) / table.sum(axis=(-2, -1))
        rates = table[..., 1] / table.sum(axis=-1)  # (..., group, truth): FPR at 0, TPR at 1
    parity = _spread(selection, np.ones(selection.shape[-1], dtype=bool))
    tpr, fpr = _spread(rates[..., 1], usable[0]), _spread(rates[..., 0], usable[1])
    odds = np.fmax(tpr, fpr)  # NaN only when neither rate has two usable groups
    return np.stack([parity, odds])


def _spread(rates: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """max - min over the usable groups; NaN with fewer than two."""
    if usable.sum() < 2:
        return np.full(rates.shape[:-1], np.nan)
    chosen = rates[..., usable]
    return np.nanmax(chosen, axis=-1) - np.nanmin(chosen, axis=-1)


def group_gaps(
    truth: np.ndarray, predicted: np.ndarray, groups: np.ndarray, *, min_count: int
) -> tuple[float, float]:
    """(demographic parity difference, equalized odds difference) of one model's predictions over
    the groups of `min_count` rows: fairlearn's measures, computed from counts."""
    names, sizes = np.unique(groups, return_counts=True)
    names = names[sizes >= min_count]
    table = np.zeros((len(names), 2, 2))
    for g, name in enumerate(names):
        inside = groups == name
        np.add.at(table[g], (truth[inside].astype(int), predicted[inside].astype(int)), 1)
    usable = (table[:, 1].sum(axis=1) >= min_count, table[:, 0].sum(axis=1) >= min_count)
    parity, odds = _gaps(table, usable)
    return float(parity), float(odds)
