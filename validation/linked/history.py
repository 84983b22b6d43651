"""Subjects as points: each subject's whole history (its root row and every row under it, in every
table) as one row of fixed width, and one hash of the whole history.

The row: the root's modelled columns; per table under the root, how many rows the subject has
there and its first `events` rows' modelled columns (padded with missing), rows in order (by
their parent's place, then order_by; an unordered group by content, so its order does not
matter). `events` per table is the real subjects' 90th percentile of rows there, at most
`_MAX_EVENTS`. The row is typed by a Contract of its own, so validation.distance.Encoder maps it
to points as it maps a table's rows: every column adds at most 1 to the squared distance.

The hash covers the whole history, however long: every row's hash over its modelled columns,
chained to its parent row's, summed per subject through a 64-bit mixer (a multiset hash: equal
histories, equal hashes; an order_by column is modelled, so a sequence's order is in its rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.dataset import ColumnSpec, ColumnType
from schemas.relations import Relations
from validation.distance import row_hashes
from validation.linked.tree import Tables, order_values, parent_rows, subject_rows

__all__ = ["Histories", "Layout"]

_MAX_EVENTS = 8
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Layout:
    """How wide a history row is: the events kept per table, fixed from the training subjects."""

    events: dict[str, int]
    contract: Contract

    @classmethod
    def fit(cls, tables: Tables, relations: Relations) -> Layout:
        subjects = subject_rows(tables, relations)
        n = len(tables[relations.root.name])
        events, columns = {}, list(relations.root.contract.modelled)
        count = ColumnSpec(type=ColumnType.numerical)
        for table in relations.tables[1:]:
            per_subject = np.bincount(subjects[table.name][subjects[table.name] >= 0], minlength=n)
            high = float(np.quantile(per_subject, 0.9)) if n else 0.0
            events[table.name] = int(min(_MAX_EVENTS, max(1, np.ceil(high))))
            columns.append(ColumnContract(f"{table.name}.rows", count, "float64", 0.0))
            for i in range(events[table.name]):
                columns += [
                    ColumnContract(
                        f"{table.name}[{i}].{c.name}",
                        c.spec,
                        c.physical,
                        c.null_share,
                        c.categories,
                        c.minimum,
                        c.maximum,
                    )
                    for c in table.contract.modelled
                ]
        return cls(events, Contract("histories", n, tuple(columns)))


@dataclass(frozen=True)
class Histories:
    """Every subject's hash and row count; `rows` builds the history rows of chosen subjects."""

    tables: Tables
    relations: Relations
    layout: Layout
    hashes: np.ndarray  # uint64 per subject (root rows, in order), the whole history
    events: np.ndarray  # rows under the subject in every table but the root
    places: dict[str, tuple[np.ndarray, np.ndarray]]  # per table: each row's subject and place

    @classmethod
    def of(cls, tables: Tables, relations: Relations, layout: Layout) -> Histories:
        root = relations.root
        n = len(tables[root.name])
        subjects = subject_rows(tables, relations)
        own = _row_hashes(tables[root.name], root.contract.modelled, root.contract)
        chained = {root.name: _mix(own)}
        total = chained[root.name].copy()
        rank = {root.name: np.zeros(n, dtype=np.int64)}
        events = np.zeros(n, dtype=np.int64)
        places = {}
        for salt, table in enumerate(relations.tables[1:], 1):
            frame, subject = tables[table.name], subjects[table.name]
            up = parent_rows(tables, relations, table.name)
            ok = subject >= 0
            above = chained[table.parent][np.maximum(up, 0)]
            row = _row_hashes(frame, table.contract.modelled, table.contract)
            chained[table.name] = _mix(above ^ _mix(row + np.uint64(salt)))
            np.add.at(total, subject[ok], chained[table.name][ok])
            events += np.bincount(subject[ok], minlength=n)
            # rows in order within a subject: parent's place, then order_by, then content
            when = order_values(frame, table)
            parent_rank = rank[table.parent][np.maximum(up, 0)]
            order = np.lexsort((row, np.nan_to_num(when, nan=np.inf), parent_rank, subject))
            order = order[ok[order]]
            first = np.r_[True, subject[order][1:] != subject[order][:-1]]
            starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
            place = np.full(len(frame), -1, dtype=np.int64)
            place[order] = np.arange(len(order)) - starts
            rank[table.name] = place
            places[table.name] = (subject, place)
        return cls(tables, relations, layout, _mix(total), events, places)

    def rows(self, chosen: np.ndarray) -> pd.DataFrame:
        """The history rows of the subjects at root positions `chosen`, in that order."""
        root = self.relations.root
        size = len(chosen)
        at_row = np.full(len(self.hashes), -1, dtype=np.int64)
        at_row[chosen] = np.arange(size)
        frame = self.tables[root.name]
        out: dict[str, np.ndarray] = {
            c.name: frame[c.name].to_numpy(dtype=object)[chosen] for c in root.contract.modelled
        }
        for table in self.relations.tables[1:]:
            subject, place = self.places[table.name]
            frame = self.tables[table.name]
            mine = (subject >= 0) & (at_row[np.maximum(subject, 0)] >= 0)
            target = at_row[np.maximum(subject, 0)]
            out[f"{table.name}.rows"] = np.bincount(target[mine], minlength=size).astype(float)
            for i in range(self.layout.events[table.name]):
                at = np.flatnonzero(mine & (place == i))
                for c in table.contract.modelled:
                    column = np.full(size, None, dtype=object)
                    column[target[at]] = frame[c.name].to_numpy(dtype=object)[at]
                    out[f"{table.name}[{i}].{c.name}"] = column
        return pd.DataFrame(out, index=pd.RangeIndex(size))


def _row_hashes(
    frame: pd.DataFrame, columns: list[ColumnContract], contract: Contract
) -> np.ndarray:
    if not columns or not len(frame):
        return np.zeros(len(frame), dtype=np.uint64)
    return row_hashes(frame, contract).astype(np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
