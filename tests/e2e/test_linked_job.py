"""A linked job through the whole flow, as the README runs it: the growth-curve example (pigs and
their weekly weighings) published as one Parquet dataset per table, keys consistent, with the
linked-tables section in the report; and a broken reference refused in one line."""

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from synth.api import Run
from tests.builders import REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_linked_example_publishes_every_table_with_consistent_keys(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    code, summary = _run_json(
        capsys, "run", str(REPO / "examples" / "linked_pigs.yaml"), "--out", str(out)
    )
    assert code == 0, summary
    data = Path(summary["data"])
    assert sorted(p.name for p in data.iterdir()) == ["pigs", "weighings"]
    pigs = pq.read_table(data / "pigs").to_pandas()
    weighings = pq.read_table(data / "weighings").to_pandas()
    # referential integrity by construction: every weighing has a generated pig, keys unique
    assert pigs["pig"].is_unique
    assert set(weighings["pig"]) <= set(pigs["pig"])
    real = pd.read_parquet(REPO / "examples" / "data" / "linked" / "pigs.parquet")
    assert not set(pigs["pig"]) & set(real["pig"])  # fresh keys, none a real pig's
    # events in order within each pig, and the pig's own columns held
    assert weighings.groupby("pig")["time"].apply(lambda t: t.is_monotonic_increasing).all()
    metadata = json.loads(
        pq.ParquetFile(next((data / "weighings").iterdir())).schema_arrow.metadata[b"synth"]
    )
    assert metadata["kind"] == "linked" and metadata["verdict"] == "pass"
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    assert metrics["run"]["subjects"]["synthetic"] == len(pigs)
    tables = {t["table"]: t for t in metrics["linked"]["tables"]}
    assert tables["weighings"]["synthetic_rows"] == len(weighings)
    checks = {c["name"] for c in metrics["verdict"]["checks"]}
    assert {"expectations", "quality", "sequences", "privacy"} <= checks
    report = (Path(summary["output"]) / "report.html").read_text()
    assert "Linked tables" in report
    # the Python API reads one frame per table
    frames = Run.from_summary(summary).to_pandas()
    assert set(frames) == {"pigs", "weighings"} and len(frames["weighings"]) == len(weighings)


def test_an_orphan_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    pigs = pd.read_parquet(REPO / "examples" / "data" / "linked" / "pigs.parquet")
    weighings = pd.read_parquet(REPO / "examples" / "data" / "linked" / "weighings.parquet")
    pigs.iloc[1:].to_parquet(folder / "pigs.parquet", index=False)  # the first pig's rows orphaned
    weighings.to_parquet(folder / "weighings.parquet", index=False)
    spec = (REPO / "examples" / "linked_pigs.yaml").read_text()
    spec = spec.replace("data/linked/", "").replace("path: ../out", f"path: {tmp_path / 'out'}")
    (folder / "job.yaml").write_text(spec)
    code = main(["run", str(folder / "job.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "tables.weighings.foreign_keys" in err[-1] and "orphans" in err[-1]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_the_linked_report_renders_offline(tmp_path: Path, capsys, browser) -> None:
    from tests.e2e.browser import assert_no_remote_references

    example = str(REPO / "examples" / "linked_wages.yaml")
    code, summary = _run_json(capsys, "run", example, "--out", str(tmp_path / "out"))
    assert code == 0, summary
    report = Path(summary["report"])
    browser.get(report.resolve().as_uri())
    assert browser.title.startswith("synth report")
    assert_no_remote_references(browser)
    text = browser.execute_script("return document.body.innerText")
    assert "Linked tables" in text and "Privacy by subject" in text
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
