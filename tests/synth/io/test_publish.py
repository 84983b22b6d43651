import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.publish import RunFolders, publish
from tests.builders import COLUMNS, adult, stage_frames


@pytest.fixture(scope="module")
def contract_and_rows():
    return build_contract(adult(250), DatasetSchema(columns=COLUMNS), label="t")


def _publish(out: Path, run_id: str, contract, typed, **kw) -> Path:
    folders = RunFolders.new(out, "job", run_id)
    staged = stage_frames([typed.iloc[:100], typed.iloc[100:]], folders.staged_parts, contract)
    return publish(
        folders,
        staged,
        passed=kw.get("passed", True),
        metadata={"run_id": run_id},
        documents={"metrics.json": "{}", "report.html": "<html></html>"},
        compression="zstd",
    )


def test_parts_keep_their_rows_and_carry_metadata(tmp_path: Path, contract_and_rows) -> None:
    contract, typed = contract_and_rows
    target = _publish(tmp_path, "r1", contract, typed)
    parts = sorted((target / "data").glob("*.parquet"))
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [100, 150]
    assert json.loads(pq.ParquetFile(parts[0]).schema_arrow.metadata[b"synth"])["run_id"] == "r1"
    assert (tmp_path / "job" / "latest").resolve() == target.resolve()
    assert not (tmp_path / "job" / ".staging").exists()


def test_failed_gate_goes_to_quarantine_and_latest_stays(tmp_path: Path, contract_and_rows) -> None:
    contract, typed = contract_and_rows
    good = _publish(tmp_path, "r1", contract, typed)
    bad = _publish(tmp_path, "r2", contract, typed, passed=False)
    assert bad == tmp_path / "job" / "quarantine" / "r2"
    assert (tmp_path / "job" / "latest").resolve() == good.resolve()


def test_crash_while_writing_leaves_previous_output_untouched(
    tmp_path: Path, contract_and_rows, monkeypatch
) -> None:
    contract, typed = contract_and_rows
    good = _publish(tmp_path, "r1", contract, typed)
    import synth.io.publish as publish_module

    real_writer = publish_module.pq.ParquetWriter
    calls = {"n": 0}

    def crashing_writer(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second sealed part file
            raise OSError("disk full")
        return real_writer(*args, **kwargs)

    folders = RunFolders.new(tmp_path, "job", "r2")
    staged = stage_frames([typed.iloc[:100], typed.iloc[100:]], folders.staged_parts, contract)
    monkeypatch.setattr(publish_module.pq, "ParquetWriter", crashing_writer)
    with pytest.raises(OSError, match="disk full"):
        publish(folders, staged, passed=True, metadata={}, documents={}, compression="zstd")
    folders.discard_staging()
    assert (tmp_path / "job" / "latest").resolve() == good.resolve()
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == [".lock", "latest", "r1"]
    assert len(pq.read_table(good / "data")) == 250


def test_hive_partitions_read_back_as_the_same_rows(tmp_path: Path, contract_and_rows) -> None:
    import pandas as pd
    import pyarrow.dataset as ds

    from synth.io.publish import hive_segment

    contract, typed = contract_and_rows
    odd = typed.copy()
    odd.loc[odd.index[:7], "workclass"] = "a/b c=d%"  # a value no folder name can hold as is
    odd.loc[odd.index[7:12], "workclass"] = None
    folders = RunFolders.new(tmp_path, "job", "r1")
    staged = stage_frames([odd.iloc[:100], odd.iloc[100:]], folders.staged_parts, contract)
    target = publish(
        folders,
        staged,
        passed=True,
        metadata={"run_id": "r1"},
        documents={},
        compression="zstd",
        partition_by=["sex", "workclass"],
    )
    data = target / "data"
    assert (data / hive_segment("sex", "Female") / hive_segment("workclass", "a/b c=d%")).is_dir()
    assert (data / "sex=Male" / "workclass=__HIVE_DEFAULT_PARTITION__").is_dir()
    files = sorted(data.rglob("*.parquet"))
    assert {f.name for f in files} == {"part-00000.parquet", "part-00001.parquet"}
    assert all("sex" not in pq.ParquetFile(f).schema_arrow.names for f in files)
    assert json.loads(pq.ParquetFile(files[0]).schema_arrow.metadata[b"synth"])["run_id"] == "r1"
    back = ds.dataset(data, format="parquet", partitioning="hive").to_table().to_pandas()
    back = back[list(odd.columns)].sort_values("record_id").reset_index(drop=True)
    want = odd.sort_values("record_id").reset_index(drop=True)
    for column in ("sex", "workclass"):
        back[column] = back[column].astype("string")
    pd.testing.assert_frame_equal(back, want, check_dtype=False)


def test_too_many_partition_folders_is_a_spec_error(contract_and_rows) -> None:
    from schemas import SpecError
    from synth.io.publish import check_partitioning

    contract, _ = contract_and_rows
    check_partitioning(contract, ["sex", "race"])
    with pytest.raises(SpecError, match=r"output.partition_by: .* folders; at most 1000"):
        check_partitioning(contract, ["sex", "race", "education", "workclass", "income"])
