"""Checks for linked tables and event sequences: whole subjects, every table under them.

- `quality`: the table quality check on every published table, folded into one result;
- `sequences`: lengths, gaps, consistency, transitions and child-parent pairs per child table,
  each judged against unseen subjects beyond sampling noise (measures in `measures`);
- `privacy`: whole histories compared by subject: copies, DCR share, a membership attack;
- `integrity`: each table's GX suite plus referential integrity and primary keys ("expectations").
- `text`: the table text check on each table's written free-text columns, coherence judged
  against the label of the table above where the table has no target of its own.

Every check is `check(real, synthetic, holdout, *, contract: Relations, thresholds, **keywords)`
on `dict[str, DataFrame]` keyed by table name (training, generated, holdout tables). The measures
(`length_distance`, ..., and `privacy.subject_dcr_share`) are pure functions the benchmark reuses.
"""

from __future__ import annotations

from validation.linked.measures import (
    consistency,
    gap_distance,
    length_distance,
    pair_similarity,
    transition_similarity,
)

__all__ = [
    "consistency",
    "gap_distance",
    "length_distance",
    "pair_similarity",
    "transition_similarity",
]
