"""Great Expectations (GX Core 1.x) suite built from the contract, run over synthetic batches.

Expectations come from the declared schema and the real data's profile: column set, physical types,
category domains, numeric ranges (with a tolerance), null shares, key uniqueness, and the declared
rules across columns (inequalities, fixed combinations). GX runs on each batch with a result
format that returns no values; counts are summed across batches and judged against the spec's
thresholds, so memory stays bounded by the batch size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract, combination_keys
from schemas.spec import ColumnType, ExpectationChecks, FixedCombinations, Role
from validation.noise import se_share, z
from validation.result import CheckResult

__all__ = ["ExpectationCounts", "ExpectationRun", "check", "judge"]

NAME = "expectations"
NULL_SIGNIFICANCE = 0.01  # the real null share's one-sided bound, as the other checks' default
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
_KEPT = ("element_count", "unexpected_count", "missing_count")  # everything else may hold values
# GX judges numpy dtypes reliably, not pandas extension dtypes: batches are checked numpy-backed,
# where an integer column with nulls is float64. The Arrow writer guarantees integrality on write.
_TYPES = {
    "int64": ["int64", "float64"],
    "float64": ["float64"],
    "bool": ["bool", "object"],
    "string": ["object", "str"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
}


@dataclass
class _Tally:
    kind: str
    column: str | None
    allowed_share: float
    unexpected: int = 0
    elements: int = 0
    failed_batches: int = 0


@dataclass
class ExpectationCounts:
    """What one run over some batches found, as counts (no values): partitions checked apart, on
    other processes or machines, are summed by `judge`. Unique columns carry 8-byte row hashes so
    duplicates across partitions are found too."""

    tallies: list[_Tally]
    key_hashes: dict[str, list[np.ndarray]]
    rows: int


def check(
    real: pd.DataFrame | None,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    contract: Contract,
    thresholds: ExpectationChecks,
) -> CheckResult:
    """The check protocol's form: run the suite on one in-memory synthetic table."""
    run = ExpectationRun(contract, thresholds, expected_rows=len(synthetic))
    run.update(synthetic)
    return run.result()


class ExpectationRun:
    """Accumulates expectation counts over batches; `result()` judges the totals."""

    def __init__(
        self, contract: Contract, thresholds: ExpectationChecks, *, expected_rows: int
    ) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.contract = contract
        self.thresholds = thresholds
        self.expected_rows = expected_rows
        self.rows = 0
        # Duplicates across batches, not only within one, at 8 bytes a row, for unique columns
        # that synth does not generate (generated keys are unique by construction: row numbers).
        self._key_hashes: dict[str, list[np.ndarray]] = {
            c.name: [] for c in contract.columns if _must_be_unique(c) and not c.is_generated_key
        }
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("synth").add_dataframe_asset("synthetic")
        self._batches = asset.add_batch_definition_whole_dataframe("batch")
        # Column set and types are checked on the first batch only: every batch comes from staged
        # Parquet parts that share one Arrow schema, and GX checks object columns value by value.
        self._schema_suite = gx.ExpectationSuite(name=f"{contract.source}-schema")
        self._value_suite = gx.ExpectationSuite(name=f"{contract.source}-values")
        self._schema_tallies: list[_Tally] = []
        self._value_tallies: list[_Tally] = []
        self._add(
            gx.expectations.ExpectTableColumnsToMatchOrderedList(column_list=contract.names),
            "columns",
            None,
            0.0,
        )
        for column in contract.columns:
            self._add_column(gx.expectations, column)
        for i, constraint in enumerate(contract.constraints):
            self._add_constraint(gx.expectations, i, constraint)

    def _add(self, expectation: Any, kind: str, column: str | None, allowed: float) -> None:
        schema = kind in ("columns", "type")
        (self._schema_suite if schema else self._value_suite).add_expectation(expectation)
        (self._schema_tallies if schema else self._value_tallies).append(
            _Tally(kind, column, allowed)
        )

    @property
    def _tallies(self) -> list[_Tally]:
        return self._schema_tallies + self._value_tallies

    def _add_column(self, E: Any, c: ColumnContract) -> None:
        share = self.thresholds.max_unexpected_share
        self._add(
            E.ExpectColumnValuesToBeInTypeList(column=c.name, type_list=_TYPES[c.physical]),
            "type",
            c.name,
            0.0,
        )
        nullable = c.spec.constraints.nullable and Role.key not in c.roles
        # the real share is itself an estimate: on a small table its sampling noise (a 1%
        # one-sided bound) comes on top of the tolerance, as every other check allows for noise
        noise = z(NULL_SIGNIFICANCE) * se_share(c.null_share, max(self.contract.rows, 1))
        null_allowed = (
            min(1.0, c.null_share + self.thresholds.null_share_tolerance + noise)
            if nullable
            else 0.0
        )
        self._add(E.ExpectColumnValuesToNotBeNull(column=c.name), "nulls", c.name, null_allowed)
        if c.is_modelled and c.categories is not None:
            self._add(
                E.ExpectColumnValuesToBeInSet(column=c.name, value_set=list(c.categories)),
                "domain",
                c.name,
                share,
            )
        if c.is_modelled and c.type is ColumnType.numerical and c.minimum is not None:
            low = c.spec.constraints.min if c.spec.constraints.min is not None else c.minimum
            high = c.spec.constraints.max if c.spec.constraints.max is not None else c.maximum
            slack = self.thresholds.range_tolerance * ((c.maximum or 0.0) - c.minimum)
            if c.spec.constraints.min is None:
                low -= slack
            if c.spec.constraints.max is None and high is not None:
                high += slack
            self._add(
                E.ExpectColumnValuesToBeBetween(column=c.name, min_value=low, max_value=high),
                "range",
                c.name,
                share,
            )
        if _must_be_unique(c):
            self._add(E.ExpectColumnValuesToBeUnique(column=c.name), "unique", c.name, 0.0)

    def _add_constraint(self, E: Any, i: int, constraint: Any) -> None:
        share = self.thresholds.max_unexpected_share
        label = f"constraints[{i}]: {constraint.describe()}"
        if isinstance(constraint, FixedCombinations):
            allowed = sorted(self.contract.combinations[i])
            self._add(
                E.ExpectColumnValuesToBeInSet(column=_combo_column(i), value_set=allowed),
                "combination",
                label,
                share,
            )
        else:
            self._add(
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=constraint.high,
                    column_B=constraint.low,
                    or_equal=not constraint.strict,
                    ignore_row_if="either_value_is_missing",
                ),
                "inequality",
                label,
                share,
            )

    def update(self, batch: pd.DataFrame) -> None:
        """Run the suite on one batch and add its counts."""
        batch = _numpy_backed(batch)
        combos = {
            _combo_column(i): combination_keys(batch, c.columns).astype(object)
            for i, c in enumerate(self.contract.constraints)
            if isinstance(c, FixedCombinations)
        }
        if combos:  # derived key columns, after the column-set expectation has seen the batch
            batch = batch.assign(**combos)
        # One consolidated block per dtype, once: GX copies the frame for every expectation that
        # filters rows, and pandas would merge a column-per-block frame again on each copy.
        batch = batch.copy()
        gx_batch = self._batches.get_batch(batch_parameters={"dataframe": batch})
        suites = [(self._value_suite, self._value_tallies, gx_batch)]
        if self.rows == 0:
            schema_batch = self._batches.get_batch(
                batch_parameters={"dataframe": batch.drop(columns=list(combos))}
            )
            suites.append((self._schema_suite, self._schema_tallies, schema_batch))
        for suite, tallies, target in suites:
            result = target.validate(suite, result_format=_RESULT_FORMAT)
            for tally, outcome in zip(tallies, result.results, strict=True):
                counts = {k: outcome.result.get(k) for k in _KEPT}
                tally.elements += int(counts["element_count"] or len(batch))
                tally.unexpected += int(counts["unexpected_count"] or 0)
                if not outcome.success:
                    tally.failed_batches += 1
        for name, hashes in self._key_hashes.items():
            present = batch[name].dropna()
            hashes.append(pd.util.hash_pandas_object(present, index=False).to_numpy())
        self.rows += len(batch)

    def counts(self) -> ExpectationCounts:
        return ExpectationCounts(self._tallies, self._key_hashes, self.rows)

    def result(self) -> CheckResult:
        return judge([self.counts()], expected_rows=self.expected_rows)


def judge(parts: list[ExpectationCounts], *, expected_rows: int) -> CheckResult:
    """The verdict over every partition's counts, summed in partition order."""
    if not parts:
        return CheckResult(NAME, False, {"rows": 0}, ("no rows were checked",), ())
    tallies = [_Tally(t.kind, t.column, t.allowed_share) for t in parts[0].tallies]
    hashes: dict[str, list[np.ndarray]] = {name: [] for name in parts[0].key_hashes}
    rows = 0
    for part in parts:
        for total, tally in zip(tallies, part.tallies, strict=True):
            total.unexpected += tally.unexpected
            total.elements += tally.elements
            total.failed_batches += tally.failed_batches
        for name, chunks in part.key_hashes.items():
            hashes[name].extend(chunks)
        rows += part.rows
    details, reasons = [], []
    for t in tallies:
        share = t.unexpected / t.elements if t.elements else 0.0
        if t.kind in ("columns", "type"):
            passed = t.failed_batches == 0
        elif t.kind == "unique":
            t.unexpected = max(t.unexpected, _duplicates(hashes.get(t.column or "")))
            passed = t.unexpected == 0
        else:
            passed = share <= t.allowed_share + 1e-12
        details.append(
            {
                "expectation": t.kind,
                "column": t.column,
                "unexpected_count": t.unexpected,
                "element_count": t.elements,
                "unexpected_share": round(share, 6),
                "allowed_share": round(t.allowed_share, 6),
                "passed": passed,
            }
        )
        if not passed:
            if t.kind in ("combination", "inequality"):
                reasons.append(f"{t.column}: broken in {t.unexpected} of {t.elements} rows")
            else:
                where = f"column {t.column!r}" if t.column else "table"
                reasons.append(
                    f"{t.kind} of {where}: {t.unexpected} of {t.elements} rows unexpected"
                )
    if rows != expected_rows:
        reasons.append(f"row count: {rows} rows, {expected_rows} planned")
    metrics = {
        "evaluated": len(details),
        "failed": sum(not d["passed"] for d in details),
        "rows": rows,
        "partitions": len(parts),
    }
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details))


def _duplicates(hashes: list[np.ndarray] | None) -> int:
    if not hashes:
        return 0
    every = np.concatenate(hashes)
    return len(every) - len(np.unique(every))


def _must_be_unique(column: ColumnContract) -> bool:
    return Role.key in column.roles or column.spec.constraints.unique


def _numpy_backed(frame: pd.DataFrame) -> pd.DataFrame:
    """Extension dtypes -> numpy ones, as Parquet's `to_pandas()` returns them."""
    out = {}
    for name, values in frame.items():
        kind = str(values.dtype)
        if kind in ("Int64", "Float64"):
            out[name] = values.astype("float64" if values.isna().any() else "int64")
        elif kind == "boolean":
            out[name] = values.astype(object if values.isna().any() else bool)
        elif kind.startswith("string"):
            out[name] = values.astype(object).where(values.notna(), None)
        else:
            out[name] = values
    return pd.DataFrame(out, index=frame.index)


def _combo_column(index: int) -> str:
    return f"__synth_combination_{index}"
