"""Issue 18, item 6: what a Dask worker receives holds no real identifier, nor a way to test for
one, and synth refuses to send it over an unencrypted connection unless the spec says so.

The attack: whoever reads a partition task on its way to a worker (or runs the worker) used to
get each unique identifier column's real values as keyed hashes together with their key; with
low-entropy identifiers (SSNs: 10^9 candidates) hashing every candidate recovers them all. Here
the attacker asks every object in the payload whether it holds each real value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from schemas.spec import DatasetSchema, ExpectationChecks, SampleSpec
from synth.io import build_contract
from synth.modalities.table.partitions import Partition, run_partition
from synth.sampling import Identifiers, plan_batches, plan_partitions
from synth.tabular import make_engine
from tests.builders import CANARY_EMAIL, CANARY_NAME, COLUMNS, adult, write_job

UNIQUE = {"type": "text", "role": "pii", "constraints": {"unique": True}}
COLUMNS_WITH_SSN = {**COLUMNS, "email": UNIQUE, "ssn": {**UNIQUE, "pii_kind": "ssn"}}


def _frame(rows: int = 400) -> pd.DataFrame:
    frame = adult(rows)
    # low entropy on purpose: the identifiers a brute force recovers from their hashes
    frame["ssn"] = [f"078-05-{i:04d}" for i in range(rows)]
    return frame


def _partitions(frame: pd.DataFrame, folder: Path, *, seed: int = 3):
    contract, typed = build_contract(frame, DatasetSchema(columns=COLUMNS_WITH_SSN), label="t")
    engine = make_engine("independent")
    engine.fit(typed[[c.name for c in contract.modelled]], contract, seed=0)
    identifiers = Identifiers.for_run(contract, typed, seed=seed)
    batches = plan_batches(SampleSpec(rows=900, seed=seed, batch_size=150), default_rows=0)
    partitions = [
        Partition(
            index=i,
            batches=part,
            path=folder / f"part-{i:05d}.parquet",
            contract=contract,
            identifiers=identifiers,
            expectations=ExpectationChecks(),
            check_share=0.1,
            seed=seed,
        )
        for i, part in enumerate(plan_partitions(batches, 300))
    ]
    return partitions, engine, identifiers


def _reachable(root: Any, *, strings: bool = False) -> list[Any]:
    """Every object reachable from `root` through attributes, slots and collections (strings
    included when asked)."""
    seen, stack, found = set(), [root], []
    while stack:
        item = stack.pop()
        if strings and isinstance(item, str):
            found.append(item)
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, dict):
            stack.extend([*item.keys(), *item.values()])
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())
        for name in [*getattr(item, "__dict__", {}), *getattr(type(item), "__slots__", ())]:
            if hasattr(item, name):
                stack.append(getattr(item, name))
    return found


def test_a_partition_task_holds_no_real_identifier_nor_an_oracle_for_one(tmp_path: Path) -> None:
    import cloudpickle

    frame = _frame()
    partitions, engine, _ = _partitions(frame, tmp_path)
    real = [*frame["ssn"], *frame["email"], *frame["full_name"]]
    for partition in partitions:
        # what prefect-dask ships for one task: its parameters, pickled
        sent = cloudpickle.dumps({"partition": partition, "engine": engine})
        # (fake names may hold a real one, 'Dr. Thomas Snyder MD': bytes are searched for the
        # canaries and the SSNs, which no fake contains; every string for whole values)
        assert not [v for v in (*frame["ssn"], CANARY_EMAIL, CANARY_NAME) if v.encode() in sent]
        received = cloudpickle.loads(sent)
        strings = {s for s in _reachable(received, strings=True) if isinstance(s, str)}
        assert not strings & set(real)
        for item in _reachable(received["partition"].identifiers):
            if hasattr(type(item), "__contains__") and not isinstance(item, dict):
                held = [v for v in real if _holds(item, v)]
                assert held == [], (type(item).__name__, held[:3])


def _holds(container: Any, value: str) -> bool:
    try:
        return bool(value in container)
    except (TypeError, ValueError):
        return False


def test_unique_fakes_are_unique_across_partitions_and_never_a_real_value(
    tmp_path: Path,
) -> None:
    frame = _frame()
    _, _, first = _partitions(frame, tmp_path / "probe")
    # a real value that is exactly the fake the default numbering gives output row 42
    trap = first.unique["ssn"].value(42)
    frame.loc[1, "ssn"] = trap
    partitions, engine, identifiers = _partitions(frame, tmp_path)
    assert identifiers.unique["ssn"].marks != first.unique["ssn"].marks
    results = [run_partition(p, engine) for p in partitions]
    assert len(results) == 3
    written = pd.concat([pq.read_table(r.path).to_pandas() for r in results], ignore_index=True)
    assert len(written) == 900
    for column in ("ssn", "email"):
        assert written[column].is_unique, column
        assert not set(written[column]) & set(frame[column].astype(str)), column
    assert trap not in set(written["ssn"])


def _job_with(tmp_path: Path, **scale: Any) -> Path:
    return write_job(tmp_path / "job", scale=scale)


def test_a_plain_tcp_scheduler_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    from flows.cli import main

    job = _job_with(tmp_path)
    code = main(["run", str(job), "--dask-address", "tcp://10.0.0.5:8786"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("synth: error: ") and "tcp:// is not encrypted" in err[0]
    assert "scale.allow_insecure" in err[0]
    assert not (tmp_path / "job" / "out").exists()


@pytest.mark.parametrize(
    ("scale", "valid"),
    [
        ({"dask_address": "tcp://10.0.0.5:8786"}, False),
        ({"dask_address": "ws://10.0.0.5:8786"}, False),
        ({"dask_address": "tcp://10.0.0.5:8786", "allow_insecure": True}, True),
        ({"dask_address": "tls://10.0.0.5:8786"}, True),
    ],
)
def test_only_the_spec_may_allow_an_unencrypted_scheduler(
    tmp_path: Path, scale: dict, valid: bool
) -> None:
    from schemas import load_spec
    from schemas.errors import SpecError

    job = _job_with(tmp_path, **scale)
    if valid:
        assert load_spec(job).scale.dask_address == scale["dask_address"]
    else:
        with pytest.raises(SpecError, match=r"scale: dask_address: \w+:// is not encrypted"):
            load_spec(job)
