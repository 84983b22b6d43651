"""The README's Python API example, run as it is written (a notebook's cells, in order)."""

import os
import re
from pathlib import Path

import pytest

import synth
from schemas.errors import SpecError
from tests.builders import REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


def test_the_readme_python_example_runs_as_written(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_readme_example(), "README.md", "exec"), scope)
    run, again = scope["run"], scope["again"]
    assert isinstance(run, synth.Run) and isinstance(again, synth.Run)
    assert run.status in ("published", "quarantined") and run.rows == 2_000
    assert run.report.is_file() and run.metrics["run"]["job"] == "adult_api"
    assert run.metrics["run"]["engine"] == "gaussian_copula"  # the change made in memory ran
    assert Path("jobs/adult_api.yaml").is_file()
    # the file is as drafted: the change made in memory was not written back
    assert synth.load_spec("jobs/adult_api.yaml").model.engine != "gaussian_copula"
    if run.passed:
        assert len(run.to_pandas()) == 2_000
    # nothing but the draft and the run folders was written
    assert sorted(os.listdir(tmp_path)) == ["examples", "jobs", "out"]


def test_bad_input_raises_one_line_and_a_spec_in_memory_stays_in_its_process(
    tmp_path: Path,
) -> None:
    with pytest.raises(SpecError, match="spec file does not exist"):
        synth.run(tmp_path / "missing.yaml")
    from synth.api import resolve_spec

    with pytest.raises(SpecError, match="runs only in the process that holds it"):
        resolve_spec("memory:0123456789abcdef")
