"""The engine's tables made publishable: fresh keys, consistent across tables, and fakes.

The engine numbers its rows; here every primary key gets a fresh value (numbers count up from past
the largest real key, text keys are salted hashes: synth.pii.key_values, as a table job's keys),
every foreign key the fresh key of its parent row, and every column that is not modelled (pii,
free text) a fake from pools that avoid the real values. Links hold by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.errors import SynthError
from schemas.relations import Relations
from synth.pii import key_values, pick_fakes
from synth.sampling import Identifiers, conform

__all__ = ["finish_tables"]


def finish_tables(
    raw: dict[str, pd.DataFrame],
    relations: Relations,
    real: dict[str, pd.DataFrame],
    *,
    seed: int,
) -> dict[str, pd.DataFrame]:
    fresh: dict[str, pd.Series] = {}  # per table: the engine's key -> its fresh key
    out: dict[str, pd.DataFrame] = {}
    for i, table in enumerate(relations.tables):
        frame = raw[table.name].reset_index(drop=True)
        rows = len(frame)
        columns = {c.name: c for c in table.contract.columns}
        identifiers = Identifiers.for_run(table.contract, real[table.name], seed=seed + i)
        done: dict[str, pd.Series] = {}
        if table.primary_key is not None:
            key = columns[table.primary_key]
            offset = int(key.maximum) if key.maximum is not None and key.physical != "string" else 0
            new = key_values(key.physical, 0, rows, seed=seed + i, offset=offset)
            fresh[table.name] = pd.Series(new.to_numpy(), index=frame[table.primary_key].to_numpy())
            done[table.primary_key] = new
        if table.foreign_key is not None and table.parent is not None:
            parents = fresh[table.parent]
            linked = parents.reindex(frame[table.foreign_key].to_numpy())
            if linked.isna().any():
                raise SynthError(f"{table.name}: the engine made rows with no generated parent")
            done[table.foreign_key] = pd.Series(linked.to_numpy())
        for j, column in enumerate(table.contract.columns):
            if column.name in done:
                continue
            if column.is_modelled:
                done[column.name] = frame[column.name]
            elif column.is_generated_key:
                done[column.name] = key_values(column.physical, 0, rows, seed=seed + i + j)
            elif column.name in identifiers.unique:
                done[column.name] = identifiers.unique[column.name].values(0, rows)
            elif column.name in identifiers.pools:
                done[column.name] = pick_fakes(identifiers.pools[column.name], rows, seed=seed + j)
            else:
                done[column.name] = pd.Series(np.full(rows, None, dtype=object))
        out[table.name] = conform(pd.DataFrame(done), table.contract)
    return out
