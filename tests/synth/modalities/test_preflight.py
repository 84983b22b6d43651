"""What `synth run` checks before Prefect starts (synth/modalities/table/preflight.py), and where it finds anonymeter."""

import os
import sys
from pathlib import Path

import pytest
import yaml

from schemas import DataError, SpecError, load_spec
from synth.modalities.table.preflight import preflight
from tests.builders import REPO, adult, write_job
from validation.anonymeter_run import installed_venvs, interpreter

_VENV = REPO / ".venv-anonymeter" / "bin" / "python"


def _job(tmp_path: Path, **sections) -> Path:
    sections.setdefault("model", {"engine": "independent"})  # no torch or SDV import needed
    return write_job(tmp_path / "job", adult(200), **sections)


def test_a_good_job_passes_preflight(tmp_path: Path) -> None:
    if not installed_venvs() and not os.environ.get("SYNTH_ANONYMETER_PYTHON"):
        pytest.skip("no anonymeter venv here (make anonymeter)")
    assert preflight(load_spec(_job(tmp_path))) is None


def test_an_anonymeter_that_cannot_run_stops_the_job_before_any_work(
    tmp_path: Path, monkeypatch
) -> None:
    missing = tmp_path / "nowhere" / "python"
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(missing))
    with pytest.raises(SpecError) as caught:
        preflight(load_spec(_job(tmp_path)))
    message = str(caught.value)
    assert message.startswith("checks.privacy.anonymeter is enabled but cannot run")
    assert str(missing) in message and "enabled: false" in message


def test_a_disabled_anonymeter_is_not_looked_for(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(tmp_path / "none"))
    checks = {"privacy": {"anonymeter": {"enabled": False}}}
    assert preflight(load_spec(_job(tmp_path, checks=checks))) is None


def test_data_that_breaks_the_contract_fails_preflight(tmp_path: Path) -> None:
    frame = adult(200).drop(columns="race")
    spec = write_job(tmp_path / "job", frame, model={"engine": "independent"})
    with pytest.raises(DataError, match="declared column 'race' is missing"):
        preflight(load_spec(spec))


def test_engine_parameters_are_checked_before_any_fit(tmp_path: Path) -> None:
    spec = _job(tmp_path, model={"engine": "independent", "params": {"epochs": 3}})
    with pytest.raises(SpecError, match="model.params: not accepted by engine independent"):
        preflight(load_spec(spec))


@pytest.mark.skipif(not _VENV.exists(), reason="no .venv-anonymeter here (make anonymeter)")
def test_the_project_anonymeter_venv_is_found_without_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("SYNTH_ANONYMETER_PYTHON", raising=False)
    if sys.prefix != sys.base_prefix:  # as `.venv/bin/synth` runs: beside the running venv
        assert Path(sys.prefix).parent / ".venv-anonymeter" / "bin" / "python" in installed_venvs()
    assert Path(interpreter()).resolve() == _VENV.resolve()


def test_relative_and_absolute_spec_paths_are_the_same_spec(tmp_path: Path, monkeypatch) -> None:
    """`synth regenerate` compares this fingerprint with the one the flow (which loads the spec
    by its absolute path) recorded: they must agree however the spec was named."""
    spec = _job(tmp_path)
    raw = yaml.safe_load(spec.read_text())
    raw["source"]["path"] = "data.parquet"
    raw["output"]["path"] = "../out"
    spec.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    relative, absolute = load_spec("job/job.yaml"), load_spec(spec.resolve())
    assert relative.fingerprint() == absolute.fingerprint()
    assert relative.source.path == (tmp_path / "job" / "data.parquet").resolve()
    assert relative.output.path.resolve() == (tmp_path / "out").resolve()
