"""Free text through the whole pipeline, on real Debian package summaries (examples/data): the text
column is written by its language model given the row (not faked), judged by the text check, and
a canary sentence held by three training rows appears nowhere a run leaves anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from tests.builders import REPO
from tests.security.test_canary import assert_nowhere
from validation.text import tokens

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

CANARY = "Zqxw canary keeps the vault code 4471 9023 under the blue stone"
QUICK = {
    "utility": {"min_ratio": 0.0},
    "quality": {"min_column_shapes": 0.6, "min_pair_trends": 0.3},
    "privacy": {"anonymeter": {"enabled": False}},
}


def _job(folder: Path, frame: pd.DataFrame, **summary: object) -> Path:
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "data.parquet", index=False)
    spec = {
        "config_version": 1,
        "name": "packages",
        "source": {"kind": "parquet", "path": "data.parquet"},
        "schema": {
            "columns": {
                "package": {"type": "id", "role": "key"},
                "section": {"type": "categorical", "role": "target"},
                "architecture": {"type": "categorical"},
                "installed_size_kb": {"type": "numerical"},
                "maintainer": {"type": "text", "role": "pii", "pii_kind": "email"},
                "summary": {"type": "text", "max_length": 10, **summary},
            }
        },
        "model": {"engine": "autoregressive", "params": {"text_epochs": 8, "text_hidden": 128}},
        "sample": {"seed": 1},
        "checks": QUICK,
        "output": {"path": "out"},
    }
    (folder / "job.yaml").write_text(json.dumps(spec))
    return folder / "job.yaml"


def _frame() -> pd.DataFrame:
    frame = pd.read_parquet(REPO / "examples" / "data" / "debian_packages.parquet")
    keep = frame["section"].map(frame["section"].value_counts()) >= 40  # sections with rows
    frame = frame[keep].head(1200).reset_index(drop=True)
    return frame[
        ["package", "section", "architecture", "installed_size_kb", "maintainer", "summary"]
    ]


def test_a_text_column_is_written_given_its_row_and_a_canary_is_found_nowhere(
    tmp_path: Path, capsys, caplog, prefect_home: Path
) -> None:
    frame = _frame()
    frame.loc[[3, 500, 900], "summary"] = CANARY  # three rows: below report.min_count (10)
    spec = _job(tmp_path / "job", frame)
    code = main(["run", str(spec), "--json"])
    logs = capsys.readouterr()
    assert code == 0, logs.err[-3000:]
    summary = json.loads(logs.out.strip().splitlines()[-1])
    published = pd.read_parquet(summary["data"])
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    text = next(c for c in metrics["verdict"]["checks"] if c["name"] == "text")
    assert text["passed"] and text["metrics"]["columns"] == 1
    detail = text["details"][0]
    assert detail["column"] == "summary" and detail["exact_copy_share"] <= 0.05
    # the summaries are the model's: words of the real vocabulary, not Faker's lorem ipsum
    vocabulary = {t for s in frame["summary"] for t in tokens(s)}
    written = [t for s in published["summary"] for t in tokens(s)]
    assert sum(t in vocabulary for t in written) / len(written) > 0.6
    assert not published["summary"].isin(frame["summary"]).mean() > 0.05
    info = metrics["run"]["engine_params"]
    assert info["text_epochs"] == 8
    fitted = metrics["run"]["text_models"]["summary"]
    assert fitted["truncated"] > 0 and fitted["stopped_by"] in ("early stopping", "epochs", "time")
    report = Path(summary["report"]).read_text(encoding="utf-8")
    assert "summary: generated samples" in report
    assert_nowhere(
        (CANARY, "vault code", "4471 9023"),
        (tmp_path / "job" / "out", prefect_home),
        [logs.out, logs.err, caplog.text],
    )


def test_generate_fake_keeps_faker_text(tmp_path: Path, capsys) -> None:
    frame = _frame().head(400)
    spec = _job(tmp_path / "job", frame, generate="fake")
    code = main(["run", str(spec), "--json"])
    logs = capsys.readouterr()
    assert code == 0, logs.err[-3000:]
    summary = json.loads(logs.out.strip().splitlines()[-1])
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    text = next(c for c in metrics["verdict"]["checks"] if c["name"] == "text")
    assert text["metrics"] == {"skipped": "no modelled text column"}
