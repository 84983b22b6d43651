"""Linked tables flattened into one token table per model.

Each table gets its *own* columns, the ones its model predicts:
- its modelled columns, except those constant within every parent (they move up, below) and,
  for an event table, its `order_by` column, modelled as `__start__` (the first event's value)
  and `__gap__` (the time since the previous event), both missing where they do not apply;
- per child table, `__count__.<child>`: how many child rows each of its rows has;
- per child table, `__const__.<child>.<column>`: the child's columns that never change within
  one parent in training, modelled once per parent and broadcast to its children, so a
  generated parent's children agree on them by construction.

A child row's model sees, always given, the own tokens of every table above it (root first),
and, for event tables, its position under the parent and the previous event's own tokens. The
`Layout` is what sampling needs of this (JSON, saved with the model); `Flat` is the training
side: own frames in a canonical row order (events sorted by parent, then `order_by`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.relations import Relations, TableLink
from schemas.spec import ColumnSpec, ColumnType
from synth.linked.protect import constant_within_parents

__all__ = [
    "CONST",
    "COUNT",
    "DELTA",
    "GAP",
    "START",
    "Flat",
    "Layout",
    "flatten",
    "order_numbers",
    "order_values",
    "plan_layouts",
    "positions",
]

START, GAP = "__start__", "__gap__"
# an event table's number whose consecutive values correlate this much (within a parent) is
# modelled as its change since the previous event: a growth curve's weight moves by a few kg a
# week, far finer than the quantile bins of its whole range, which lost most of that persistence
PERSISTENT = 0.7
_UNITS = (86400.0, 3600.0, 60.0, 1.0)  # a datetime's order is counted in the coarsest that fits


def COUNT(child: str) -> str:
    return f"__count__.{child}"


def DELTA(column: str) -> str:
    return f"__delta__.{column}"


def CONST(child: str, column: str) -> str:
    return f"__const__.{child}.{column}"


@dataclass
class Layout:
    """One table's place in the flattening, as sampling needs it (JSON-able)."""

    name: str
    parent: str | None
    primary_key: str | None
    foreign_key: str | None
    order_by: str | None
    columns: list[list[str]]  # [name, physical, "modelled" | "key" | "written" | "other"]
    moved: list[str] = field(default_factory=list)  # constant within a parent: modelled above
    deltas: list[str] = field(default_factory=list)  # event numbers modelled as changes
    bounds: dict[str, list[float]] = field(default_factory=dict)  # deltas: min, max, missing?
    children: list[str] = field(default_factory=list)
    order_kind: str = ""  # "datetime" or "number" for an event table
    order_unit: float = 1.0  # datetimes: seconds per modelled unit (a day, an hour, ...)
    order_integer: bool = False
    order_range: list[float] = field(default_factory=list)  # training min, max (modelled units)

    @property
    def sequential(self) -> bool:
        return self.order_by is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Flat:
    """A table's training side: own columns and how its rows hang together."""

    own: pd.DataFrame  # the own columns, rows in canonical order
    parent_index: np.ndarray  # each row's parent row (canonical order); empty for the root
    position: np.ndarray  # each row's index under its parent (events; zeros otherwise)
    subjects: np.ndarray  # each row's root row: the privacy unit
    levels: pd.DataFrame | None = None  # events: the delta columns' values (for the context)
    texts: pd.DataFrame | None = None  # the written free-text columns, rows in canonical order
    contract: Contract | None = None  # the own columns' contract, for the codecs (set last)


def plan_layouts(tables: dict[str, pd.DataFrame], relations: Relations) -> dict[str, Layout]:
    """Layouts for every table, with the columns each child keeps constant per parent."""
    layouts: dict[str, Layout] = {}
    for link in relations.tables:
        kinds = [[c.name, c.physical, _kind(c, link)] for c in link.contract.columns]
        layout = Layout(
            link.name, link.parent, link.primary_key, link.foreign_key, link.order_by, kinds
        )
        layout.children = [c.name for c in relations.children(link.name)]
        if link.parent is not None:
            layout.moved = constant_within_parents(tables[link.name], link)
        if link.order_by is not None:
            _order_kind(layout, link, tables[link.name][link.order_by])
        layouts[link.name] = layout
    return layouts


def _kind(column: ColumnContract, link: TableLink) -> str:
    if column.name in (link.primary_key, link.foreign_key):
        return "key"
    if column.is_written:  # free text a language model writes given the row
        return "written"
    return "modelled" if column.is_modelled else "other"


def _order_kind(layout: Layout, link: TableLink, values: pd.Series) -> None:
    column = link.contract[link.order_by]
    if column.type is ColumnType.datetime:
        seconds = _seconds(values)
        seconds = seconds[~np.isnan(seconds)]
        layout.order_kind = "datetime"
        layout.order_unit = next(u for u in _UNITS if np.all(np.mod(seconds, u) == 0))
        layout.order_integer = True
    else:
        layout.order_kind = "number"
        layout.order_integer = column.physical == "int64"
    numbers = order_numbers(values, layout)
    if np.isfinite(numbers).any():
        layout.order_range = [float(np.nanmin(numbers)), float(np.nanmax(numbers))]


def _seconds(values: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(values).astype("datetime64[ns]")
    numbers = stamps.astype("int64").to_numpy().astype("float64") / 1e9
    numbers[stamps.isna().to_numpy()] = np.nan
    return numbers


def order_numbers(values: pd.Series, layout: Layout) -> np.ndarray:
    """The order column as modelled numbers (datetimes in `order_unit`s since the epoch)."""
    if layout.order_kind == "datetime":
        return _seconds(values) / layout.order_unit
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def order_values(numbers: np.ndarray, layout: Layout) -> Any:
    """Modelled numbers back to the order column's values."""
    if layout.order_integer:
        numbers = np.round(numbers)
    if layout.order_kind == "datetime":
        return pd.to_datetime(numbers * layout.order_unit * 1e9, unit="ns")
    return numbers


def flatten(
    tables: dict[str, pd.DataFrame], relations: Relations, layouts: dict[str, Layout]
) -> dict[str, Flat]:
    """Own frames and row links for every table, parents first."""
    flats: dict[str, Flat] = {}
    ordered: dict[str, pd.DataFrame] = {}
    for link in relations.tables:
        layout, frame = layouts[link.name], tables[link.name].reset_index(drop=True)
        if link.parent is None:
            parent_index = np.zeros(0, dtype=np.int64)
            subjects = np.arange(len(frame))
        else:
            parent = ordered[link.parent]
            keys = pd.Index(parent[relations[link.parent].primary_key].astype(str))
            parent_index = keys.get_indexer(frame[link.foreign_key].astype(str))
            if (parent_index < 0).any():
                raise ValueError(f"{link.name}: rows whose parent is missing (orphans)")
            order = _row_order(parent_index, frame, layout)
            frame, parent_index = frame.iloc[order].reset_index(drop=True), parent_index[order]
            subjects = flats[link.parent].subjects[parent_index]
        ordered[link.name] = frame
        position = positions(parent_index)
        if layout.sequential:
            _choose_deltas(frame, link, layout, position)
        own = _own_columns(frame, link, layout, position)
        flat = Flat(own, parent_index, position, subjects)
        flat.levels = frame[layout.deltas].astype("float64") if layout.deltas else None
        flat.texts = frame[[c.name for c in link.contract.written]]
        flats[link.name] = flat
    for link in relations.tables[1:]:  # children's counts and constants, onto the parent
        _add_to_parent(flats[link.parent], ordered[link.name], flats[link.name], layouts[link.name])
    for link in relations.tables:
        flats[link.name].contract = _contract(flats[link.name].own, link, relations)
    return flats


def _row_order(parent_index: np.ndarray, frame: pd.DataFrame, layout: Layout) -> np.ndarray:
    if layout.sequential:
        return np.lexsort((order_numbers(frame[layout.order_by], layout), parent_index))
    return np.argsort(parent_index, kind="stable")


def positions(parent_index: np.ndarray) -> np.ndarray:
    """Each row's index among its parent's rows (rows grouped by parent)."""
    if not len(parent_index):
        return parent_index
    starts = np.r_[True, parent_index[1:] != parent_index[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(parent_index)), 0))
    return np.arange(len(parent_index)) - first


def _choose_deltas(
    frame: pd.DataFrame, link: TableLink, layout: Layout, position: np.ndarray
) -> None:
    """The event table's numerical columns that persist from one event to the next."""
    grouped = {c for r in link.contract.constraints for c in getattr(r, "columns", ())}
    later = position > 0
    for column in link.contract.modelled:
        name = column.name
        if (
            column.type is not ColumnType.numerical
            or name in layout.moved
            or name in grouped
            or name == link.order_by
        ):
            continue
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
        prev = np.r_[np.nan, values[:-1]]
        both = later & ~np.isnan(values) & ~np.isnan(prev)
        if both.sum() < 20 or np.std(values[both]) == 0 or np.std(prev[both]) == 0:
            continue
        if np.corrcoef(prev[both], values[both])[0, 1] >= PERSISTENT:
            layout.deltas.append(name)
            missing = float(np.isnan(values).any())  # 0: a drawn gap in it is filled, never kept
            layout.bounds[name] = [float(np.nanmin(values)), float(np.nanmax(values)), missing]


def _own_columns(
    frame: pd.DataFrame, link: TableLink, layout: Layout, position: np.ndarray
) -> pd.DataFrame:
    kept = [
        c.name
        for c in link.contract.modelled
        if c.name not in layout.moved and c.name != link.order_by
    ]
    own = frame[kept].copy()
    for name in layout.deltas:  # the value itself (drawn at a start), and its change
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
        prev = np.where(position > 0, np.r_[np.nan, values[:-1]], np.nan)
        own.insert(own.columns.get_loc(name) + 1, DELTA(name), values - prev)
    if layout.sequential:
        numbers = order_numbers(frame[link.order_by], layout)
        first = position == 0
        gaps = np.r_[np.nan, np.diff(numbers)] if len(numbers) else numbers
        own.insert(0, GAP, np.where(first, np.nan, gaps))
        own.insert(0, START, np.where(first, numbers, np.nan))
    return own


def _add_to_parent(parent: Flat, child: pd.DataFrame, flat: Flat, layout: Layout) -> None:
    rows = len(parent.own)
    parent.own[COUNT(layout.name)] = np.bincount(flat.parent_index, minlength=rows)
    for name in layout.moved:
        first = child[name].groupby(flat.parent_index).first()
        parent.own[CONST(layout.name, name)] = first.reindex(range(rows)).to_numpy()


def _contract(own: pd.DataFrame, link: TableLink, relations: Relations) -> Contract:
    """The own columns' contract: the table's own column contracts, children's constants under
    their new names, counts and order numbers as numerical columns."""
    columns = []
    for name in own.columns:
        if name in link.contract.names:
            columns.append(link.contract[name])
        elif name.startswith("__const__."):
            child, column = name.split(".", 2)[1:]
            columns.append(replace(relations[child].contract[column], name=name))
        else:
            values = pd.to_numeric(own[name], errors="coerce").dropna()
            whole = bool(np.array_equal(values, np.round(values)))
            columns.append(
                ColumnContract(
                    name=name,
                    spec=ColumnSpec(type=ColumnType.numerical),
                    physical="int64" if whole else "float64",
                    null_share=float(own[name].isna().mean()),
                )
            )
    kept = set(own.columns)
    rules = tuple(
        r
        for r in link.contract.constraints
        if r.kind != "fixed_combinations" or set(r.columns) <= kept
    )
    return Contract(source=link.name, rows=len(own), columns=tuple(columns), constraints=rules)
