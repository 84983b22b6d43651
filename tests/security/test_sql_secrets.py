"""Issue 18, item 3: a SQL source's credentials never appear in an error.

The attack: a spec (or the variable `url_env` names) holds a URL whose secret sits where
`hide_password` never looked, in the query string (`?password=`, `?token=`, `?sslkey=`,
`odbc_connect=...PWD=...`), and the database cannot be reached, so synth explains why. Through
the real command line: stderr, stdout (--json) and every file the run leaves must name only the
backend, host and database (or the variable), never the canary.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.builders import spec

CANARY = "CanarySecret7f3a9Q"
SYNTH = str(Path(sys.executable).with_name("synth"))


def _odbc(canary: str) -> str:
    return quote(f"DRIVER={{ODBC Driver 18}};SERVER=db.invalid;UID=sa;PWD={canary}", safe="")


def _urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Case -> (URL, what the one error line says instead)."""
    empty = tmp_path / "empty.db"
    missing = tmp_path / "missing.db"
    return {
        "sqlite file that does not exist": (
            f"sqlite:///{missing}?password={CANARY}&token={CANARY}",
            f"{missing}: SQLite database does not exist",
        ),
        "sqlite query that fails": (
            f"sqlite:///{empty}?token={CANARY}&sslkey=/keys/{CANARY}.pem",
            "source.query: failed on sqlite database empty.db",
        ),
        "server that cannot be reached": (
            f"postgresql://etl:{CANARY}@db.invalid:5432/sales?password={CANARY}&sslkey={CANARY}",
            "on db.invalid:5432 database sales",
        ),
        "odbc connect string": (
            f"mssql+pyodbc:///?odbc_connect={_odbc(CANARY)}",
            ": cannot use mssql",
        ),
    }


def _job(tmp_path: Path, source: dict) -> Path:
    raw = spec(tmp_path / "unused.parquet", out=tmp_path / "out")
    raw["source"] = {"kind": "sql", "query": "select * from people", **source}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _synth(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYNTH, *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _files_holding_canary(root: Path, *, besides: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path != besides and CANARY.encode() in path.read_bytes()
    ]


@pytest.mark.parametrize("case", list(_urls(Path("/x"))), ids=str)
def test_a_secret_in_the_url_stays_out_of_errors_and_output(tmp_path: Path, case: str) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    url, instead = _urls(tmp_path)[case]
    for source, env in (
        ({"url": url}, None),
        ({"url_env": "SALES_DB_URL"}, {"SALES_DB_URL": url}),
    ):
        job = _job(tmp_path, source)
        done = _synth("run", str(job), "--json", env=env)
        assert done.returncode == 2, done.stderr[-2000:]
        errors = [line for line in done.stderr.splitlines() if line.startswith("synth: error:")]
        assert len(errors) == 1 and instead in errors[0], done.stderr[-2000:]
        if "url_env" in source and "SQLite database does not exist" not in instead:
            assert "$SALES_DB_URL" in errors[0]
        assert CANARY not in done.stderr and CANARY not in done.stdout
        assert _files_holding_canary(tmp_path, besides=job) == []


def test_init_refuses_a_url_with_a_token_in_its_query_string(tmp_path: Path) -> None:
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as connection:
        connection.execute("create table people (age integer)")
    target = tmp_path / "job.yaml"
    done = _synth(
        "init", f"sqlite:///{db}?token={CANARY}", "--query", "select * from people",
        "--out", str(target),
    )  # fmt: skip
    assert done.returncode == 2 and "--url-env" in done.stderr
    assert CANARY not in done.stderr + done.stdout and not target.exists()


@pytest.mark.slow
def test_a_published_run_from_a_url_with_a_secret_keeps_it_nowhere(
    tmp_path: Path, capsys, caplog, prefect_home: Path, prefect_server: str
) -> None:
    from flows.cli import main
    from tests.builders import adult
    from tests.e2e.test_operations import QUICK

    db = tmp_path / "people.db"
    with sqlite3.connect(db) as connection:
        adult(600).to_sql("people", connection, index=False)
    raw = spec(tmp_path / "unused.parquet", out=tmp_path / "out", **QUICK)
    raw["source"] = {
        "kind": "sql",
        "url": f"sqlite:///{db}?token={CANARY}&odbc_connect={_odbc(CANARY)}",
        "query": "select * from people",
    }
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = main(["run", str(job), "--rows", "300", "--json"])
    logs = capsys.readouterr()
    assert code in (0, 1), logs.err[-2000:]  # published or quarantined: it ran to the end
    assert (tmp_path / "out" / "adult-small").is_dir()
    for text in (logs.out, logs.err, caplog.text):
        assert CANARY not in text
    assert _files_holding_canary(tmp_path, besides=job) == []
    assert b"synthesize" in (prefect_home / "prefect.db").read_bytes()
    assert _files_holding_canary(prefect_home, besides=job) == []
