"""Turn a sample plan into seeded batches, and a fitted engine's batches into complete output rows.

A batch's rows depend only on (seed, batch index), never on how many workers sample, so a distributed
run writes the same data as a single process. Memory is bounded by the batch size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import DataError, SpecError
from schemas.spec import SampleSpec
from synth.pii import fake_values, key_values
from synth.tabular.base import Engine

__all__ = ["Batch", "check_conditions", "conform", "iter_batches", "plan_batches", "sample_batch"]


@dataclass(frozen=True)
class Batch:
    index: int
    start: int  # global row offset: keys are derived from it
    rows: int
    seed: int
    conditions: Mapping[str, Any] = field(default_factory=dict)


def plan_batches(plan: SampleSpec, *, default_rows: int) -> list[Batch]:
    """Unconditioned rows first, then each condition's rows, cut into batches of `plan.batch_size`."""
    default = 0 if plan.conditions else default_rows
    groups: list[tuple[int, Mapping[str, Any]]] = [
        (plan.rows if plan.rows is not None else default, {})
    ]
    groups += [(c.rows, c.values) for c in plan.conditions]
    batches: list[Batch] = []
    start = 0
    for rows, conditions in groups:
        for offset in range(0, rows, plan.batch_size):
            size = min(plan.batch_size, rows - offset)
            index = len(batches)
            seed = int(np.random.SeedSequence([plan.seed, index]).generate_state(1)[0])
            batches.append(Batch(index, start, size, seed, dict(conditions)))
            start += size
    return batches


def check_conditions(plan: SampleSpec, contract: Contract) -> None:
    """A condition on a category the real data never had is a spec error, not a sampling failure."""
    for i, condition in enumerate(plan.conditions):
        for name, value in condition.values.items():
            domain = contract[name].categories
            if domain is not None and str(value) not in {str(v) for v in domain}:
                raise SpecError(
                    f"sample.conditions[{i}]: the value for {name!r} never occurs in the real data"
                )


def sample_batch(
    engine: Engine, batch: Batch, contract: Contract, *, avoid: Mapping[str, set[str]]
) -> pd.DataFrame:
    """One batch of finished rows: modelled columns from the engine, fresh keys, fake identifiers."""
    modelled = engine.sample(batch.rows, seed=batch.seed, conditions=batch.conditions or None)
    if len(modelled) != batch.rows:
        raise DataError(f"engine returned {len(modelled)} rows for a batch of {batch.rows}")
    columns: dict[str, pd.Series] = {}
    for i, column in enumerate(contract.columns):
        if column.is_modelled:
            columns[column.name] = modelled[column.name].reset_index(drop=True)
        elif column.is_generated_key:
            columns[column.name] = key_values(
                column.physical, batch.start, batch.rows, seed=batch.seed
            )
        else:
            columns[column.name] = fake_values(
                column.pii_kind, batch.rows, seed=batch.seed + i, avoid=avoid.get(column.name, ())
            )
    return conform(pd.DataFrame(columns), contract)


def conform(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Cast columns to the contract's physical types, in contract order (ints are rounded)."""
    out: dict[str, pd.Series] = {}
    for column in contract.columns:
        values = frame[column.name]
        if column.physical == "int64":
            numbers = pd.to_numeric(values, errors="coerce").astype("float64")
            out[column.name] = np.round(numbers).astype("Int64")
        elif column.physical == "float64":
            out[column.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif column.physical == "bool":
            out[column.name] = values.astype("boolean")
        elif column.physical == "timestamp":
            out[column.name] = pd.to_datetime(values).astype("datetime64[us]")
        else:
            out[column.name] = values.astype("string")
    return pd.DataFrame(out)


def iter_batches(
    engine: Engine, batches: list[Batch], contract: Contract, *, avoid: Mapping[str, set[str]]
) -> Iterator[pd.DataFrame]:
    for batch in batches:
        yield sample_batch(engine, batch, contract, avoid=avoid)
