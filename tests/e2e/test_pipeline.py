"""Whole flows through Prefect's embedded server, with the real engines on small data."""

import json
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from tests.builders import CANARY_EMAIL, CANARY_NAME, COLUMNS, adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def test_run_publishes_parquet_matching_the_spec(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    code, summary = _run_json(capsys, "run", str(spec), "--rows", "700")
    assert code == 0 and summary["status"] == "published"
    table = pq.read_table(summary["data"])
    assert table.num_rows == 700
    assert table.schema.names == list(COLUMNS)
    assert (
        table.schema.field("age").type == pa.int64()
        and table.schema.field("sex").type == pa.string()
    )
    meta = json.loads(
        pq.ParquetFile(next(Path(summary["data"]).glob("*.parquet"))).schema_arrow.metadata[
            b"synth"
        ]
    )
    assert meta["job"] == "adult-small" and meta["verdict"] == "pass" and meta["seed"] == 3
    assert {
        "engine",
        "engine_params",
        "spec_hash",
        "source_fingerprint",
        "versions",
        "run_id",
    } <= set(meta)
    assert Path(summary["report"]).exists() and (Path(summary["output"]) / "metrics.json").exists()
    assert Path(summary["latest"]).resolve() == Path(summary["output"]).resolve()
    # value protection: education levels held by fewer than 5 training rows never leave
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    protected = metrics["run"]["value_protection"]
    assert protected["enabled"] and protected["columns"]["education"]["protected_values"] >= 2
    assert not {"Preschool", "1st-4th"} & set(table.column("education").to_pylist())
    assert "Value protection" in Path(summary["report"]).read_text(encoding="utf-8")


def test_same_spec_data_and_seed_give_identical_parquet(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    tables = []
    for out in ("a", "b"):
        code, summary = _run_json(capsys, "run", str(spec), "--out", str(tmp_path / out))
        assert code == 0
        tables.append(pq.read_table(summary["data"]).replace_schema_metadata(None))
    assert tables[0].equals(tables[1])


def test_conditions_and_csv_source(tmp_path: Path, capsys) -> None:
    spec = write_job(
        tmp_path / "job",
        fmt="csv",
        sample={
            "seed": 1,
            "conditions": [
                {"values": {"sex": "Female", "income": ">50K"}, "rows": 60},
                {"values": {"race": "Black"}, "rows": 40},
            ],
        },
        # Conditioned rows differ from the real table by design: checks that compare them
        # with the whole training set do not apply.
        checks={
            "quality": {"enabled": False},
            "utility": {"enabled": False},
            "detection": {"enabled": False},
        },
    )
    code, summary = _run_json(capsys, "run", str(spec))
    frame = pq.read_table(summary["data"]).to_pandas()
    assert code == 0 and len(frame) == 100
    assert (frame.iloc[:60]["sex"] == "Female").all() and (
        frame.iloc[:60]["income"] == ">50K"
    ).all()
    assert (frame.iloc[60:]["race"] == "Black").all()


def test_failed_gate_quarantines_exits_1_and_keeps_latest(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    code, good = _run_json(capsys, "run", str(spec))
    assert code == 0
    # Asking for hours beyond any real row: the engine obliges, the range expectation stops it.
    bad_spec = write_job(
        tmp_path / "bad",
        model={"engine": "independent"},
        sample={"conditions": [{"values": {"hours-per-week": 150}, "rows": 20}]},
    )
    code, bad = _run_json(
        capsys, "run", str(bad_spec), "--out", good["output"].rsplit("/adult-small", 1)[0]
    )
    assert code == 1 and bad["status"] == "quarantined"
    assert "/quarantine/" in bad["output"] and Path(bad["report"]).exists()
    assert any("range of column 'hours-per-week': 20 of" in r for r in bad["reasons"])
    assert Path(good["latest"]).resolve() == Path(good["output"]).resolve()


def test_report_command_re_renders_a_run_from_its_metrics(tmp_path: Path, capsys) -> None:
    code, summary = _run_json(capsys, "run", str(write_job(tmp_path / "job")), "--rows", "300")
    assert code == 0
    again = tmp_path / "again.html"
    assert main(["report", summary["output"], "--out", str(again)]) == 0
    original = Path(summary["report"]).read_text(encoding="utf-8")
    assert again.read_text(encoding="utf-8") == original
    for section in (
        "Fidelity",
        "Association difference",
        "Utility",
        "Detection",
        "Expectations",
        "Privacy: does the synthetic data reveal",
        "anonymeter attacks",
    ):
        assert section in original
    assert original.count("<svg") == 8  # one chart per modelled column, one of distances
    capsys.readouterr()
    assert main(["report", str(tmp_path)]) == 2
    assert "metrics.json: no such file" in capsys.readouterr().err


def test_crash_while_writing_leaves_previous_latest_and_no_partial_output(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    spec = write_job(tmp_path / "job")
    code, good = _run_json(capsys, "run", str(spec))
    assert code == 0
    import synth.io.publish as publish_module

    def crash(*args, **kwargs):
        raise OSError("injected: disk full")

    monkeypatch.setattr(publish_module, "_write_text_synced", crash)
    code = main(["run", str(spec)])
    assert code == 3
    job_dir = Path(good["output"]).parent
    # the job's lock file (empty) aside, only the good run and `latest`
    assert sorted(p.name for p in job_dir.iterdir() if p.name != ".lock") == sorted(
        ["latest", Path(good["output"]).name]
    )
    assert Path(good["latest"]).resolve() == Path(good["output"]).resolve()


def test_canary_pii_never_leaves_the_input(
    tmp_path: Path, capsys, caplog, prefect_home: Path
) -> None:
    frame = adult()
    real_names, real_emails = set(frame["full_name"]), set(frame["email"])
    # bootstrap copies training rows verbatim: the hardest case for the identifier columns, and
    # the negative control the privacy gate exists to stop.
    # its rows are kept (0700) so the test can read the identifiers the run wrote
    out = {"path": str(tmp_path / "job" / "out"), "keep_quarantined_rows": True}
    spec = write_job(tmp_path / "job", frame, model={"engine": "bootstrap"}, output=out)
    code, summary = _run_json(capsys, "run", str(spec))
    logs = capsys.readouterr()
    assert code == 1 and summary["status"] == "quarantined"
    assert not summary["metrics"]["privacy"]["passed"]
    assert any("exact copies" in r for r in summary["reasons"])
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    privacy = next(c for c in metrics["verdict"]["checks"] if c["name"] == "privacy")
    assert privacy["charts"]["anonymeter"]["evaluators"]  # anonymeter ran, in its own venv
    output = pq.read_table(summary["data"]).to_pandas()
    assert not set(output["full_name"]) & real_names and not set(output["email"]) & real_emails
    assert not set(output["record_id"]) & set(frame["record_id"])
    searched = [p for p in (tmp_path / "job" / "out").rglob("*") if p.is_file()]
    searched += [p for p in prefect_home.rglob("*") if p.is_file()]
    database = prefect_home / "prefect.db"
    assert b"synthesize" in database.read_bytes()  # the search below covers the server's records
    for needle in (CANARY_NAME, CANARY_EMAIL):
        for text in (logs.out, logs.err, caplog.text):
            assert needle not in text
        for path in searched:
            assert needle.encode() not in path.read_bytes(), path


def test_privacy_filter_replaces_close_rows_and_reports_the_count(tmp_path: Path, capsys) -> None:
    spec = write_job(
        tmp_path / "job",
        sample={
            "seed": 3,
            "batch_size": 500,
            "privacy_filter": {"enabled": True, "quantile": 0.05},
        },
    )
    code, summary = _run_json(capsys, "run", str(spec), "--rows", "600")
    assert code == 0, summary["reasons"]
    assert pq.read_table(summary["data"]).num_rows == 600
    privacy = summary["metrics"]["privacy"]
    assert privacy["filter_replaced"] > 0 and privacy["passed"]
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "Privacy filter" in report and "anonymeter attacks" in report


def test_rebalance_and_parity_publish_the_asked_shares(tmp_path: Path, capsys) -> None:
    sample = {
        "seed": 3,
        "batch_size": 500,
        "rebalance": [{"column": "sex", "shares": {"Male": 0.5, "Female": 0.5}}],
        "parity": {"column": "sex"},
    }
    code, summary = _run_json(capsys, "run", str(write_job(tmp_path / "job", sample=sample)))
    assert code == 0, summary["reasons"]
    out = pq.read_table(summary["data"]).to_pandas()
    assert len(out) == 1200 and abs((out["sex"] == "Female").mean() - 0.5) < 0.01
    rich = (out["income"] == ">50K").groupby(out["sex"]).mean()
    assert rich.max() - rich.min() < 0.02
    assert summary["metrics"]["bias"]["parity_gap"] < 0.02
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "Fairer generation: asked for and reached" in report
    assert "Fairness downstream (fairlearn)" in report


def test_sql_source_runs_end_to_end(tmp_path: Path, capsys, monkeypatch) -> None:
    database = tmp_path / "people.db"
    with sqlite3.connect(database) as connection:
        adult(400).to_sql("people", connection, index=False)
    spec = write_job(tmp_path / "job")
    raw = yaml.safe_load(spec.read_text())
    raw["source"] = {"kind": "sql", "url_env": "SYNTH_TEST_DB", "query": "select * from people"}
    spec.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SYNTH_TEST_DB", f"sqlite:///{database}")
    code, summary = _run_json(capsys, "run", str(spec), "--rows", "150")
    assert code == 0 and pq.read_table(summary["data"]).num_rows == 150
