"""`synth init` (synth/modalities/table/init_spec.py): its guesses (synth/io/infer.py, with validation's PII scan) and
the spec it drafts (synth/io/draft.py)."""

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from schemas import DataError, SpecError, load_spec
from schemas.spec import ChecksSpec, ColumnConstraints, Role
from synth.modalities.table.init_spec import guess_columns, init_spec
from tests.builders import CANARY_EMAIL, CANARY_NAME, adult


def _guesses(frame: pd.DataFrame, **roles) -> dict[str, dict]:
    return {g.name: g.spec for g in guess_columns(frame, label="t", **roles)}


def _suggested(frame: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    return {g.name: g.suggested for g in guess_columns(frame, label="t")}


def test_identifiers_are_keys_and_pii_and_other_roles_are_only_suggested() -> None:
    frame = adult(300).astype(str)  # as a CSV reads: text
    specs = _guesses(frame)
    assert specs["record_id"] == {"type": "id", "role": "key"}
    assert specs["full_name"] == {"type": "text", "role": "pii", "pii_kind": "name"}
    assert specs["email"] == {"type": "text", "role": "pii", "pii_kind": "email"}
    assert specs["age"] == {"type": "numerical"}
    assert specs["sex"] == specs["race"] == specs["income"] == {"type": "categorical"}
    suggested = _suggested(frame)
    assert suggested["sex"] == ("sensitive", "quasi_identifier")
    assert suggested["age"] == ("quasi_identifier",)
    assert suggested["workclass"] == ()


def test_declared_target_and_sensitive_columns_get_their_roles() -> None:
    specs = _guesses(adult(200), target="income", sensitive=["sex", "race"])
    assert specs["income"]["role"] == "target"
    assert specs["sex"]["role"] == specs["race"]["role"] == "sensitive"


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"target": "salary"}, "--target: t has no column 'salary'"),
        ({"sensitive": ["sex", "religion"]}, "--sensitive: t has no column 'religion'"),
        ({"target": "email"}, "--target: column 'email' of t looks like an identifier"),
        ({"target": "sex", "sensitive": ["sex"]}, "--target and --sensitive both name"),
    ],
)
def test_roles_on_unknown_or_unmodelled_columns_are_refused(roles: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        guess_columns(adult(100), label="t", **roles)


def test_dates_are_read_in_their_usual_text_and_number_encodings() -> None:
    days = pd.date_range("2019-12-25", periods=120, freq="D")
    frame = pd.DataFrame(
        {
            "iso": days.strftime("%Y-%m-%dT%H:%M:%S"),
            "day_first": days.strftime("%d/%m/%Y"),
            "month_first": days.strftime("%m/%d/%Y"),
            "dotted": days.strftime("%d.%m.%Y"),
            "birth_date": days.strftime("%Y%m%d").astype(int),
            "created_ts": (days.astype("int64") // 10**9).astype(int),
            "year": days.year,
        }
    )
    specs = _guesses(frame)
    assert specs["iso"] == {"type": "datetime", "datetime_format": "ISO8601"}
    assert specs["day_first"]["datetime_format"] == "%d/%m/%Y"
    assert specs["month_first"]["datetime_format"] == "%m/%d/%Y"
    assert specs["dotted"]["datetime_format"] == "%d.%m.%Y"
    assert specs["birth_date"] == {"type": "datetime", "datetime_format": "%Y%m%d"}
    # epoch seconds and years stay numbers: a wrong date is worse than a number
    assert specs["created_ts"] == specs["year"] == {"type": "numerical"}
    epoch = next(g for g in guess_columns(frame, label="t") if g.name == "created_ts")
    assert "epoch" in epoch.why


def test_codes_booleans_free_text_and_empty_columns() -> None:
    rng = np.random.default_rng(0)
    rows = 200
    frame = pd.DataFrame(
        {
            "zip": [f"{n:05d}" for n in rng.integers(0, 20, rows)],
            "store_code": rng.integers(100, 110, rows),
            "smoker": rng.choice(["yes", "no"], rows),
            "active": rng.choice([0, 1], rows),
            "note": [
                f"customer called about order {i} and asked for a refund" for i in range(rows)
            ],
            "empty": [None] * rows,
        }
    )
    specs = _guesses(frame)
    assert specs["zip"] == specs["store_code"] == {"type": "categorical"}
    assert specs["smoker"] == specs["active"] == {"type": "boolean"}
    # "customer called about order 123 and asked for a refund": 10 tokens, cap 16
    assert specs["note"] == {"type": "text", "max_length": 16}
    assert specs["empty"] == {}


def test_phones_and_ssns_in_the_values_are_pii_whatever_the_column_is_called() -> None:
    rng = np.random.default_rng(1)
    rows = 100
    frame = pd.DataFrame(
        {
            "contact": [
                f"({rng.integers(200, 999)}) 555-{rng.integers(1000, 9999)}" for _ in range(rows)
            ],
            "ref": [
                f"{rng.integers(100, 665)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}"
                for _ in range(rows)
            ],
            "country_name": rng.choice(["France", "Peru", "Japan"], rows),
        }
    )
    specs = _guesses(frame)
    assert specs["contact"]["pii_kind"] == "phone"
    assert specs["ref"]["pii_kind"] == "ssn"
    assert specs["country_name"] == {"type": "categorical"}  # a name word, but few values


def _csv_job(tmp_path: Path, frame: pd.DataFrame | None = None) -> Path:
    data = tmp_path / "data" / "people.csv"
    data.parent.mkdir(parents=True)
    (adult(300) if frame is None else frame).to_csv(data, index=False)
    return data


def test_the_drafted_spec_loads_as_it_is_and_holds_no_value_from_the_data(tmp_path: Path) -> None:
    data = _csv_job(tmp_path)
    path, _ = init_spec(str(data), out=str(tmp_path / "specs" / "people.yaml"), target="income")
    text = path.read_text()
    spec = load_spec(path)
    assert spec.name == "people" and spec.model.engine == "autoregressive"
    assert spec.source.path.resolve() == data.resolve()
    assert 'path: "../data/people.csv"' in text  # relative to the spec's folder
    assert spec.dataset.columns["income"].roles == {Role.target}
    assert spec.output.path == (tmp_path / "specs" / "out").resolve()
    for value in (CANARY_NAME, CANARY_EMAIL, "Female", "Bachelors", ">50K"):
        assert value not in text
    assert all(c.constraints == ColumnConstraints() for c in spec.dataset.columns.values())


def test_the_commented_defaults_are_valid_when_uncommented(tmp_path: Path) -> None:
    path, _ = init_spec(str(_csv_job(tmp_path)), out=str(tmp_path / "job.yaml"))
    lines = path.read_text().splitlines()
    start = lines.index("# checks:")
    opened = [
        line.replace("# ", "", 1) if start <= i or line.startswith("  # batch_size") else line
        for i, line in enumerate(lines)
    ]
    path.write_text("\n".join(opened) + "\n")
    spec = load_spec(path)
    assert spec.checks == ChecksSpec()
    assert yaml.safe_load(path.read_text())["report"] == {"min_count": 10}


def test_init_refuses_to_overwrite_a_spec_unless_forced(tmp_path: Path) -> None:
    data = _csv_job(tmp_path)
    target = tmp_path / "job.yaml"
    target.write_text("mine\n")
    with pytest.raises(SpecError, match=r"job\.yaml: already exists; pass --force"):
        init_spec(str(data), out=str(target))
    assert target.read_text() == "mine\n"
    init_spec(str(data), out=str(target), force=True)
    assert load_spec(target).name == "job"


def test_init_guesses_the_delimiter_and_writes_it(tmp_path: Path) -> None:
    data = tmp_path / "semi.csv"
    adult(100).to_csv(data, index=False, sep=";")
    path, _ = init_spec(str(data), out=str(tmp_path / "semi.yaml"))
    spec = load_spec(path)
    assert spec.source.delimiter == ";" and "age" in spec.dataset.columns


def test_init_reads_a_sql_query_and_keeps_passwords_out_of_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as connection:
        adult(100).to_sql("people", connection, index=False)
    monkeypatch.chdir(tmp_path)
    path, _ = init_spec("sqlite:///people.db", query="select * from people", name="people")
    spec = load_spec(path)
    assert spec.source.url == f"sqlite:///{db.resolve()}"  # pinned: runs start anywhere
    assert spec.dataset.columns["record_id"].roles == {Role.key}
    with pytest.raises(SpecError, match="holds a password.*--url-env") as caught:
        init_spec("postgresql://u:hunter2@db/x", query="select 1", out="pg.yaml")
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("PEOPLE_URL", f"sqlite:///{db}")
    path, _ = init_spec(None, url_env="PEOPLE_URL", query="select * from people", out="env.yaml")
    assert load_spec(path).source.url_env == "PEOPLE_URL" and "sqlite" not in path.read_text()


def test_init_on_a_missing_or_unknown_source_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.csv: source file does not exist"):
        init_spec(str(tmp_path / "nope.csv"), out=str(tmp_path / "x.yaml"))
    odd = tmp_path / "table.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(SpecError, match="cannot tell its kind"):
        init_spec(str(odd), out=str(tmp_path / "x.yaml"))
    assert not (tmp_path / "x.yaml").exists()


def test_a_column_of_mostly_rare_values_is_not_modelled() -> None:
    """Value protection replaces categories held by fewer than 5 training rows, so a column made
    of them (lab ids of a small study, a unique code) is drafted as text: replaced by fakes."""
    rng = np.random.default_rng(1)
    rows = 400
    frame = pd.DataFrame(
        {
            "lab": [f"{n // 2:03d}-{n // 2 % 7:03d}" for n in range(rows)],  # two rows each
            "site": [f"S{n:04d}" for n in rng.integers(0, 300, rows)],
            "ward": rng.choice(["A", "B", "C"], rows),
        }
    )
    specs = _guesses(frame)
    assert specs["lab"] == specs["site"] == {"type": "text", "generate": "fake"}
    assert specs["ward"] == {"type": "categorical"}
