"""Issue 18 item 9: a partition column's name becomes a folder name, so it must not escape the run.

`/abs/path` or `../x` would write outside the run folder; a leading `.` or `_` is a folder Arrow
skips (or fails on) after all the work. The spec refuses them at load, naming the field, and
publishing refuses any path that resolves outside the run folder, whatever got past the spec.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import SpecError, load_spec
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.publish import RunFolders, hive_segment, publish, require_inside
from tests.builders import COLUMNS, adult, stage_frames, write_job

HOSTILE = ["/abs/path", "../x", "../../escaped", ".hidden", "_meta", "a=b", "a\\b", "", "a\nb"]


@pytest.mark.parametrize("name", HOSTILE)
def test_the_spec_refuses_a_partition_column_that_is_no_folder_name(
    tmp_path: Path, name: str
) -> None:
    frame = adult(60).rename(columns={"sex": name})
    columns = {(name if k == "sex" else k): v for k, v in COLUMNS.items()}
    spec = write_job(
        tmp_path / "job", frame, schema={"columns": columns}, output={"partition_by": [name]}
    )
    with pytest.raises(SpecError, match=r"output\.partition_by(\.0)?: column .* (starts|holds|is)"):
        load_spec(spec)


def test_an_ordinary_partition_column_still_loads(tmp_path: Path) -> None:
    frame = adult(60).rename(columns={"sex": "Sex at birth"})
    columns = {("Sex at birth" if k == "sex" else k): v for k, v in COLUMNS.items()}
    spec = write_job(
        tmp_path / "job",
        frame,
        schema={"columns": columns},
        output={"partition_by": ["Sex at birth"]},
    )
    assert load_spec(spec).output.partition_by == ["Sex at birth"]


@pytest.mark.parametrize("name", ["../../../../../escaped", "/tmp/escaped", ".hidden"])
def test_publishing_never_writes_outside_the_run_even_past_the_spec(
    tmp_path: Path, name: str
) -> None:
    """The attack, with the spec check bypassed: a contract whose partition column is hostile.
    Unchecked, `data/../../../../../escaped=Female` is `tmp_path/escaped=Female`."""
    frame = adult(120).rename(columns={"sex": name})
    columns = {(name if k == "sex" else k): v for k, v in COLUMNS.items()}
    contract, typed = build_contract(frame, DatasetSchema(columns=columns), label="t")
    out = tmp_path / "out"
    folders = RunFolders.new(out, "job", "r1")
    staged = stage_frames([typed], folders.staged_parts, contract)
    with pytest.raises(SpecError, match="output.partition_by"):
        publish(
            folders,
            staged,
            passed=True,
            metadata={},
            documents={},
            compression="zstd",
            partition_by=[name],
        )
    folders.discard_staging()
    assert not list(tmp_path.rglob("*escaped*")) and not list(Path("/tmp").glob("escaped=*"))
    assert not (out / "job" / "latest").exists()


def test_a_path_that_resolves_outside_the_run_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run" / "data"
    run.mkdir(parents=True)
    assert require_inside(run / "sex=F" / "part.parquet", run) == run / "sex=F" / "part.parquet"
    (run / "link").symlink_to(tmp_path, target_is_directory=True)  # a folder planted inside
    for escape in (run / ".." / ".." / "x", run / "link" / "x", Path("/abs/x")):
        with pytest.raises(Exception, match="outside the run folder"):
            require_inside(escape, run)
    with pytest.raises(SpecError, match="column '../x'"):
        hive_segment("../x", "F")
