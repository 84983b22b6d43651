"""Scale-out on a real Dask LocalCluster (two worker processes) through prefect-dask."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.builders import spec, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _job(tmp_path: Path, **output) -> Path:
    checks = spec(tmp_path / "unused.parquet")["checks"]
    checks["privacy"]["anonymeter"] = {"enabled": False}  # not what this test is about
    return write_job(
        tmp_path / "job",
        output={"path": str(tmp_path / "out"), "rows_per_file": 1000, **output},
        checks=checks,
        scale={"allow_insecure": True},  # the LocalCluster speaks plain tcp:// on loopback
    )


def _run(capsys, *argv: str) -> dict:
    code = main([*argv, "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    return summary


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """The reference: 4,500 rows in batches of 500 at 1,000 rows a part (five partitions, the
    last one short), sampled in the flow's own process."""
    tmp_path = tmp_path_factory.mktemp("one-process")
    code = main(["run", str(_job(tmp_path)), "--rows", "4500", "--json"])
    assert code == 0
    return {"out": tmp_path / "out"}


def _summary(out: Path) -> dict:
    run = (out / "adult-small" / "latest").resolve()
    return {"data": str(run / "data"), "output": str(run)}


def test_two_dask_workers_publish_exactly_what_one_process_does(
    tmp_path: Path, capsys, dask_cluster: str, one_process: dict
) -> None:
    job = _job(tmp_path)
    here = _summary(one_process["out"])
    there = _run(
        capsys,
        "run",
        str(job),
        "--rows",
        "4500",
        "--out",
        str(tmp_path / "there"),
        "--dask-address",
        dask_cluster,
    )
    parts = [sorted(p.name for p in Path(s["data"]).glob("*.parquet")) for s in (here, there)]
    assert parts[0] == parts[1] == [f"part-{i:05d}.parquet" for i in range(5)]
    for name in parts[0]:
        a, b = (
            pq.read_table(Path(s["data"]) / name).replace_schema_metadata(None)
            for s in (here, there)
        )
        assert a.num_rows > 0 and a.equals(b), name
    metrics = [json.loads((Path(s["output"]) / "metrics.json").read_text()) for s in (here, there)]
    gates = [{c["name"]: c["metrics"] for c in m["verdict"]["checks"]} for m in metrics]
    assert gates[0]["expectations"]["partitions"] == gates[1]["expectations"]["partitions"] == 5
    # the statistical checks saw the same seeded rows: same scores to the last digit
    assert gates[0]["quality"] == gates[1]["quality"]
    assert gates[0]["privacy"] == gates[1]["privacy"]


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    job = _job(tmp_path)
    code = main(["run", str(job), "--rows", "600", "--dask-address", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == (
        "synth: error: scale.dask_address: no Dask scheduler answered at tcp://127.0.0.1:9"
    )
    assert not (tmp_path / "out" / "adult-small").exists()  # nothing half written


def test_hive_partitioned_output_holds_the_same_rows(
    tmp_path: Path, capsys, one_process: dict
) -> None:
    import pandas as pd
    import pyarrow.dataset as ds

    job = _job(tmp_path, partition_by=["sex", "income"])
    hive = _run(capsys, "run", str(job), "--rows", "4500")
    folders = sorted(p.relative_to(hive["data"]).as_posix() for p in Path(hive["data"]).glob("*/*"))
    assert folders == [
        "sex=Female/income=%3C%3D50K",
        "sex=Female/income=%3E50K",
        "sex=Male/income=%3C%3D50K",
        "sex=Male/income=%3E50K",
    ]
    back = ds.dataset(hive["data"], partitioning="hive").to_table().to_pandas()
    plain = pq.read_table(_summary(one_process["out"])["data"]).to_pandas()
    back = back[list(plain.columns)].sort_values("record_id").reset_index(drop=True)
    for column in ("sex", "income"):
        back[column] = back[column].astype(str)
        plain[column] = plain[column].astype(str)
    pd.testing.assert_frame_equal(back, plain.sort_values("record_id").reset_index(drop=True))
