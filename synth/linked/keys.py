"""How the rows of linked tables hang together by key: the one place keys are compared.

Keys match across tables as numbers (floats) when they are numbers, else as text; a parent key
that repeats names its first row. The data layer (orphans, the split), the checks and the bench
all ask these questions the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.relations import Relations

__all__ = ["is_number", "key_values", "parent_rows", "subject_rows"]


def is_number(keys: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(keys) and not pd.api.types.is_bool_dtype(keys))


def key_values(keys: pd.Series) -> np.ndarray:
    """Keys comparable across tables: numbers as floats, anything else as text."""
    if is_number(keys):
        return keys.astype("float64").to_numpy()
    return keys.astype("string").fillna("\x00<missing>").to_numpy(dtype=object)


def parent_rows(tables: Mapping[str, pd.DataFrame], relations: Relations, name: str) -> np.ndarray:
    """Per row of `name`, the position of its parent row in the parent's frame (-1: none)."""
    table = relations[name]
    parent = relations[table.parent]
    keys = key_values(tables[parent.name][parent.primary_key])
    first = ~pd.Index(keys).duplicated()  # a repeated parent key: its first row is the parent
    found = pd.Index(keys[first]).get_indexer(key_values(tables[name][table.foreign_key]))
    return np.where(found >= 0, np.flatnonzero(first)[np.maximum(found, 0)], -1)


def subject_rows(tables: Mapping[str, pd.DataFrame], relations: Relations) -> dict[str, np.ndarray]:
    """Per table, each row's subject: the position of the root row it hangs under (-1: none)."""
    root = relations.root
    codes = {root.name: np.arange(len(tables[root.name]))}
    for table in relations.tables[1:]:
        up = parent_rows(tables, relations, table.name)
        above = codes[table.parent]
        codes[table.name] = np.where(up >= 0, above[np.maximum(up, 0)], -1) if len(above) else up
    return codes
