"""`synth init` from the command line, a drafted spec run as written, and `synth regenerate` on a
spec named by a relative path."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.cli import main
from tests.builders import adult, write_job

ADULT_CSV = Path("/work/shared/datasets/adult/adult.csv")
REPO_ADULT = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.parquet"


def _adult_csv(path: Path, rows: int) -> Path:
    """A few thousand real Adult rows as a plain CSV, as a user would bring them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if ADULT_CSV.exists():
        frame = pd.read_csv(ADULT_CSV, dtype=str).head(rows)
    else:  # the bundled sample, without its made-up identifier columns
        frame = pd.read_parquet(REPO_ADULT).drop(columns=["record_id", "full_name", "email"])
        frame = frame.head(rows)
    frame.to_csv(path, index=False)
    return path


def test_init_writes_a_spec_that_validates(tmp_path: Path, capsys) -> None:
    data = _adult_csv(tmp_path / "data" / "adult.csv", 500)
    spec = tmp_path / "adult.yaml"
    assert main(["init", str(data), "--target", "income", "--sensitive", "sex", "race",
                 "--out", str(spec)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {spec}: 15 columns") and f"synth run {spec}" in out
    assert main(["validate-spec", str(spec)]) == 0
    assert "ok (job adult, engine autoregressive, 15 columns)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "salary"], "--target: {data} has no column 'salary'"),
        (["--sensitive", "sex", "religion"], "--sensitive: {data} has no column 'religion'"),
        (["--name", "Bad Name"], "--name: 'Bad Name' is not a job name"),
        (["--query", "select 1"], "--query: only a SQL source"),
    ],
)
def test_init_input_errors_are_one_line_and_write_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys
) -> None:
    data = _adult_csv(tmp_path / "adult.csv", 100)
    spec = tmp_path / "job.yaml"
    assert main(["init", str(data), "--out", str(spec), *argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"synth: error: {message.format(data=data)}")
    assert not spec.exists()


def test_init_subject_writes_a_split_by_subject(tmp_path: Path, capsys) -> None:
    data = _adult_csv(tmp_path / "adult.csv", 200)
    spec = tmp_path / "job.yaml"
    assert main(["init", str(data), "--subject", "education", "--out", str(spec)]) == 0
    drafted = yaml.safe_load(spec.read_text())
    assert drafted["split"] == {"holdout": 0.2, "seed": 0, "by": "education"}
    assert drafted["schema"]["columns"]["education"] == {"type": "id"}  # never modelled
    assert main(["validate-spec", str(spec)]) == 0
    assert main(["init", str(data), "--subject", "who", "--out", str(spec), "--force"]) == 2
    assert f"--subject: {data} has no column 'who'" in capsys.readouterr().err
    argv = ["init", str(data), "--subject", "sex", "--sensitive", "sex", "--out", str(spec)]
    assert main([*argv, "--force"]) == 2
    assert "--subject: column 'sex' is also --target or --sensitive" in capsys.readouterr().err


def test_init_does_not_overwrite_a_spec(tmp_path: Path, capsys) -> None:
    data = _adult_csv(tmp_path / "adult.csv", 100)
    spec = tmp_path / "job.yaml"
    spec.write_text("# mine\n")
    assert main(["init", str(data), "--out", str(spec)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert spec.read_text() == "# mine\n"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_a_drafted_spec_runs_as_written_on_a_small_real_table(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_MODEL_STORE_KEY", str(tmp_path / "secret" / "store.key"))
    data = _adult_csv(tmp_path / "data" / "adult.csv", 3000)
    spec = tmp_path / "specs" / "adult.yaml"
    assert main(["init", str(data), "--target", "income", "--sensitive", "sex", "race",
                 "--out", str(spec)]) == 0  # fmt: skip
    capsys.readouterr()
    code = main(["run", str(spec), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary.get("reasons")
    assert summary["status"] == "published" and summary["rows"] == 3000
    assert Path(summary["output"]).parent == (tmp_path / "specs" / "out" / "adult").resolve()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_regenerate_on_a_relative_spec_path_skips_an_unchanged_job(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTH_MODEL_STORE_KEY", str(tmp_path / "secret" / "store.key"))
    spec = write_job(tmp_path / "job", adult(600), model={"engine": "independent"})
    raw = yaml.safe_load(spec.read_text())
    raw["source"]["path"] = "data.parquet"  # relative, as committed specs are
    raw["output"]["path"] = "out"
    raw["checks"]["privacy"]["anonymeter"] = {"enabled": False}
    spec.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)

    def regenerate() -> dict:
        code = main(["regenerate", "job/job.yaml", "--json"])
        assert code == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert (regenerate()["reason"], regenerate()["reason"]) == ("never published", "unchanged")
    assert len(list((tmp_path / "job" / "out" / "adult-small").glob("2*"))) == 1
