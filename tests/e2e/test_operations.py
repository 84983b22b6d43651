"""Operations end to end: the model store through `synth run`, and `synth regenerate` for CI."""

import json
from pathlib import Path

import pytest

from flows.cli import main
from tests.builders import adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

QUICK = {  # anonymeter has its own tests; these runs are about what runs and what is reused
    "checks": {
        "utility": {"min_ratio": 0.0},
        "quality": {"min_column_shapes": 0.6, "min_pair_trends": 0.3},
        "privacy": {"anonymeter": {"enabled": False}},
    }
}


@pytest.fixture(autouse=True)
def private_store_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_MODEL_STORE_KEY", str(tmp_path / "secret" / "store.key"))


def _json_lines(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = main([*argv, "--json"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, [json.loads(line) for line in lines if line.startswith("{")]


def _run_record(summary: dict) -> dict:
    return json.loads((Path(summary["output"]) / "metrics.json").read_text())["run"]


def test_a_second_run_reuses_the_stored_model_unless_told_to_retrain(
    tmp_path: Path, capsys, private_model_store: Path
) -> None:
    spec = write_job(tmp_path / "job", **QUICK)
    code, [first] = _json_lines(capsys, "run", str(spec))
    assert code == 0 and _run_record(first)["model_cache"] == "stored"
    code, [second] = _json_lines(capsys, "run", str(spec), "--rows", "300")
    assert code == 0 and _run_record(second)["model_cache"] == "reused"
    assert _run_record(second)["fit_seconds"] == _run_record(first)["fit_seconds"]
    code, [third] = _json_lines(capsys, "run", str(spec), "--retrain")
    assert code == 0 and _run_record(third)["model_cache"] == "retrained"
    assert not (tmp_path / "job" / "out" / ".models").exists()  # never beside the output
    store = private_model_store
    assert len([p for p in store.iterdir() if not p.name.startswith(".")]) == 1


def test_regenerate_runs_only_what_changed_and_fails_on_a_failed_gate(
    tmp_path: Path, capsys
) -> None:
    spec = write_job(tmp_path / "job", **QUICK)
    code, [row] = _json_lines(capsys, "regenerate", str(spec), "--dry-run")
    assert code == 0 and (row["reason"], row["verdict"]) == ("never published", "would run")
    assert not (tmp_path / "job" / "out").exists()

    code, [row] = _json_lines(capsys, "regenerate", str(spec))
    assert code == 0 and (row["reason"], row["verdict"]) == ("never published", "published")
    runs = sorted((tmp_path / "job" / "out" / "adult-small").glob("2*"))

    code, [row] = _json_lines(capsys, "regenerate", str(spec))
    assert code == 0 and (row["reason"], row["verdict"]) == ("unchanged", "-")
    assert sorted((tmp_path / "job" / "out" / "adult-small").glob("2*")) == runs  # nothing ran

    adult(1200, seed=1).to_parquet(tmp_path / "job" / "data.parquet", index=False)
    leaky = write_job(tmp_path / "leaky", model={"engine": "bootstrap"}, **QUICK)
    code, rows = _json_lines(capsys, "regenerate", str(spec), str(leaky))
    assert code == 1  # the bootstrap engine copies rows: its gate fails
    assert [(r["job"], r["reason"], r["verdict"]) for r in rows] == [
        ("adult-small", "source changed", "published"),
        ("adult-small", "never published", "quarantined"),
    ]


def test_regenerate_prints_a_table_and_stops_on_a_bad_spec(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job", **QUICK)
    assert main(["regenerate", str(spec), "--dry-run"]) == 0
    header, line = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["job", "reason", "verdict", "output"]
    assert line.split()[:3] == ["adult-small", "never", "published"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nkind: tables\n")
    assert main(["regenerate", str(spec), str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert not (tmp_path / "job" / "out").exists()  # checked before anything ran
