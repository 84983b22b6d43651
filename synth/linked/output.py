"""The engine's tables made publishable: fresh keys, consistent across tables, and fakes.

Every table is finished as a table job's rows are (`synth.sampling.fill_columns`): primary keys
count up from past the largest real key (text keys are salted hashes), columns that are not
modelled (pii, free text) get fakes from pools that avoid the real values. Then every foreign key
becomes the fresh key of its generated parent row, so links hold by construction.
"""

from __future__ import annotations

import pandas as pd

from schemas.errors import SynthError
from schemas.relations import Relations
from synth.sampling import Identifiers, fill_columns

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
        identifiers = Identifiers.for_run(table.contract, real[table.name], seed=seed + i)
        done = fill_columns(frame, table.contract, identifiers, start=0, seed=seed + i)
        if table.primary_key is not None:
            fresh[table.name] = pd.Series(
                done[table.primary_key].to_numpy(), index=frame[table.primary_key].to_numpy()
            )
        if table.foreign_key is not None and table.parent is not None:
            linked = fresh[table.parent].reindex(frame[table.foreign_key].to_numpy())
            if linked.isna().any():
                raise SynthError(f"{table.name}: the engine made rows with no generated parent")
            done[table.foreign_key] = linked.to_numpy()
        out[table.name] = done
    return out
