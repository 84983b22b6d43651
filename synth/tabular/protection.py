"""Value protection: rare values never leave (as MOSTLY AI's does). Applied once to the training rows
before any engine fits, so no engine, stored model or output ever holds such a value.

- A category (categorical and boolean columns) held by fewer than `min_count` training rows is
  replaced, row by row, by the category of a randomly drawn row whose category is common. The rare
  mass goes to the common categories in proportion, and the output's categories stay a subset of
  the real ones, so category expectations and the declared value sets still hold.
- A `fixed_combinations` group is protected as one value: a combination held by fewer rows is
  replaced, all its columns at once, by a common combination (so every combination stays real).
- A number or datetime column with few distinct values (which engines may keep exactly: our
  codec's `exact`: at most `exact_cap` values, averaging 40 rows or more each) is a set of
  categories: a value held by fewer than k rows, an extreme or not, moves to the nearest value
  held by k or more, so every value left is k rows' value.
- Other number and datetime columns are clipped to [the k-th smallest, the k-th largest]
  training value: at least k real rows lie at or beyond each extreme left.
- Declared min/max still hold (every value left is a real one).
- Missing values are left alone.

What leaves the process is counts per column (`Protection.report`); the rare values themselves are
kept in memory only, to refuse a sample plan that names one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract, combination_keys
from schemas.errors import SpecError
from schemas.spec import ColumnType, Role, SampleSpec
from synth.tabular.autoregressive.codecs import exact, exact_cap

__all__ = ["DISCRETE_UP_TO", "Protection", "protect_values"]

# The autoregressive codec keeps numbers with at most this many distinct values exactly (its
# `exact_up_to` default; whole numbers `codecs.exact_cap` times more) when they average 40 rows or
# more each (`codecs.exact`): such columns are protected like categories.
DISCRETE_UP_TO = 128


@dataclass(frozen=True)
class Protection:
    """The protected training rows and what was done to them."""

    train: pd.DataFrame
    min_count: int
    enabled: bool = True
    rows_changed: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> counts, aggregates
    # columns -> their rare values (or combinations) as text keys; in memory only, never reported
    rare: dict[tuple[str, ...], frozenset[str]] = field(default_factory=dict)
    booleans: frozenset[str] = frozenset()  # boolean columns: the spec's `True` meets True

    def report(self) -> dict[str, Any]:
        """Aggregates only: how many values were protected and rows changed, how many numbers
        were clipped on each side, per column. Never a value or a category name."""
        if not self.enabled:
            return {"enabled": False}
        totals = {
            key: sum(c.get(key, 0) for c in self.counts.values())
            for key in ("protected_values", "clipped_low", "clipped_high")
        }
        return {
            "enabled": True,
            "min_count": self.min_count,
            "rows_changed": self.rows_changed,
            **totals,
            "columns": self.counts,
        }

    def check_plan(self, plan: SampleSpec, contract: Contract) -> None:
        """Refuse a plan (conditions typed like the columns) that asks for a protected value: it is
        never emitted, so the plan could not be met. The error names the column, never the value."""
        why = (
            f"names a value held by fewer than {self.min_count} training rows, which value "
            "protection never emits (model.value_protection)"
        )
        for i, condition in enumerate(plan.conditions):
            for columns, rare in self.rare.items():
                named = all(c in condition.values for c in columns)
                if named and _key(*(condition.values[c] for c in columns)) in rare:
                    raise SpecError(f"sample.conditions[{i}]: {_names(columns)} {why}")
        for i, rebalance in enumerate(plan.rebalance):
            asked = {name for name, share in rebalance.shares.items() if share > 0}
            if self._names_rare(rebalance.column, asked, fold=rebalance.column in self.booleans):
                raise SpecError(f"sample.rebalance[{i}].shares: column {rebalance.column!r} {why}")
        parity = plan.parity
        if parity is not None and parity.positive is not None:
            target = parity.target or contract.with_role(Role.target)[0]
            if self._names_rare(target, {str(parity.positive)}, fold=True):  # matched as text
                raise SpecError(f"sample.parity.positive: column {target!r} {why}")

    def _names_rare(self, column: str, asked: set[str], *, fold: bool) -> bool:
        rare = self.rare.get((column,), frozenset())
        if fold:
            return bool({a.lower() for a in asked} & {r.lower() for r in rare})
        return bool(asked & rare)


def _key(*values: Any) -> str:
    """A value or combination as text, as `combination_keys` writes it."""
    return "\x1f".join(
        "<NA>" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in values
    )


def _names(columns: tuple[str, ...]) -> str:
    return ("column " if len(columns) == 1 else "columns ") + ", ".join(map(repr, columns))


def protect_values(
    train: pd.DataFrame,
    contract: Contract,
    *,
    min_count: int = 5,
    seed: int = 0,
    enabled: bool = True,
    discrete_up_to: int = DISCRETE_UP_TO,
) -> Protection:
    """The training rows with rare values replaced (see the module doc). Deterministic in `seed`."""
    if not enabled:
        return Protection(train, min_count, enabled=False)
    out = train.copy()
    changed = np.zeros(len(train), dtype=bool)
    counts: dict[str, dict[str, int]] = {}
    rare: dict[tuple[str, ...], frozenset[str]] = {}
    groups = [tuple(r.columns) for r in contract.constraints if r.kind == "fixed_combinations"]
    grouped = {c for g in groups for c in g}
    for index, columns in enumerate(groups):
        rng = np.random.default_rng([seed % 2**63, index])
        mask, rare[columns] = _redraw_combinations(out, list(columns), min_count, rng)
        counts[", ".join(columns)] = _tally(len(rare[columns]), mask)
        for name in columns:  # a value left in no common combination is never emitted either
            kept = set(map(_key, out[name].dropna().unique()))
            rare[(name,)] = frozenset(set(map(_key, train[name].dropna().unique())) - kept)
        changed |= mask
    for index, column in enumerate(contract.modelled, start=len(groups)):
        if column.name in grouped or column.name not in out:
            continue
        if column.type in (ColumnType.categorical, ColumnType.boolean):
            rng = np.random.default_rng([seed % 2**63, index])
            mask, rare[(column.name,)] = _redraw_categories(out, column, min_count, rng)
            counts[column.name] = _tally(len(rare[(column.name,)]), mask)
        elif column.type in (ColumnType.numerical, ColumnType.datetime):
            mask, counts[column.name] = _protect_numbers(out, column, min_count, discrete_up_to)
        else:
            continue
        changed |= mask
    counts = {name: tally for name, tally in counts.items() if tally["rows_changed"]}
    booleans = frozenset(c.name for c in contract.modelled if c.type is ColumnType.boolean)
    return Protection(out, min_count, True, int(changed.sum()), counts, rare, booleans)


def _tally(
    protected: int, mask: np.ndarray, low: np.ndarray | None = None, high: np.ndarray | None = None
) -> dict[str, int]:
    """One column's counts, the same keys for every column (the report tabulates them)."""
    return {
        "protected_values": protected,
        "clipped_low": 0 if low is None else int(low.sum()),
        "clipped_high": 0 if high is None else int(high.sum()),
        "rows_changed": int(mask.sum()),
    }


def _copy_rows(values: pd.Series, mask: np.ndarray, sources: np.ndarray) -> pd.Series:
    """`values` with the masked rows set to the values at `sources` (positions), dtype kept."""
    array = values.array.copy()
    array[mask] = values.array.take(sources)
    return pd.Series(array, index=values.index, name=values.name)


def _redraw(
    keys: pd.Series, min_count: int, rng: np.random.Generator, what: str
) -> tuple[np.ndarray, np.ndarray, frozenset[str]]:
    """Rows whose key is rare, and for each a random row (position) whose key is common: drawing
    a row gives the common keys in proportion to their counts."""
    present = keys.notna().to_numpy()
    counts = keys[present].value_counts()
    rare_keys = counts.index[counts < min_count]
    mask = keys.isin(rare_keys).to_numpy() & present
    if not mask.any():
        return mask, np.empty(0, dtype=np.int64), frozenset()
    common = np.flatnonzero(present & ~mask)
    if not len(common):
        raise SpecError(
            f"model.value_protection: {what} has no value held by {min_count} or more training "
            "rows (an identifier? declare it id or pii, or lower model.value_protection.min_count)"
        )
    return mask, rng.choice(common, size=int(mask.sum())), frozenset(map(_key, rare_keys))


def _redraw_categories(
    out: pd.DataFrame, column: ColumnContract, min_count: int, rng: np.random.Generator
) -> tuple[np.ndarray, frozenset[str]]:
    values = out[column.name]
    mask, sources, found = _redraw(values, min_count, rng, f"column {column.name!r}")
    if mask.any():
        out[column.name] = _copy_rows(values, mask, sources)
    return mask, found


def _redraw_combinations(
    out: pd.DataFrame, columns: list[str], min_count: int, rng: np.random.Generator
) -> tuple[np.ndarray, frozenset[str]]:
    keys = combination_keys(out, columns)
    what = f"the fixed combination of {', '.join(repr(c) for c in columns)}"
    mask, sources, found = _redraw(keys, min_count, rng, what)
    for name in columns if mask.any() else ():
        out[name] = _copy_rows(out[name], mask, sources)
    return mask, found


def _numbers(values: pd.Series, is_time: bool) -> np.ndarray:
    """Floats in the column's order (datetimes as nanoseconds), NaN where missing."""
    if is_time:
        stamps = values.to_numpy(dtype="datetime64[ns]")
        numbers = stamps.view("int64").astype("float64")
        numbers[np.isnat(stamps)] = np.nan
        return numbers
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _protect_numbers(
    out: pd.DataFrame, column: ColumnContract, min_count: int, discrete_up_to: int
) -> tuple[np.ndarray, dict[str, int]]:
    """A column with few distinct values: every value held by fewer than k rows (extremes too)
    moves to the nearest value held by k or more. Other columns: clipped to the k-th smallest and
    largest value."""
    values = out[column.name]
    numbers = _numbers(values, column.type is ColumnType.datetime)
    present = np.flatnonzero(~np.isnan(numbers))
    if not len(present):
        return np.zeros(len(numbers), dtype=bool), _tally(0, np.zeros(0, dtype=bool))
    sources = np.arange(len(numbers))
    distinct, first, held = np.unique(numbers[present], return_index=True, return_counts=True)
    common = held >= min_count
    if exact(len(distinct), len(present), exact_cap(column, discrete_up_to)) and common.any():
        anchors, anchor_rows = distinct[common], present[first[common]]
        mask = ~np.isnan(numbers) & ~np.isin(numbers, anchors)
        sources[mask] = anchor_rows[_nearest(anchors, numbers[mask])]
        below, above = mask & (numbers < anchors[0]), mask & (numbers > anchors[-1])
        protected = int((~common).sum())
    else:
        order = present[np.argsort(numbers[present], kind="stable")]
        k = min(min_count, len(order))
        low_at, high_at = order[k - 1], order[len(order) - k]
        if numbers[low_at] > numbers[high_at]:  # fewer than 2k values: all meet in the middle
            low_at = high_at = order[(len(order) - 1) // 2]
        below, above = numbers < numbers[low_at], numbers > numbers[high_at]
        sources[below], sources[above] = low_at, high_at
        mask, protected = below | above, 0
    if mask.any():
        out[column.name] = _copy_rows(values, mask, sources[mask])
    return mask, _tally(protected, mask, below, above)


def _nearest(anchors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest anchor (sorted ascending) for each value; ties go to the lower one."""
    if len(anchors) == 1:
        return np.zeros(len(values), dtype=np.int64)
    upper = np.clip(np.searchsorted(anchors, values), 1, len(anchors) - 1)
    lower = upper - 1
    return np.where(values - anchors[lower] <= anchors[upper] - values, lower, upper)
