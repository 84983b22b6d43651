import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.publish import RunFolders, publish, stage_parts
from tests.builders import COLUMNS, adult


@pytest.fixture(scope="module")
def contract_and_rows():
    return build_contract(adult(250), DatasetSchema(columns=COLUMNS), label="t")


def _publish(out: Path, run_id: str, contract, typed, **kw) -> Path:
    folders = RunFolders.new(out, "job", run_id)
    staged = stage_parts(
        [typed.iloc[:100], typed.iloc[100:]], folders.staged_parts, contract, rows_per_file=120
    )
    return publish(
        folders,
        staged,
        passed=kw.get("passed", True),
        metadata={"run_id": run_id},
        documents={"metrics.json": "{}", "report.html": "<html></html>"},
        compression="zstd",
    )


def test_parts_are_cut_by_rows_and_carry_metadata(tmp_path: Path, contract_and_rows) -> None:
    contract, typed = contract_and_rows
    target = _publish(tmp_path, "r1", contract, typed)
    parts = sorted((target / "data").glob("*.parquet"))
    assert [pq.ParquetFile(p).metadata.num_rows for p in parts] == [120, 120, 10]
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
    staged = stage_parts([typed], folders.staged_parts, contract, rows_per_file=100)
    monkeypatch.setattr(publish_module.pq, "ParquetWriter", crashing_writer)
    with pytest.raises(OSError, match="disk full"):
        publish(folders, staged, passed=True, metadata={}, documents={}, compression="zstd")
    folders.discard_staging()
    assert (tmp_path / "job" / "latest").resolve() == good.resolve()
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["latest", "r1"]
    assert len(pq.read_table(good / "data")) == 250
