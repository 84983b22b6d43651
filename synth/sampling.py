"""Turn a sample plan into seeded batches, and a fitted engine's batches into complete output rows.

A batch's rows depend only on (seed, batch index), never on how many workers sample, so a distributed
run writes the same data as a single process. Memory is bounded by the batch size.

A condition may be a `Band` (a range of a numerical or datetime column, from rebalance or parity
by bands). Engines condition on exact values only, and conditioning on real values drawn from the
band would make real values conditions (and give the model's within-band spread up for the real
one), so a band is met by rejection instead: the engine samples with the exact conditions, the rows
inside the band are kept, and fresh seeded draws top the batch up. Bands hold at least min_count
real rows (or are declared), so an engine that reproduces the data keeps a fair share of its draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.errors import DataError, SpecError
from schemas.spec import SampleSpec
from synth.bands import Band
from synth.pii import UniqueFakes, fake_pool, key_values, pick_fakes, unique_fakes
from synth.redraw import redraw
from synth.tabular.base import Engine

__all__ = [
    "Batch",
    "Identifiers",
    "RowFilter",
    "conform",
    "draw",
    "fill_columns",
    "plan_batches",
    "plan_groups",
    "plan_partitions",
    "sample_batch",
    "typed_conditions",
    "unconditioned_rows",
]


@dataclass(frozen=True)
class Batch:
    index: int
    start: int  # global row offset: keys are derived from it
    rows: int
    seed: int
    conditions: Mapping[str, Any] = field(default_factory=dict)


def plan_groups(
    plan: SampleSpec,
    *,
    default_rows: int,
    cells: list[tuple[int, Mapping[str, Any]]] | None = None,
) -> list[tuple[int, Mapping[str, Any]]]:
    """(rows, conditions) for every part of the plan: the unconditioned rows (or, with rebalance or
    parity, their conditioned `cells`), then each explicit condition's rows."""
    if cells is None:
        cells = [(unconditioned_rows(plan, default_rows=default_rows), {})]
    return [*cells, *((c.rows, c.values) for c in plan.conditions)]


def plan_batches(
    plan: SampleSpec,
    *,
    default_rows: int,
    cells: list[tuple[int, Mapping[str, Any]]] | None = None,
) -> list[Batch]:
    """The plan's groups cut into batches of `plan.batch_size`, each with its own seed."""
    batches: list[Batch] = []
    start = 0
    for rows, conditions in plan_groups(plan, default_rows=default_rows, cells=cells):
        for offset in range(0, rows, plan.batch_size):
            size = min(plan.batch_size, rows - offset)
            index = len(batches)
            seed = int(np.random.SeedSequence([plan.seed, index]).generate_state(1)[0])
            batches.append(Batch(index, start, size, seed, dict(conditions)))
            start += size
    return batches


def plan_partitions(batches: list[Batch], rows_per_partition: int) -> list[tuple[Batch, ...]]:
    """Consecutive batches grouped into partitions of at most `rows_per_partition` rows (a larger
    batch is a partition of its own). One partition is one Parquet part and one unit of work; the
    cut depends only on the plan, so any number of workers writes the same parts."""
    partitions: list[tuple[Batch, ...]] = []
    current: list[Batch] = []
    rows = 0
    for batch in batches:
        if current and rows + batch.rows > rows_per_partition:
            partitions.append(tuple(current))
            current, rows = [], 0
        current.append(batch)
        rows += batch.rows
    if current:
        partitions.append(tuple(current))
    return partitions


def unconditioned_rows(plan: SampleSpec, *, default_rows: int) -> int:
    if plan.rows is not None:
        return plan.rows
    return 0 if plan.conditions else default_rows


def typed_conditions(plan: SampleSpec, contract: Contract) -> SampleSpec:
    """Condition values typed like their columns; a value the real data never had is a SpecError."""
    conditions = []
    for i, condition in enumerate(plan.conditions):
        values = {
            name: _typed(value, contract[name], i) for name, value in condition.values.items()
        }
        conditions.append(condition.model_copy(update={"values": values}))
    return plan.model_copy(update={"conditions": conditions})


def _typed(value: Any, column: ColumnContract, i: int) -> Any:
    where = f"sample.conditions[{i}]: the value for {column.name!r}"
    if column.categories is not None:  # categorical and boolean: must be a real category
        fold = str.lower if column.physical == "bool" else str
        for category in column.categories:
            if fold(str(category)) == fold(str(value)):
                return category
        raise SpecError(f"{where} never occurs in the real data")
    try:
        if column.physical == "timestamp":
            return pd.Timestamp(value)
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where} is not a {column.type.value} value") from None
    return round(number) if column.physical == "int64" else number


_MAX_DRAW = 200_000  # rows drawn at once while filling a band: bounds memory
_BAND_BUDGET = 20_000_000  # rows drawn for one band cell before it is given up
_BAND_STREAM = 0x62616E64  # keeps band top-up seeds apart from the row filter's


def draw(
    engine: Engine, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """`rows` rows from the engine meeting `conditions`: exact values go to the engine, a `Band`
    is met by keeping the rows inside it and drawing more from fresh seeds until there are enough.
    """
    bands = {c: v for c, v in (conditions or {}).items() if isinstance(v, Band)}
    exact = {c: v for c, v in (conditions or {}).items() if c not in bands} or None
    if not bands:
        return engine.sample(rows, seed=seed, conditions=exact)
    kept: list[pd.DataFrame] = []
    have = drawn = inside_total = attempt = 0
    while have < rows:
        need = rows - have
        share = max(inside_total, 1) / drawn if drawn else 0.5  # first guess: half land inside
        if drawn >= _MAX_DRAW and drawn + need / share > _BAND_BUDGET:
            break  # the model (nearly) never generates this band: give up early
        size = int(min(_MAX_DRAW, max(64, need / share * 1.2 + 16)))
        round_seed = (
            seed
            if attempt == 0
            else int(np.random.SeedSequence([seed, _BAND_STREAM, attempt]).generate_state(1)[0])
        )
        frame = engine.sample(size, seed=round_seed, conditions=exact)
        inside = np.ones(len(frame), dtype=bool)
        for column, band in bands.items():
            inside &= band.contains(frame[column])
        drawn += len(frame)
        inside_total += int(inside.sum())
        kept.append(frame[inside].iloc[:need])
        have += len(kept[-1])
        attempt += 1
    if have < rows:
        where = ", ".join(f"{c} in {b.label}" for c, b in bands.items())
        raise DataError(
            f"sample: the model puts {inside_total} of {drawn} drawn rows in the cell {where}; "
            f"{rows} were asked for (rebalance or parity asks more of this band than the model "
            "generates)"
        )
    return pd.concat(kept, ignore_index=True)


@dataclass(frozen=True)
class Identifiers:
    """What replaces the unmodelled columns: fake pools (drawn once per run), numbered fakes for
    unique ones, and key offsets. Partitions (maybe on other machines) receive this and nothing
    of the real identifiers: pools and numbered fakes avoid them by construction, here."""

    pools: Mapping[str, np.ndarray]
    unique: Mapping[str, UniqueFakes]
    offsets: Mapping[str, int]

    @classmethod
    def for_run(cls, contract: Contract, real: pd.DataFrame, *, seed: int) -> Identifiers:
        avoid = {
            c.name: set(real[c.name].dropna().astype(str)) for c in contract.columns if c.is_faked
        }
        pools = {
            c.name: fake_pool(c.pii_kind, seed=seed + i, avoid=avoid[c.name])
            for i, c in enumerate(contract.columns)
            if c.is_faked
        }
        unique = {
            c.name: unique_fakes(pools[c.name], real=avoid[c.name], column=c.name)
            for c in contract.columns
            if c.is_faked and c.spec.constraints.unique
        }
        offsets = {
            c.name: int(c.maximum) if c.maximum is not None else 0
            for c in contract.columns
            if c.is_generated_key
        }
        return cls(pools, unique, offsets)


@dataclass
class RowFilter:
    """Drops sampled rows that `keep` rejects and tops the batch back up from fresh seeds, for up
    to `max_rounds` rounds (synth.redraw).

    Counts what it did (aggregates only): rows replaced, top-up rounds, rows it could not replace.
    """

    keep: Callable[[pd.DataFrame], np.ndarray]
    max_rounds: int = 10
    replaced: int = 0
    rounds: int = 0
    shortfall: int = 0

    def apply(self, engine: Engine, batch: Batch, modelled: pd.DataFrame) -> pd.DataFrame:
        """The batch's kept rows, then kept rows of fresh draws (round r seeded from the batch's
        seed and r, over-drawn by half) in the order drawn: synth.redraw's pooled loop."""
        conditions = batch.conditions or None

        def more(slots: np.ndarray, attempt: int) -> pd.DataFrame:
            need = len(slots)
            seed = int(np.random.SeedSequence([batch.seed, attempt]).generate_state(1)[0])
            return draw(engine, need + max(16, need // 2), seed=seed, conditions=conditions)

        draws, tally = redraw(
            modelled, keep=self.keep, draw=more, max_rounds=self.max_rounds, per_slot=False
        )
        self.replaced += tally.replaced
        self.rounds = max(self.rounds, tally.rounds)
        self.shortfall += tally.shortfall
        return pd.concat([d.items.iloc[d.taken] for d in draws], ignore_index=True)


def sample_batch(
    engine: Engine,
    batch: Batch,
    contract: Contract,
    identifiers: Identifiers,
    row_filter: RowFilter | None = None,
) -> pd.DataFrame:
    """One batch of finished rows: modelled columns from the engine, fresh keys, fake identifiers.

    With a `row_filter`, rejected rows are replaced; a batch it cannot fill comes back short (the
    expectations' row count and the privacy check then fail the gate).
    """
    modelled = draw(engine, batch.rows, seed=batch.seed, conditions=batch.conditions or None)
    if len(modelled) != batch.rows:
        raise DataError(f"engine returned {len(modelled)} rows for a batch of {batch.rows}")
    if row_filter is not None:
        modelled = row_filter.apply(engine, batch, modelled)
    return fill_columns(modelled, contract, identifiers, start=batch.start, seed=batch.seed)


def fill_columns(
    modelled: pd.DataFrame,
    contract: Contract,
    identifiers: Identifiers,
    *,
    start: int,
    seed: int,
) -> pd.DataFrame:
    """Finished rows [start, start + len(modelled)) of the output: the modelled columns as
    drawn, fresh keys, fake identifiers; cast to the contract."""
    rows = len(modelled)
    columns: dict[str, pd.Series] = {}
    for i, column in enumerate(contract.columns):
        if column.is_modelled or column.is_written:  # the engine's, text written given the row
            columns[column.name] = modelled[column.name].reset_index(drop=True)
        elif column.is_generated_key:
            columns[column.name] = key_values(
                column.physical, start, rows, seed=seed, offset=identifiers.offsets[column.name]
            )
        elif column.name in identifiers.unique:
            columns[column.name] = identifiers.unique[column.name].values(start, rows)
        else:
            pool = identifiers.pools[column.name]
            columns[column.name] = pick_fakes(pool, rows, seed=seed + i)
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
