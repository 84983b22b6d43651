"""The text check of a linked job: the table text check (validation.text) on every published
table's written free-text columns, against that table's holdout texts (rows of unseen subjects),
folded into one result that passes only if every table passes.

Coherence asks whether a text belongs to where it sits. A child's text is written given its
parent, so where the child declares no categorical target its label is the nearest table
above's (its target, else its first categorical column; `<parent>.<column>`, read through each
row's parent row), and only without one its own first categorical column. Each table is judged
at `significance` divided by the number of tables judged (Bonferroni), as the quality check is.
Measures are kept per table as `<table>.<measure>`; the details and report samples name
`<table>.<column>`. Only numbers and synthetic samples that pass `validation.text.safe_samples`
leave it, as for tables.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from schemas.checks import TextChecks
from schemas.contract import ColumnContract, Contract
from schemas.dataset import Role
from schemas.relations import Relations, TableLink
from validation import text
from validation.linked.tree import Tables, complete, parent_rows
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "text"


def check(
    real: Tables,
    synthetic: Tables,
    holdout: Tables | None,
    *,
    contract: Relations,
    thresholds: TextChecks,
    seed: int = 0,
    min_count: int = 10,
) -> CheckResult:
    """validation.text.check per published table with written text; `real` are the training
    tables (whole subjects), `holdout` the unseen subjects' tables."""
    judged = [t for t in contract.published if t.contract.written]
    if not judged:
        return CheckResult(NAME, True, {"skipped": "no modelled text column"})
    if holdout is None:
        return CheckResult(NAME, True, {"skipped": "no holdout subjects"})
    sides = [complete(side, contract) for side in (real, synthetic, holdout)]
    per_table = thresholds.model_copy(
        update={"significance": thresholds.significance / len(judged)}
    )
    metrics: dict[str, Any] = {"tables": 0, "columns": 0}
    reasons: list[str] = []
    details: list[dict[str, Any]] = []
    samples: dict[str, list[str]] = {}
    for table in judged:
        (train, synth, held), labelled = _labelled(table, contract, sides)
        result = text.check(
            train,
            synth,
            held,
            contract=labelled,
            thresholds=per_table,
            seed=seed,
            min_count=min_count,
        )
        if "skipped" in result.metrics:
            metrics[f"{table.name}.skipped"] = result.metrics["skipped"]
            continue
        metrics["tables"] += 1
        metrics["columns"] += int(result.metrics["columns"])
        metrics[f"{table.name}.label"] = result.metrics["label"]
        reasons += [f"{table.name}: {r}" for r in result.reasons]
        details += [{**d, "column": f"{table.name}.{d['column']}"} for d in result.details]
        for column, shown in result.charts.get("samples", {}).items():
            samples[f"{table.name}.{column}"] = shown
    return CheckResult(
        NAME, not reasons, metrics, tuple(reasons), tuple(details), {"samples": samples}
    )


def _labelled(
    table: TableLink, relations: Relations, sides: list[dict[str, pd.DataFrame]]
) -> tuple[list[pd.DataFrame], Contract]:
    """The table's frames and contract, with the label of the nearest table above as its first
    column where the table declares no categorical target of its own."""
    frames = [side[table.name].reset_index(drop=True) for side in sides]
    own = text.label_column(table.contract)
    if own is not None and Role.target in table.contract[own].roles:
        return frames, table.contract
    rows = [np.arange(len(f)) for f in frames]
    above = table
    while above.parent is not None:
        rows = [_up(side, relations, above.name, r) for side, r in zip(sides, rows, strict=True)]
        above = relations[above.parent]
        label = None if above.virtual else text.label_column(above.contract)
        if label is None:
            continue
        name = f"{above.name}.{label}"
        column: ColumnContract = dataclasses.replace(above.contract[label], name=name)
        for frame, side, r in zip(frames, sides, rows, strict=True):
            values = side[above.name][label].to_numpy(dtype=object)
            frame.insert(0, name, np.where(r >= 0, values[np.maximum(r, 0)], None))
        columns = (column, *table.contract.columns)
        return frames, dataclasses.replace(table.contract, columns=columns)
    return frames, table.contract


def _up(
    tables: dict[str, pd.DataFrame], relations: Relations, name: str, rows: np.ndarray
) -> np.ndarray:
    """Each row's (of `rows`, positions in table `name`; -1: none) parent row position."""
    parents = parent_rows(tables, relations, name)
    return np.where(rows >= 0, parents[np.maximum(rows, 0)], -1)
