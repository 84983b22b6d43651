"""Issue 32, items 2 and 5: a file synth writes is never written through a link someone planted.

Item 2, the attack: whoever can write a run folder plants `.report.html.partial` (the name synth
used to write through) or `report.html` as a symlink to a file outside (`~/.ssh/authorized_keys`),
and puts a newline and a key line into a `contract_notes` entry of metrics.json. `synth report RUN`
must leave the outside file as it was, never make report.html a link, and never put the key on a
line of its own in the report. Item 5: `synth run --out FILE` is exit 2 with one line naming the
file, in seconds, before Prefect starts, with nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli import main
from tests.builders import REPO, write_job
from tests.security.test_report_escaping import table_metrics

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlantedKeyPlantedKeyPlantedKey attacker@example.org"
ORIGINAL = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnersKeyOwnersKeyOwnersKey owner@example.org\n"


def _planted_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder whose metrics.json smuggles a key line, and the file the attacker aims at."""
    run = tmp_path / "out" / "adult" / "20240101T000000Z-abcdef"
    run.mkdir(parents=True)
    metrics = table_metrics()
    metrics["contract_notes"] = ["age: read as numbers", f"x\n{KEY}\n", f"y\r\n{KEY}\u2028z"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    victim = tmp_path / "home" / ".ssh" / "authorized_keys"
    victim.parent.mkdir(parents=True)
    victim.write_text(ORIGINAL)
    return run, victim


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def _no_key_line(html: str) -> None:
    assert "attacker@example.org" in html  # escaped text, on the note's own line
    assert not any(line.strip().startswith("ssh-ed25519") for line in html.splitlines())


def test_report_does_not_write_through_a_planted_partial_link(tmp_path: Path, capsys) -> None:
    run, victim = _planted_run(tmp_path)
    (run / ".report.html.partial").symlink_to(victim)
    code = main(["report", str(run)])
    assert code == 0, capsys.readouterr().err
    assert victim.read_text() == ORIGINAL
    report = run / "report.html"
    assert not report.is_symlink() and report.is_file()
    _no_key_line(report.read_text(encoding="utf-8"))


def test_report_refuses_to_replace_a_planted_report_link(tmp_path: Path, capsys) -> None:
    run, victim = _planted_run(tmp_path)
    (run / "report.html").symlink_to(victim)
    code = main(["report", str(run)])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2
    assert len(lines) == 1 and str(run / "report.html") in lines[0] and "link" in lines[0]
    assert victim.read_text() == ORIGINAL
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_report_refuses_a_run_folder_that_is_a_planted_link(tmp_path: Path, capsys) -> None:
    run, victim = _planted_run(tmp_path)
    elsewhere = run.parent / "20240101T000001Z-planted"
    elsewhere.symlink_to(victim.parent, target_is_directory=True)
    (victim.parent / "metrics.json").write_text((run / "metrics.json").read_text())
    code = main(["report", str(elsewhere)])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1 and str(elsewhere) in lines[0], lines
    assert sorted(p.name for p in victim.parent.iterdir()) == ["authorized_keys", "metrics.json"]


def test_report_follows_the_latest_link_synth_made(tmp_path: Path, capsys) -> None:
    run, _ = _planted_run(tmp_path)
    (run.parent / "latest").symlink_to(run.name, target_is_directory=True)
    assert main(["report", str(run.parent / "latest")]) == 0, capsys.readouterr().err
    assert (run / "report.html").is_file() and (run.parent / "latest").is_symlink()


def test_report_out_refuses_a_link_and_writes_a_file(tmp_path: Path, capsys) -> None:
    run, victim = _planted_run(tmp_path)
    link = tmp_path / "elsewhere.html"
    link.symlink_to(victim)
    assert main(["report", str(run), "--out", str(link)]) == 2
    assert victim.read_text() == ORIGINAL
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    _no_key_line((tmp_path / "r.html").read_text(encoding="utf-8"))


def test_schema_out_refuses_a_link(tmp_path: Path, capsys) -> None:
    victim = tmp_path / "victim"
    victim.write_text(ORIGINAL)
    (tmp_path / "schema.json").symlink_to(victim)
    assert main(["schema", "--out", str(tmp_path / "schema.json")]) == 2
    assert victim.read_text() == ORIGINAL
    assert main(["schema", "--out", str(tmp_path / "fresh.json")]) == 0
    assert json.loads((tmp_path / "fresh.json").read_text())


def test_init_force_refuses_a_linked_spec(tmp_path: Path, capsys) -> None:
    source = write_job(tmp_path / "job").with_name("data.parquet")
    victim = tmp_path / "victim"
    victim.write_text(ORIGINAL)
    (tmp_path / "job.yaml").symlink_to(victim)
    code = main(["init", str(source), "--out", str(tmp_path / "job.yaml"), "--force"])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1 and "job.yaml" in lines[-1], lines
    assert victim.read_text() == ORIGINAL


@pytest.mark.parametrize("under", [False, True], ids=["file", "under-a-file"])
def test_run_out_that_is_a_file_is_exit_2_in_seconds(tmp_path: Path, under: bool) -> None:
    spec = write_job(tmp_path / "job")
    taken = tmp_path / "taken"
    taken.write_text("not a folder\n")
    out = taken / "sub" if under else taken
    before = sorted(tmp_path.rglob("*"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(spec), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 2, done.stderr
    lines = _error_lines(done.stderr)
    assert len(lines) == 1 and str(taken) in lines[0] and "not a folder" in lines[0], lines
    assert elapsed < 5, elapsed
    assert sorted(tmp_path.rglob("*")) == before and taken.read_text() == "not a folder\n"


def test_run_out_that_is_a_planted_link_is_refused(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    (tmp_path / "out").symlink_to(tmp_path / "home", target_is_directory=True)
    code = main(["run", str(spec), "--out", str(tmp_path / "out")])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1 and str(tmp_path / "out") in lines[0], lines
    assert not (tmp_path / "home").exists()


def test_api_run_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    import synth
    from schemas.errors import SynthError

    taken = tmp_path / "taken"
    taken.write_text("")
    with pytest.raises(SynthError, match="not a folder") as caught:
        synth.run(write_job(tmp_path / "job"), out=taken)
    assert caught.value.exit_code == 2


def test_a_spec_output_path_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    (tmp_path / "job" / "out").write_text("")  # write_job's spec writes to job/out
    code = main(["run", str(spec)])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1 and "not a folder" in lines[0], lines


def test_regenerate_out_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    taken = tmp_path / "taken"
    taken.write_text("")
    code = main(["regenerate", str(spec), "--out", str(taken)])
    lines = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1 and "not a folder" in lines[0], lines


def test_a_planted_staging_link_is_refused(tmp_path: Path) -> None:
    from schemas.errors import SynthError
    from synth.io.run_folders import RunFolders

    out = tmp_path / "out"
    (out / "job").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    (out / "job" / ".staging").symlink_to(tmp_path / "home", target_is_directory=True)
    folders = RunFolders.new(out, "job", "20250101T000000Z-abcdef")
    with pytest.raises(SynthError, match="link") as caught:
        folders.begin()
    assert caught.value.exit_code == 2
    assert list((tmp_path / "home").iterdir()) == []
