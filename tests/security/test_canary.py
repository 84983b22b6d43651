"""Issue 18, the canary test grown: real values that synth promises never to repeat are planted
where the review found them leaking, and searched for in everything a run leaves behind.

- a category held by three real rows (fewer than value protection's and the report's min_count),
  in a modelled column, a sensitive column and the target: once the default positive class, so
  named in metrics, report and gate reasons;
- a credential in a SQL URL's query string (`?password=`), which error messages printed;
- a person's name as an image file name, which image errors printed.

Each is searched for in stdout, stderr, the log records, every file under the output folder and
under PREFECT_HOME (its database holds every flow run's logs, parameters and artifacts).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from flows.cli import main
from tests.builders import adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

RARE_EDUCATION = "Zqxw-rare-education-c4n4ry"
RARE_RACE = "Zqxw-rare-race-c4n4ry"
RARE_INCOME = "Zqxw-rare-income-c4n4ry"
SQL_SECRET = "Zqxw-sql-password-c4n4ry"
IMAGE_NAME = "Zqxw-Person-Name-c4n4ry"
QUICK_CHECKS = {
    "utility": {"min_ratio": 0.0},
    "quality": {"min_column_shapes": 0.6, "min_pair_trends": 0.3},
    "privacy": {"anonymeter": {"enabled": False}},  # its worker's output has a test of its own
}


def assert_nowhere(
    needles: Iterable[str], roots: Iterable[Path], logs: Iterable[str]
) -> list[Path]:
    """No needle in any log text or in any file under `roots`; returns the files searched."""
    searched = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
    for needle in needles:
        for text in logs:
            assert needle not in text, needle
        for path in searched:
            assert needle.encode() not in path.read_bytes(), (needle, path)
    return searched


def _run(capsys, caplog, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    logs = capsys.readouterr()
    return code, [logs.out, logs.err, caplog.text]


def test_a_category_below_min_count_is_found_nowhere(
    tmp_path: Path, capsys, caplog, prefect_home: Path
) -> None:
    frame = adult(400, canary=False)
    # three rows each: below value protection's min_count (5) and the report's (10)
    frame.loc[1:3, "education"] = RARE_EDUCATION
    frame.loc[4:6, "race"] = RARE_RACE
    frame.loc[7:9, "income"] = RARE_INCOME
    spec = write_job(tmp_path / "job", frame, checks=QUICK_CHECKS)
    code, logs = _run(capsys, caplog, "run", str(spec), "--rows", "300", "--json")
    assert code in (0, 1), logs[1]
    summary = json.loads(logs[0].strip().splitlines()[-1])
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    bias = next(c for c in metrics["verdict"]["checks"] if c["name"] == "bias")
    assert bias["charts"]["downstream"]["positive"] == ">50K"  # judged, and named: a common class
    searched = assert_nowhere(
        (RARE_EDUCATION, RARE_RACE, RARE_INCOME),
        (tmp_path / "job" / "out", prefect_home),
        logs,
    )
    assert Path(summary["report"]) in searched


def test_a_credential_in_a_sql_url_query_string_is_found_nowhere(
    tmp_path: Path, capsys, caplog, monkeypatch, prefect_home: Path
) -> None:
    database = tmp_path / "people.db"
    with sqlite3.connect(database) as connection:
        adult(300, canary=False).to_sql("people", connection, index=False)
    spec = write_job(tmp_path / "job", checks=QUICK_CHECKS)
    raw = yaml.safe_load(spec.read_text())
    raw["source"] = {"kind": "sql", "url_env": "SYNTH_CANARY_DB", "query": "select * from people"}
    spec.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SYNTH_CANARY_DB", f"sqlite:///{database}?password={SQL_SECRET}")
    # a run that reads the table (or refuses the URL: either way, without repeating it) ...
    code, logs = _run(capsys, caplog, "run", str(spec), "--rows", "150")
    assert code in (0, 1, 2), logs[1]
    # ... and one whose query fails, the error path that printed the URL
    raw["source"]["query"] = "select * from no_such_table"
    spec.write_text(yaml.safe_dump(raw))
    failed, more = _run(capsys, caplog, "run", str(spec))
    assert failed == 2 and "source" in more[1]
    assert_nowhere((SQL_SECRET,), (tmp_path / "job" / "out", prefect_home), [*logs, *more])


def _image_folder(folder: Path, *, broken: bool = False) -> Path:
    """Two classes of scikit-learn's 8x8 digits as PNGs; one file is named after a person (and,
    with `broken`, is not an image)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images * 255 / 16), 0, 255).astype(np.uint8)
    root = folder / "images"
    for label in (0, 1):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(digits.target == label)[:80]:
            Image.fromarray(pixels[i]).save(root / str(label) / f"{i:04d}.png")
    named = root / "0" / f"{IMAGE_NAME}.png"
    if broken:
        named.write_bytes(b"not a png at all")
    else:
        Image.fromarray(pixels[0]).save(named)
    return root


def _image_spec(folder: Path, images: Path) -> Path:
    spec = {
        "kind": "images",
        "name": "canary-images",
        "source": {"kind": "image_folder", "path": str(images)},
        "images": {"size": 8, "channels": 1},
        "model": {"engine": "cvae", "epochs": 2, "batch_size": 32, "device": "cpu"},
        "sample": {"per_class": 20, "seed": 0},
        "output": {"path": str(folder / "out")},
    }
    path = folder / "images.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_person_named_image_file_is_found_nowhere(
    tmp_path: Path, capsys, caplog, prefect_home: Path
) -> None:
    good = _image_spec(tmp_path / "good", _image_folder(tmp_path / "good"))
    code, logs = _run(capsys, caplog, "run", str(good))
    assert code in (0, 1), logs[1]
    broken = _image_spec(tmp_path / "broken", _image_folder(tmp_path / "broken", broken=True))
    failed, more = _run(capsys, caplog, "run", str(broken))
    assert failed == 2  # an unreadable image stops the run (on_error: fail), naming no file
    roots = (tmp_path / "good" / "out", tmp_path / "broken" / "out", prefect_home)
    assert_nowhere((IMAGE_NAME,), roots, [*logs, *more])
