"""The quality check of a linked job: the table quality check (validation.quality) on every
published table against its contract, folded into one result that passes only if every table
passes. The headline measures are each the worst table's (the mean for the overall score);
every table's own are kept under `<table>.<measure>`. A table without a modelled column (keys
only) has nothing to score and is skipped; a table the generator left empty fails.

Each table's noise floor is set at `significance` divided by the number of tables scored
(Bonferroni): the check fails if any table does, and k tables each judged at the full level
would fail an honest generator about k times as often as one table does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from schemas.checks import QualityChecks
from schemas.relations import Relations
from validation import quality
from validation.linked.tree import Tables
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "quality"
_MEASURES = ("column_shapes", "pair_trends", "pair_dependence", "diagnostic")


def check(
    real: Tables,
    synthetic: Tables,
    holdout: Tables | None,
    *,
    contract: Relations,
    thresholds: QualityChecks,
    seed: int = 0,
    min_count: int = 10,
) -> CheckResult:
    """validation.quality.check per published table; `real` are the training tables.
    `min_count` comes with every linked check's keywords: only scores are reported, no value."""
    per_table: dict[str, dict[str, Any]] = {}
    details: list[dict[str, Any]] = []
    reasons: list[str] = []
    floors: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    scored = [t for t in contract.published if t.contract.modelled]
    per_level = thresholds.model_copy(
        update={"significance": thresholds.significance / max(len(scored), 1)}
    )
    for table in scored:
        rows = synthetic[table.name]
        if rows.empty:
            reasons.append(f"{table.name}: the synthetic table has no rows")
            continue
        if len(rows) > thresholds.sample_rows:
            rows = rows.sample(n=thresholds.sample_rows, random_state=seed)
        rows = rows.reset_index(drop=True)
        result = quality.check(
            real[table.name],
            rows,
            None if holdout is None else holdout[table.name],
            contract=table.contract,
            thresholds=per_level,
            seed=seed,
        )
        per_table[table.name] = dict(result.metrics)
        details += [{**d, "column": f"{table.name}.{d['column']}"} for d in result.details]
        reasons += [f"{table.name}: {r}" for r in result.reasons]
        floors[table.name] = result.charts.get("noise_floor", {})
        limits = result.charts.get("limits", limits)
    metrics: dict[str, Any] = {"tables": len(per_table)}
    scores = [m["score"] for m in per_table.values() if m.get("score") is not None]
    metrics["score"] = round(float(np.mean(scores)), 4) if scores else None
    for name in _MEASURES:
        values = [m[name] for m in per_table.values() if m.get(name) is not None]
        metrics[name] = min(values) if values else None
    for table, values in per_table.items():
        metrics.update({f"{table}.{k}": v for k, v in values.items()})
    charts = {"limits": limits, "noise_floor": floors, "tables": per_table}
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details), charts)
