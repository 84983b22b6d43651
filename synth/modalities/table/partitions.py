"""Sampling, writing and the per-partition checks, one partition at a time. The flow decides where
a partition runs: in its own process, or on an existing Dask cluster through prefect-dask
(`scale.dask_address`, `--dask-address`; flows/scale.py).

A partition is a run of consecutive seeded batches (`synth.sampling.plan_partitions`) and becomes one
staged Parquet part. What it holds, the expectation counts over it and the rows it lends to the
statistical checks depend only on the plan and the seed, so two workers or twenty write the same
data as one process. Workers return counts and a seeded sample, never the partition's rows.
What a worker receives holds no real identifier nor any hash of one (fakes are numbered by output
row, `synth.pii.UniqueFakes`), and it travels only over TLS unless the spec sets
`scale.allow_insecure` (`schemas.spec.ScaleSpec`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas import Contract
from schemas.spec import ExpectationChecks, JobSpec
from synth import progress
from synth.sampling import Batch, Identifiers, RowFilter, plan_partitions, sample_batch
from synth.tabular import Engine
from validation.expectations import ExpectationCounts, ExpectationRun

__all__ = ["Partition", "PartitionResult", "combined", "plan_work", "run_partition"]

_log = logging.getLogger("synth.sample")


@dataclass(frozen=True)
class Partition:
    """One unit of work: which batches, where its part goes, and what to check on the way."""

    index: int
    batches: tuple[Batch, ...]
    path: Path
    contract: Contract
    identifiers: Identifiers
    expectations: ExpectationChecks | None  # None: expectations are off
    check_share: float  # share of rows lent to the statistical checks
    seed: int
    row_filter: RowFilter | None = None
    planned_rows: int | None = None  # the whole run's, for progress

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


@dataclass(frozen=True)
class PartitionResult:
    index: int
    path: Path
    rows: int
    expectations: ExpectationCounts | None
    check_rows: pd.DataFrame  # the seeded sample for the statistical checks (stays in memory)
    replaced: int = 0
    shortfall: int = 0
    rounds: int = 0
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # sample, check, write


def plan_work(
    spec: JobSpec,
    contract: Contract,
    identifiers: Identifiers,
    batches: Sequence[Batch],
    staged: Path,
    row_filter: RowFilter | None = None,
) -> list[Partition]:
    """The job's partitions: runs of whole batches of at most `output.rows_per_file` rows, each
    staged as `part-NNNNN.parquet` under `staged`, all lending the same share to the checks."""
    planned = sum(b.rows for b in batches)
    return [
        Partition(
            index=i,
            batches=part,
            path=staged / f"part-{i:05d}.parquet",
            contract=contract,
            identifiers=identifiers,
            expectations=spec.checks.expectations if spec.checks.expectations.enabled else None,
            check_share=min(1.0, spec.checks.quality.sample_rows / planned) if planned else 1.0,
            seed=spec.sample.seed,
            row_filter=row_filter,
            planned_rows=planned,
        )
        for i, part in enumerate(plan_partitions(list(batches), spec.output.rows_per_file))
    ]


def run_partition(partition: Partition, engine: Engine) -> PartitionResult:
    """Sample the partition's batches, write them as one part, count expectations over every row
    and keep a seeded share of the rows for the statistical checks. Memory: one batch."""
    contract = partition.contract
    row_filter = partition.row_filter
    if row_filter is not None:  # a fresh tally per partition; the flow sums them
        row_filter = dataclasses.replace(row_filter, replaced=0, rounds=0, shortfall=0)
    checker = None
    if partition.expectations is not None:
        checker = ExpectationRun(contract, partition.expectations, expected_rows=partition.rows)
    picker = np.random.default_rng([partition.seed, partition.index])
    kept: list[pd.DataFrame] = []
    seconds = {"sample": 0.0, "check": 0.0}

    def frames() -> Iterator[pd.DataFrame]:
        for batch in partition.batches:
            started = time.perf_counter()
            frame = sample_batch(engine, batch, contract, partition.identifiers, row_filter)
            sampled = time.perf_counter()
            if checker is not None:
                checker.update(frame)
            kept.append(frame[picker.random(len(frame)) < partition.check_share])
            seconds["sample"] += sampled - started
            seconds["check"] += time.perf_counter() - sampled
            progress.advance("sample", len(frame), partition.planned_rows)  # none on Dask
            yield frame

    from synth.io.publish import write_part

    started = time.perf_counter()
    rows = write_part(frames(), partition.path, contract)
    seconds["write"] = time.perf_counter() - started - seconds["sample"] - seconds["check"]
    _log.info(
        "partition %d: %d rows in %d batches written",
        partition.index,
        rows,
        len(partition.batches),
    )
    return PartitionResult(
        index=partition.index,
        path=partition.path,
        rows=rows,
        expectations=checker.counts() if checker is not None else None,
        check_rows=pd.concat(kept, ignore_index=True),
        replaced=row_filter.replaced if row_filter else 0,
        shortfall=row_filter.shortfall if row_filter else 0,
        rounds=row_filter.rounds if row_filter else 0,
        seconds=seconds,
    )


def combined(results: Sequence[PartitionResult]) -> dict[str, Any]:
    """The privacy filter's tally over all partitions (aggregates only)."""
    return {
        "replaced": sum(r.replaced for r in results),
        "shortfall": sum(r.shortfall for r in results),
        "rounds": max((r.rounds for r in results), default=0),
    }
