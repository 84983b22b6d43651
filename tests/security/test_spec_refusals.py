"""Issue 18, item 14 (spec part): what a spec may no longer make synth do.

- `checks.privacy.anonymeter.python` ran whatever program a spec named (reproduced: a script that
  writes a marker ran at preflight, with the user's rights). The interpreter now comes from the
  environment only; a spec that sets the field is refused, naming it, and nothing runs.
- `model.engine: bootstrap` copies real rows; with `checks.privacy.enabled: false` nothing stood
  between those rows and the published output. That combination is now refused, from the spec and
  from `--engine bootstrap` alike, before any data is read.
- An image spec accepted `output.partition_by`, `output.rows_per_file`, `report` and `split.by` and
  ignored them; it now refuses them, naming the field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.cli import main
from schemas import SpecError, load_spec
from tests.builders import write_job

PRIVACY_OFF = {"checks": {"privacy": {"enabled": False}}}


def test_a_spec_naming_an_interpreter_runs_nothing_and_is_refused(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    marker = tmp_path / "PROGRAM-RAN"
    program = tmp_path / "evil"
    program.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    program.chmod(0o700)
    monkeypatch.delenv("SYNTH_ANONYMETER_PYTHON", raising=False)
    job = write_job(
        tmp_path / "job",
        model={"engine": "independent"},
        checks={"privacy": {"anonymeter": {"python": str(program)}}},
    )
    with pytest.raises(SpecError) as caught:
        load_spec(job)
    message = str(caught.value)
    assert "checks.privacy.anonymeter.python" in message and "SYNTH_ANONYMETER_PYTHON" in message
    assert "\n" not in message
    assert main(["run", str(job)]) == 2  # through the CLI too: a spec error, before any work
    assert "checks.privacy.anonymeter.python" in capsys.readouterr().err
    assert not marker.exists()


def test_bootstrap_without_the_privacy_gate_is_refused(tmp_path: Path, capsys) -> None:
    leaky = write_job(tmp_path / "leaky", model={"engine": "bootstrap"}, **PRIVACY_OFF)
    with pytest.raises(SpecError, match="model.engine: bootstrap publishes copies of real rows"):
        load_spec(leaky)
    harmless = write_job(tmp_path / "ok", model={"engine": "independent"}, **PRIVACY_OFF)
    assert load_spec(harmless).model.engine == "independent"
    with pytest.raises(SpecError, match="checks.privacy.enabled"):
        load_spec(harmless, overrides={"model.engine": "bootstrap"})
    assert main(["run", str(harmless), "--engine", "bootstrap"]) == 2
    assert "bootstrap publishes copies of real rows" in capsys.readouterr().err
    assert not (tmp_path / "ok" / "out").exists()  # refused before anything was written


def _image_job(folder: Path, **sections: dict) -> Path:
    raw = {
        "kind": "images",
        "name": "digits8",
        "source": {"kind": "builtin", "name": "sklearn-digits"},
        "output": {"path": str(folder / "out")},
    }
    for section, fields in sections.items():
        raw[section] = {**raw.get(section, {}), **fields}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("section", "fields", "named"),
    [
        ("output", {"partition_by": ["label"]}, "output.partition_by: unknown field"),
        ("output", {"rows_per_file": 100}, "output.rows_per_file: unknown field"),
        ("report", {"min_count": 5}, "report: unknown field"),
        ("split", {"by": "subject"}, "split.by: unknown field"),
        ("scale", {"dask_address": "tls://10.0.0.5:8786"}, "scale: unknown field"),
    ],
)
def test_an_image_spec_refuses_table_settings_it_would_ignore(
    tmp_path: Path, section: str, fields: dict, named: str
) -> None:
    # these once loaded and did nothing: a user who set them believed they had an effect
    assert load_spec(_image_job(tmp_path / "plain")).kind == "images"
    with pytest.raises(SpecError) as caught:
        load_spec(_image_job(tmp_path / "set", **{section: fields}))
    message = str(caught.value)
    assert named in message and "\n" not in message
