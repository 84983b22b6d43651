"""How rows hang together, for the checks: each row's parent row and subject, children per
parent, events in order, and real subjects pooled and re-split for a noise floor.

Tables arrive as `dict[str, DataFrame]` keyed by table name with a `Relations`. Keys are matched
as the data layer matches them (`synth.linked.keys`, re-exported here). A virtual root (a
panel's subjects) that a dict lacks is rebuilt from its child's subject column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.relations import Relations, TableLink
from synth.linked.keys import key_values, parent_rows, subject_rows

__all__ = [
    "Tables",
    "complete",
    "consecutive",
    "event_order",
    "key_values",
    "lengths",
    "order_values",
    "parent_rows",
    "pool",
    "subject_rows",
    "take_subjects",
]

Tables = Mapping[str, pd.DataFrame]


def complete(tables: Tables, relations: Relations) -> dict[str, pd.DataFrame]:
    """Every table of `relations`; a missing virtual root is rebuilt from its child's keys."""
    out = dict(tables)
    root = relations.root
    if root.name not in out and root.virtual:
        child = relations.children(root.name)[0]
        keys = out[child.name][child.foreign_key].drop_duplicates().reset_index(drop=True)
        out[root.name] = pd.DataFrame({root.primary_key: keys})
    missing = [n for n in relations.names if n not in out]
    if missing:
        raise KeyError(f"no frame for table {missing[0]!r}")
    return out


def lengths(tables: Tables, relations: Relations, name: str) -> np.ndarray:
    """Rows of `name` under each parent row (zero included)."""
    up = parent_rows(tables, relations, name)
    parents = len(tables[relations[name].parent])
    return np.bincount(up[up >= 0], minlength=parents)


def order_values(frame: pd.DataFrame, table: TableLink) -> np.ndarray:
    """The order_by column as floats (datetimes as seconds); zeros for an unordered table."""
    if table.order_by is None:
        return np.zeros(len(frame))
    values = frame[table.order_by]
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        return np.asarray((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1), float)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")


def event_order(tables: Tables, relations: Relations, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `name` under a parent, sorted by parent then order_by (missing last, ties in
    row order): (row positions in that order, their parent rows)."""
    up = parent_rows(tables, relations, name)
    when = order_values(tables[name], relations[name])
    when = np.where(np.isnan(when), np.inf, when)
    order = np.lexsort((np.arange(len(up)), when, up))
    order = order[up[order] >= 0]
    return order, up[order]


def consecutive(tables: Tables, relations: Relations, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of consecutive events under one parent: (earlier rows, later rows)."""
    order, up = event_order(tables, relations, name)
    same = up[1:] == up[:-1]
    return order[:-1][same], order[1:][same]


def take_subjects(
    tables: Tables, relations: Relations, chosen: np.ndarray
) -> dict[str, pd.DataFrame]:
    """The subjects at root positions `chosen` (a boolean mask over root rows), every row under
    them in every table."""
    codes = subject_rows(tables, relations)
    out = {}
    for table in relations.tables:
        mine = codes[table.name]
        keep = np.where(mine >= 0, chosen[np.maximum(mine, 0)], False) if len(chosen) else mine >= 0
        out[table.name] = tables[table.name][keep].reset_index(drop=True)
    return out


def pool(first: Tables, second: Tables, relations: Relations) -> dict[str, pd.DataFrame]:
    """Two sets of whole subjects as one, keys made distinct (`0:` and `1:` text prefixes)."""
    out = {}
    for table in relations.tables:
        keys = [c for c in (table.primary_key, table.foreign_key) if c is not None]
        frames = []
        for side, tables in enumerate((first, second)):
            frame = tables[table.name].copy()
            for column in dict.fromkeys(keys):
                keys_text = pd.Series(key_values(frame[column]), index=frame.index).astype(str)
                frame[column] = f"{side}:" + keys_text
            frames.append(frame)
        out[table.name] = pd.concat(frames, ignore_index=True)
    return out
