"""Bands: how a numerical or datetime column forms groups, a range at a time, never one value.

A sensitive `age` judged value by value makes dozens of tiny groups whose rates are noise, and
names exact real values. So such a column is cut into a handful of bands: the edges declared on
its spec (`bands: [25, 45, 65]`), else edges near its quantiles such that every band holds at least
`min_count` rows. A quantile edge is never a real value taken as is: it is the roundest number
(fewest significant digits, or the coarsest calendar unit) in the gap between two neighbouring
distinct real values, and the outer bands are open ("< 25", ">= 65"), so no label names the
smallest or largest value, or any rare one.

A `Band` is also what a sample plan conditions on (rebalance and parity by band): the sampler keeps
the engine's rows that fall in it (synth.sampling), so no real value becomes a condition.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract
from schemas.spec import ColumnType

__all__ = ["MAX_BANDS", "Band", "Bands", "bands_for", "group_labels"]

MAX_BANDS = 5  # enough to see a trend across the range, few enough that each band is well filled


@dataclass(frozen=True)
class Band:
    """Values in [low, high); None is open. Edges are floats (datetimes: seconds since epoch)."""

    low: float | None
    high: float | None
    label: str
    datetime: bool = False

    def contains(self, values: pd.Series) -> np.ndarray:
        x = _numbers(values, self.datetime)
        inside = ~np.isnan(x)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x < self.high
        return inside

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Bands:
    """The bands of one column, in order; together they cover every known value."""

    edges: tuple[float, ...]
    datetime: bool = False

    @property
    def bands(self) -> tuple[Band, ...]:
        bounds = [None, *self.edges, None]
        return tuple(
            Band(low, high, _label(low, high, self.datetime), self.datetime)
            for low, high in itertools.pairwise(bounds)
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(b.label for b in self.bands)

    def __getitem__(self, label: str) -> Band:
        for band in self.bands:
            if band.label == label:
                return band
        raise KeyError(label)

    def label(self, values: pd.Series) -> np.ndarray:
        """Each value's band label; "" where the value is missing."""
        x = _numbers(values, self.datetime)
        index = np.searchsorted(np.asarray(self.edges, dtype="float64"), x, side="right")
        out = np.asarray(self.labels, dtype=object)[np.minimum(index, len(self.edges))]
        out[np.isnan(x)] = ""
        return out


def bands_for(
    column: ColumnContract, values: pd.Series, *, min_count: int, most: int = MAX_BANDS
) -> Bands | None:
    """The column's bands: declared, else near its quantiles. None for a column grouped by value
    (categorical, boolean) and for one too small for two bands of `min_count` rows."""
    kind = column.type
    if kind not in (ColumnType.numerical, ColumnType.datetime):
        return None
    is_datetime = kind is ColumnType.datetime
    declared = column.spec.bands
    if declared:
        edges = [_seconds(pd.Timestamp(e)) if is_datetime else float(e) for e in declared]
        return Bands(tuple(edges), is_datetime)
    edges = _quantile_edges(_numbers(values, is_datetime), min_count, most, is_datetime)
    return Bands(tuple(edges), is_datetime) if edges else None


def group_labels(frame: pd.DataFrame, column: str, bands: Bands | None) -> np.ndarray:
    """One label per row: the value itself for a categorical column, the band for a banded one;
    "" where missing."""
    if bands is not None:
        return bands.label(frame[column])
    return frame[column].astype("string").fillna("").to_numpy(dtype=object)


def _quantile_edges(x: np.ndarray, min_count: int, most: int, is_datetime: bool) -> list[float]:
    """Edges near the i/k quantiles: the roundest number whose cut lands within a window of rows
    around each quantile, then merged until every band holds `min_count` rows."""
    x = np.sort(x[~np.isnan(x)])
    n = len(x)
    k = min(most, n // max(min_count, 1))
    if k < 2:
        return []
    window = n // (4 * k)  # half the rows between two quantiles: windows never overlap
    nice = _nice_datetime if is_datetime else _nice_number
    edges = set()
    for i in range(1, k):
        rank = i * n // k
        low, high = x[max(rank - window - 1, 0)], x[min(rank + window, n - 1)]
        if low == high:  # a point mass covers the window: cut just below or above it
            below, above = np.searchsorted(x, low, "left"), np.searchsorted(x, low, "right")
            if above < n and (below == 0 or above - rank <= rank - below):
                low, high = x[above - 1], x[above]
            elif below > 0:
                low, high = x[below - 1], x[below]
            else:
                continue  # one value only
        edges.add(nice(float(low), float(high), float(x[rank])))
    ordered = sorted(edges)
    while ordered:
        sizes = np.diff([0, *np.searchsorted(x, ordered, "left"), n])
        smallest = int(np.argmin(sizes))
        if sizes[smallest] >= min_count:
            break
        # merge the smallest band into its smaller neighbour by dropping the edge between them
        if smallest == 0:
            ordered.pop(0)
        elif smallest == len(ordered):
            ordered.pop()
        else:
            ordered.pop(smallest - 1 if sizes[smallest - 1] <= sizes[smallest + 1] else smallest)
    return ordered


def _nice_number(low: float, high: float, near: float) -> float:
    """The number in (low, high] with the fewest significant digits (steps 1, 2, 5 times a power
    of ten), the one nearest `near` among equals."""
    scale = max(abs(low), abs(high), high - low)
    power = math.floor(math.log10(scale)) + 1 if scale > 0 else 0
    for p in range(power, power - 18, -1):
        for step in (10.0**p, 5 * 10.0 ** (p - 1), 2 * 10.0 ** (p - 1)):
            first, last = math.floor(low / step) + 1, math.floor(high / step)
            if first <= last:
                best = min(max(round(near / step), first), last)
                return float(round(best * step, 12))
    return high


def _nice_datetime(low: float, high: float, near: float) -> float:
    """The start of the coarsest calendar unit (year, month, day, hour, ...) in (low, high], the
    one nearest `near`."""
    start, end = pd.Timestamp(low, unit="s"), pd.Timestamp(high, unit="s")
    for freq in ("YS", "MS", "D", "h", "min", "s"):
        # the first boundary strictly after `start`, then every one up to `end` (a coarser unit
        # found none, so there are few)
        first = pd.Timestamp(start).floor("D") if freq in ("YS", "MS") else start.floor(freq)
        marks = pd.date_range(first, end, freq=freq)
        marks = marks[(marks > start) & (marks <= end)]
        if len(marks):
            seconds = np.array([_seconds(m) for m in marks])
            return float(seconds[np.argmin(np.abs(seconds - near))])
    return high


def _label(low: float | None, high: float | None, is_datetime: bool) -> str:
    show = _show_datetime if is_datetime else _show_number
    if low is None and high is None:
        return "all"
    if low is None:
        return f"< {show(high)}"
    if high is None:
        return f">= {show(low)}"
    return f"[{show(low)}, {show(high)})"


def _show_number(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:.12g}"


def _show_datetime(x: float | None) -> str:
    stamp = pd.Timestamp(x, unit="s")
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def _numbers(values: pd.Series | Sequence[Any], is_datetime: bool) -> np.ndarray:
    """Values as floats (datetimes: seconds since epoch); NaN where missing."""
    series = pd.Series(values)
    if is_datetime:
        stamps = pd.to_datetime(series, errors="coerce")
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert(None)
        out = stamps.astype("datetime64[ns]").to_numpy().astype("int64") / 1e9
        return np.where(stamps.isna().to_numpy(), np.nan, out)
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def _seconds(stamp: pd.Timestamp) -> float:
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return stamp.as_unit("ns").value / 1e9
