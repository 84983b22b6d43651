"""The README's Python API example, run as it is written (a notebook's cells, in order)."""

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


# what the test checks after the README's cells, in the same kernel
_CHECKS = """
from pathlib import Path
import os
assert isinstance(run, synth.Run) and isinstance(again, synth.Run)
assert run.status in ("published", "quarantined") and run.rows == 2_000
assert run.report.is_file() and run.metrics["run"]["job"] == "adult_api"
assert run.metrics["run"]["engine"] == "gaussian_copula"  # the change made in memory ran
# the file is as drafted: the change made in memory was not written back
assert synth.load_spec("jobs/adult_api.yaml").model.engine != "gaussian_copula"
assert not run.passed or len(run.to_pandas()) == 2_000
assert run.verdict["status"] == ("pass" if run.passed else "fail") and checks
assert sorted(os.listdir(".")) == ["examples", "jobs", "out"], os.listdir(".")
"""


def test_the_readme_python_example_runs_in_a_notebook_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's example as a notebook's cells (split at blank lines), executed by a real
    Jupyter kernel that starts its own embedded Prefect server, as a data team's notebook does."""
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    # the kernel's own Prefect home: its embedded server is not this session's
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "kernel-prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    cells = [c for c in _readme_example().split("\n\n") if c.strip()] + [_CHECKS]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()  # a failing cell raises CellExecutionError with its traceback
    printed = "".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    assert "published" in printed or "quarantined" in printed


def test_bad_input_raises_one_line_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file does not exist"):
        synth.run(tmp_path / "missing.yaml")
    spec = synth.load_spec(REPO / "examples" / "adult.yaml")
    broken = spec.model_copy(update={"model": spec.model.model_copy(update={"engine": "nope"})})
    with pytest.raises(SpecError, match="model.engine"):  # a copy is validated when it runs
        synth.run(broken)
