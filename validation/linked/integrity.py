"""The expectations check of a linked job: every published table's Great Expectations suite
(validation.expectations, from its contract) plus the links between tables, as GX expectations:

- referential integrity: every foreign key value names a row of the parent table (GX
  ExpectColumnValuesToBeInSet over the parent's primary keys) and is never missing;
- primary keys: unique and never missing (the table suite already holds this for a key column in
  role `key`; added here for one that is not).

One result, "expectations", passing only if every expectation of every table passes. Counts only:
GX runs with a result format that returns no values, and no key value is reported.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from schemas.checks import ExpectationChecks
from schemas.dataset import Role
from schemas.relations import Relations, TableLink
from validation.expectations import ExpectationRun
from validation.linked.tree import Tables, complete, key_values
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "expectations"
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


def check(
    real: Tables | None,
    synthetic: Tables,
    holdout: Tables | None,
    *,
    contract: Relations,
    thresholds: ExpectationChecks,
    seed: int = 0,
    min_count: int = 10,
) -> CheckResult:
    """Every table's suite and every link, on the synthetic tables. `seed` and `min_count` are
    the keywords every linked check is called with; counts name no value, so neither matters."""
    relations = contract
    tables = complete(synthetic, relations)
    details: list[dict[str, Any]] = []
    reasons: list[str] = []
    rows = 0
    links = _Links()
    for table in relations.published:
        frame = tables[table.name]
        run = ExpectationRun(table.contract, thresholds, expected_rows=len(frame))
        run.update(frame)
        result = run.result()
        details += [{"table": table.name, **d} for d in result.details]
        reasons += [f"{table.name}: {r}" for r in result.reasons]
        rows += len(frame)
        found = links.run(table, tables, relations)
        details += found
        reasons += [_reason(table, d) for d in found if not d["passed"]]
    broken = sum(
        d["unexpected_count"] for d in details if d["expectation"] == "foreign key in parent"
    )
    metrics = {
        "evaluated": len(details),
        "failed": sum(not d["passed"] for d in details),
        "rows": rows,
        "tables": len(relations.published),
        "broken_links": broken,
    }
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details))


class _Links:
    """One ephemeral GX context for the links of every table."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("linked").add_dataframe_asset("links")
        self._batches = asset.add_batch_definition_whole_dataframe("batch")

    def run(self, table: TableLink, tables: Tables, relations: Relations) -> list[dict[str, Any]]:
        E = self._gx.expectations
        frame = tables[table.name]
        columns: dict[str, Any] = {}
        checks: list[tuple[str, str, Any]] = []
        if table.parent is not None and table.foreign_key is not None:
            parent = relations[table.parent]
            fk = table.foreign_key
            columns["fk"] = _comparable(frame[fk])
            known = pd.unique(_comparable(tables[parent.name][parent.primary_key]).dropna())
            checks += [
                ("foreign key not missing", fk, E.ExpectColumnValuesToNotBeNull(column="fk")),
                (
                    "foreign key in parent",
                    fk,
                    E.ExpectColumnValuesToBeInSet(column="fk", value_set=_plain(known)),
                ),
            ]
        pk = table.primary_key
        if pk is not None and Role.key not in table.contract[pk].roles:
            columns["pk"] = _comparable(frame[pk])
            checks += [
                ("primary key not missing", pk, E.ExpectColumnValuesToNotBeNull(column="pk")),
                ("primary key unique", pk, E.ExpectColumnValuesToBeUnique(column="pk")),
            ]
        if not checks:
            return []
        suite = self._gx.ExpectationSuite(name=f"{table.name}-links")
        for _, _, expectation in checks:
            suite.add_expectation(expectation)
        batch = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
        result = self._batches.get_batch(batch_parameters={"dataframe": batch}).validate(
            suite, result_format=_RESULT_FORMAT
        )
        out = []
        for (kind, column, _), outcome in zip(checks, result.results, strict=True):
            unexpected = int(outcome.result.get("unexpected_count") or 0)
            elements = int(outcome.result.get("element_count") or len(batch))
            out.append(
                {
                    "table": table.name,
                    "expectation": kind,
                    "column": column,
                    "unexpected_count": unexpected,
                    "element_count": elements,
                    "unexpected_share": round(unexpected / elements, 6) if elements else 0.0,
                    "allowed_share": 0.0,
                    "passed": bool(outcome.success) and unexpected == 0,
                }
            )
        return out


def _comparable(keys: pd.Series) -> pd.Series:
    """Keys as the data layer compares them (numbers as floats, else text), missing kept."""
    values = key_values(keys)
    if values.dtype == object:
        values = np.where(keys.isna().to_numpy(), None, values)
    return pd.Series(values, index=pd.RangeIndex(len(keys)))


def _plain(values: np.ndarray) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in values]


def _reason(table: TableLink, row: dict[str, Any]) -> str:
    n, m, column = row["unexpected_count"], row["element_count"], row["column"]
    if row["expectation"] == "foreign key in parent":
        return (
            f"{table.name}: referential integrity: {n} of {m} rows name no {table.parent!r} row "
            f"in foreign key {column!r}"
        )
    return f"{table.name}: {row['expectation']} ({column!r}): {n} of {m} rows unexpected"
