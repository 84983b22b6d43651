"""Partitions: how the plan is cut, what one partition writes and counts, and how counts add up."""

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from schemas.spec import DatasetSchema, ExpectationChecks, SampleSpec
from synth.io import build_contract
from synth.modalities.table.partitions import Partition, run_partition
from synth.sampling import Identifiers, plan_batches, plan_partitions, sample_batch
from synth.tabular import make_engine
from tests.builders import COLUMNS, adult
from validation.expectations import ExpectationRun, judge


@pytest.fixture(scope="module")
def fitted():
    contract, typed = build_contract(adult(600), DatasetSchema(columns=COLUMNS), label="t")
    engine = make_engine("independent")
    engine.fit(typed[[c.name for c in contract.modelled]], contract, seed=0)
    return contract, typed, engine


def test_partitions_are_runs_of_whole_batches_cut_by_the_plan_alone() -> None:
    plan = SampleSpec(rows=4500, seed=1, batch_size=500)
    batches = plan_batches(plan, default_rows=0)
    parts = plan_partitions(batches, 1000)
    assert [sum(b.rows for b in p) for p in parts] == [1000, 1000, 1000, 1000, 500]
    assert [b.index for p in parts for b in p] == list(range(9))  # every batch once, in order
    # a batch larger than a partition is a partition of its own
    big = plan_partitions(plan_batches(SampleSpec(rows=900, batch_size=600), default_rows=0), 500)
    assert [[b.rows for b in p] for p in big] == [[600], [300]]


def _partitions(contract, typed, batches, folder: Path, limit: int) -> list[Partition]:
    identifiers = Identifiers.for_run(contract, typed, seed=3)
    return [
        Partition(
            index=i,
            batches=part,
            path=folder / f"part-{i:05d}.parquet",
            contract=contract,
            identifiers=identifiers,
            expectations=ExpectationChecks(),
            check_share=0.25,
            seed=3,
        )
        for i, part in enumerate(plan_partitions(batches, limit))
    ]


def test_a_partition_writes_its_batches_and_counts_what_one_whole_run_counts(
    fitted, tmp_path: Path
) -> None:
    contract, typed, engine = fitted
    batches = plan_batches(SampleSpec(rows=1000, seed=3, batch_size=200), default_rows=0)
    results = [
        run_partition(p, engine) for p in _partitions(contract, typed, batches, tmp_path, 400)
    ]
    assert [r.rows for r in results] == [400, 400, 200]
    written = pd.concat([pq.read_table(r.path).to_pandas() for r in results], ignore_index=True)
    identifiers = Identifiers.for_run(contract, typed, seed=3)
    expected = pd.concat(
        [sample_batch(engine, b, contract, identifiers) for b in batches], ignore_index=True
    )
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    # counts from three partitions judge exactly as one run over every row
    whole = ExpectationRun(contract, ExpectationChecks(), expected_rows=1000)
    for frame in (expected.iloc[:500], expected.iloc[500:]):
        whole.update(frame)
    merged = judge([r.expectations for r in results], expected_rows=1000)

    # (the column set and types are checked on each run's first batch, so their element counts
    # follow the batching; every value expectation counts every row once)
    def values(result):
        return [d for d in result.details if d["expectation"] not in ("columns", "type")]

    assert merged.passed and values(merged) == values(whole.result())
    assert merged.metrics["partitions"] == 3
    # the rows lent to the statistical checks: about a quarter, the same on a rerun
    lent = sum(len(r.check_rows) for r in results)
    assert 180 < lent < 320
    again = run_partition(_partitions(contract, typed, batches, tmp_path / "b", 400)[1], engine)
    assert again.check_rows.equals(results[1].check_rows)


def test_duplicates_split_across_partitions_are_found() -> None:
    columns = {**COLUMNS, "email": {"type": "text", "role": "pii", "constraints": {"unique": True}}}
    contract, typed = build_contract(adult(300), DatasetSchema(columns=columns), label="t")
    counts = []
    for _ in range(2):  # two partitions holding the same unique emails
        run = ExpectationRun(contract, ExpectationChecks(), expected_rows=300)
        run.update(typed)
        counts.append(run.counts())
    merged = judge(counts, expected_rows=600)
    assert any("unique of column 'email': 300 of 600" in r for r in merged.reasons)
    assert not judge([], expected_rows=10).passed


def test_what_a_worker_receives_holds_no_real_identifier(fitted, tmp_path: Path) -> None:
    import pickle

    from tests.builders import CANARY_EMAIL, CANARY_NAME

    contract, typed, _ = fitted
    batches = plan_batches(SampleSpec(rows=100, seed=3, batch_size=100), default_rows=0)
    partition = _partitions(contract, typed, batches, tmp_path, 100)[0]
    sent = pickle.dumps(partition)
    assert CANARY_NAME.encode() not in sent and CANARY_EMAIL.encode() not in sent
