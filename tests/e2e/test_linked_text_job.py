"""Free text in a linked job through the whole flow, on real Debian package summaries under teams
(a maintainer's packages in one section): the child table's text column is written by its
language model given the parent and the row (not faked), judged by the text check against the
holdout subjects' texts, and a canary sentence in three child rows appears nowhere a run leaves
anything."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from tests.builders import debian_teams
from tests.security.test_canary import assert_nowhere
from validation.text import tokens

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

CANARY = "Zqxw canary keeps the vault code 4471 9023 under the blue stone"
PARAMS = {"epochs": 30, "patience": 3, "width": 16, "text_epochs": 8, "text_hidden": 96}


def _job(folder: Path) -> tuple[Path, pd.DataFrame]:
    folder.mkdir(parents=True)
    teams, packages = debian_teams()
    packages.loc[[3, 400, 700], "summary"] = CANARY  # three rows: below report.min_count (10)
    teams.to_parquet(folder / "teams.parquet", index=False)
    packages.to_parquet(folder / "packages.parquet", index=False)
    spec = {
        "kind": "linked",
        "name": "teams",
        "tables": [
            {
                "name": "teams",
                "source": {"kind": "parquet", "path": "teams.parquet"},
                "schema": {"columns": {"team": {"type": "id"}, "section": {"type": "categorical"}}},
                "primary_key": "team",
            },
            {
                "name": "packages",
                "source": {"kind": "parquet", "path": "packages.parquet"},
                "schema": {
                    "columns": {
                        "package": {"type": "id"},
                        "team": {"type": "id"},
                        "architecture": {"type": "categorical"},
                        "installed_size_kb": {"type": "numerical"},
                        "summary": {"type": "text", "max_length": 12},
                    }
                },
                "primary_key": "package",
                "foreign_keys": [{"column": "team", "parent": "teams"}],
            },
        ],
        "model": {"params": PARAMS},
        "sample": {"seed": 1},
        "output": {"path": "out"},
    }
    (folder / "job.yaml").write_text(json.dumps(spec))
    return folder / "job.yaml", packages


def test_a_child_text_column_is_written_checked_and_its_canary_found_nowhere(
    tmp_path: Path, capsys, caplog, prefect_home: Path
) -> None:
    spec, packages = _job(tmp_path / "job")
    code = main(["run", str(spec), "--json"])
    logs = capsys.readouterr()
    assert code == 0, logs.err[-3000:]
    summary = json.loads(logs.out.strip().splitlines()[-1])
    published = pd.read_parquet(Path(summary["data"]) / "packages")
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    text = next(c for c in metrics["verdict"]["checks"] if c["name"] == "text")
    assert text["passed"] and text["metrics"]["columns"] == 1, text
    assert text["metrics"]["packages.label"] == "teams.section"  # coherence with the parent
    detail = text["details"][0]
    assert detail["column"] == "packages.summary" and detail["exact_copy_share"] <= 0.1
    # the summaries are the model's: words of the real vocabulary, not Faker's lorem ipsum
    vocabulary = {t for s in packages["summary"] for t in tokens(s)}
    written = [t for s in published["summary"] for t in tokens(s)]
    assert written and sum(t in vocabulary for t in written) / len(written) > 0.9
    fitted = metrics["run"]["text_models"]["packages"]["summary"]
    assert fitted["stopped_by"] in ("early stopping", "epochs", "time")
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "packages.summary: generated samples" in report
    assert_nowhere(
        (CANARY, "vault code", "4471 9023", "Zqxw"),
        (tmp_path / "job" / "out", prefect_home),
        [logs.out, logs.err, caplog.text],
    )
