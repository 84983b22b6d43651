"""Fairer generation: turn `sample.rebalance` and `sample.parity` into conditioned cells.

The unconditioned rows are split into cells of the joint table of the columns involved (the
rebalanced columns, the parity group column and the target). The cell shares start from the real
joint counts and are raked (iterative proportional fitting) until every rebalanced column has its
target shares and, with parity, every group has the same positive rate; raking changes the real
table as little as it must, so associations between the columns (sex x race, say) survive. Each
cell is then sampled with the engine's conditional sampling: no rows are generated to be thrown
away, and the shares land exactly (up to rounding one row).

A numerical or datetime column takes part by its bands (synth.bands): shares are keyed by band
label, and a cell conditions on a `Band`, which the sampler meets by keeping the engine's rows
inside it; no real value of the column ever becomes a condition.

`plan_weights` turns any sample plan (these cells, explicit conditions, unconditioned rows) into
weights on the real rows, so the bias check can say what share and outcome rate each group should
have if the engine reproduces the real conditionals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError
from schemas.spec import Role, SampleSpec
from synth.bands import Band, Bands, bands_for

__all__ = ["RARE_CLASS", "FairPlan", "fair_cells", "outcome_name", "plan_weights", "positive_class"]

_SWEEPS = 500
# how a class held by fewer than min_count real rows is named: never by its value
RARE_CLASS = "(a rare class)"


@dataclass(frozen=True)
class FairPlan:
    """What the fairness part of a sample plan asks for, typed like the columns."""

    shares: dict[str, dict[Any, float]]  # rebalanced column -> category -> share
    parity_column: str | None = None
    target: str | None = None
    positive: Any = None
    rate: float | None = None
    bands: dict[str, Bands] = field(default_factory=dict)  # the banded columns' bands
    positive_name: str = RARE_CLASS  # how reports name `positive` (see `outcome_name`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rebalance": {c: {str(k): v for k, v in s.items()} for c, s in self.shares.items()},
            "parity": None
            if self.parity_column is None
            else {
                "column": self.parity_column,
                "target": self.target,
                "positive": self.positive_name,
                "rate": round(self.rate or 0.0, 6),
            },
        }


def positive_class(values: pd.Series, given: Any = None, *, min_count: int = 1) -> Any:
    """The favourable outcome: `given` (matched to a real class), else the rarest class held by
    at least `min_count` rows (the rarest of all when none is).

    The minority class of a binary target is the one a fairness question is about, unless it is
    too rare to name: then the other class is taken. For two classes that changes no rate gap (the
    rates are complements), only which class the reports may name; for more classes a rate of a
    class held by a handful of rows would be noise, and would point at those rows' groups."""
    counts = values.dropna().value_counts()
    if given is not None:
        for category in counts.index:
            if str(category).lower() == str(given).lower():
                return category
        raise SpecError(f"the positive outcome {given!r} never occurs in the target")
    common = counts[counts >= min_count]
    return (common if len(common) else counts).index[-1]


def outcome_name(values: pd.Series, positive: Any, *, min_count: int) -> str:
    """How metrics, reasons and reports name the positive class: itself when at least `min_count`
    real rows hold it, else `RARE_CLASS` (report.min_count: a rarer value is never named)."""
    held = int((values == positive).fillna(False).sum())
    return str(positive) if held >= min_count else RARE_CLASS


def fair_cells(
    plan: SampleSpec, train: pd.DataFrame, contract: Contract, rows: int, *, min_count: int = 30
) -> tuple[list[tuple[int, dict[str, Any]]], FairPlan]:
    """The `rows` unconditioned rows as (rows, conditions) cells meeting rebalance and parity.
    A numerical or datetime column's cells are its bands (quantile bands hold `min_count` rows)."""
    grouped = [r.column for r in plan.rebalance]
    grouped += [plan.parity.column] if plan.parity is not None else []
    bands = {c: _bands(contract, train, c, min_count) for c in grouped}
    bands = {c: b for c, b in bands.items() if b is not None}
    shares = {
        r.column: _typed_shares(r.shares, contract, r.column, i, bands.get(r.column))
        for i, r in enumerate(plan.rebalance)
    }
    parity = plan.parity
    fair = FairPlan(shares, bands=bands)
    columns = list(shares)
    if parity is not None:
        target = parity.target or contract.with_role(Role.target)[0]
        positive = positive_class(train[target], parity.positive, min_count=min_count)
        real = train[target].dropna()
        rate = parity.rate if parity.rate is not None else float((real == positive).mean())
        name = outcome_name(train[target], positive, min_count=min_count)
        fair = FairPlan(shares, parity.column, target, positive, rate, bands, name)
        columns += [c for c in (parity.column, target) if c not in columns]
    # a banded column takes part by its band labels ("" where missing, like a missing value)
    table = pd.DataFrame(
        {c: _band_or_missing(bands[c], train[c]) if c in bands else train[c] for c in columns}
    )
    known = table.dropna()
    levels = [sorted(known[c].unique(), key=str) for c in columns]
    index = pd.MultiIndex.from_product(levels, names=columns)
    counts = known.value_counts().reindex(index, fill_value=0).to_numpy(dtype="float64")
    raked = _rake(counts.reshape([len(v) for v in levels]), columns, levels, fair)
    allotted = _allot(raked.ravel(), rows)
    cells = [
        (int(n), {c: bands[c][v] if c in bands else v for c, v in zip(columns, key, strict=True)})
        for n, key in zip(allotted, index, strict=True)
        if n > 0
    ]
    return cells, fair


def _band_or_missing(bands: Bands, values: pd.Series) -> pd.Series:
    labels = bands.label(values)
    return pd.Series(np.where(labels == "", None, labels), index=values.index, dtype=object)


def _bands(contract: Contract, train: pd.DataFrame, column: str, min_count: int) -> Bands | None:
    if contract[column].categories is not None:
        return None  # categorical or boolean: grouped by value
    bands = bands_for(contract[column], train[column], min_count=min_count)
    if bands is None:
        raise SpecError(
            f"sample: column {column!r} has too few rows for two bands of {min_count}; "
            "declare its bands"
        )
    return bands


def _typed_shares(
    shares: Mapping[str, float],
    contract: Contract,
    column: str,
    i: int,
    bands: Bands | None = None,
) -> dict[Any, float]:
    if bands is not None:
        by_text = {"".join(label.split()): label for label in bands.labels}  # spaces don't count
        typed_bands = {}
        for name, share in shares.items():
            label = by_text.get("".join(str(name).split()))
            if label is None:
                raise SpecError(
                    f"sample.rebalance[{i}].shares: {name!r} is not a band of column {column!r}; "
                    f"its bands are {', '.join(repr(b) for b in bands.labels)}"
                )
            typed_bands[label] = share
        return typed_bands
    categories = contract[column].categories or ()
    fold = str.lower if contract[column].physical == "bool" else str
    typed = {}
    for name, share in shares.items():
        match = [c for c in categories if fold(str(c)) == fold(str(name))]
        if not match:
            raise SpecError(
                f"sample.rebalance[{i}].shares: {name!r} never occurs in column {column!r}"
            )
        typed[match[0]] = share
    return typed


def _rake(
    table: np.ndarray, columns: list[str], levels: list[list[Any]], fair: FairPlan
) -> np.ndarray:
    """Iterative proportional fitting of the real joint table to the plan's margins."""
    table = table / table.sum()
    for _ in range(_SWEEPS):
        worst = 0.0
        for column, shares in fair.shares.items():
            axis = columns.index(column)
            want = np.array([shares.get(v, 0.0) for v in levels[axis]])
            have = table.sum(axis=tuple(a for a in range(table.ndim) if a != axis))
            if np.any((have == 0) & (want > 0)):
                missing = [
                    str(v) for v, h, w in zip(levels[axis], have, want, strict=True) if w and not h
                ]
                raise SpecError(f"sample.rebalance: {column!r} has no real rows for {missing}")
            worst = max(worst, float(np.abs(have - want).max()))
            table = table * _along(
                np.divide(want, have, out=np.zeros_like(want), where=have > 0), axis, table.ndim
            )
        if fair.parity_column is not None:
            g, y = columns.index(fair.parity_column), columns.index(fair.target)
            positive = np.array([v == fair.positive for v in levels[y]])
            rest = tuple(a for a in range(table.ndim) if a not in (g, y))
            joint = table.sum(axis=rest, keepdims=True)  # group x target, broadcastable
            group = joint.sum(axis=y, keepdims=True)
            hit = np.take(joint, np.flatnonzero(positive), axis=y).sum(axis=y, keepdims=True)
            rate = np.divide(hit, group, out=np.zeros_like(hit), where=group > 0)
            worst = max(worst, float(np.abs(rate[group > 0] - fair.rate).max()))
            scale_pos = np.divide(fair.rate, rate, out=np.zeros_like(rate), where=rate > 0)
            scale_neg = np.divide(1 - fair.rate, 1 - rate, out=np.zeros_like(rate), where=rate < 1)
            table = table * np.where(_along(positive, y, table.ndim), scale_pos, scale_neg)
            table = table / table.sum()
        if worst < 1e-10:
            break
    return table


def _along(vector: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = len(vector)
    return np.asarray(vector).reshape(shape)


def _allot(shares: np.ndarray, rows: int) -> np.ndarray:
    """Whole rows per cell summing to `rows`: largest remainders, ties to the first cell."""
    exact = shares / shares.sum() * rows
    whole = np.floor(exact).astype(np.int64)
    short = rows - int(whole.sum())
    order = np.argsort(-(exact - whole), kind="stable")
    whole[order[:short]] += 1
    return whole


def plan_weights(groups: Sequence[tuple[int, Mapping[str, Any]]], real: pd.DataFrame) -> np.ndarray:
    """Weights on the real rows such that the weighted real table is what the plan asks the engine
    for: each group of `rows` spreads them evenly over the real rows meeting its conditions (a
    `Band` condition: the rows inside it)."""
    weights = np.zeros(len(real))
    for rows, conditions in groups:
        if rows <= 0:
            continue
        match = np.ones(len(real), dtype=bool)
        for column, value in conditions.items():
            if isinstance(value, Band):
                match &= value.contains(real[column])
            else:
                match &= (real[column] == value).fillna(False).to_numpy(dtype=bool)
        if match.any():
            weights[match] += rows / match.sum()
    return weights
