import sqlite3
from pathlib import Path

import pytest

from schemas import DataError
from schemas.spec import CsvSource, ParquetSource, SqlSource
from synth.io import read_source, source_fingerprint
from tests.builders import adult


def test_csv_reads_cells_as_text(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    adult(50).to_csv(path, index=False)
    frame = read_source(CsvSource(path=path))
    assert len(frame) == 50 and frame["age"].map(type).eq(str).all()


def test_malformed_csv_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataError, match=r"bad\.csv: malformed CSV: .*line 3"):
        read_source(CsvSource(path=path))


def test_trailing_delimiters_do_not_shift_columns(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text("a,b\n1,2,\n3,4,\n")
    assert read_source(CsvSource(path=path)).to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}


def test_empty_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_source(CsvSource(path=path))


def test_missing_source_path(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match="nope.parquet: source file or dataset folder does not exist"
    ):
        read_source(ParquetSource(path=tmp_path / "nope.parquet"))


def test_parquet_dataset_folder_and_fingerprint(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    frame = adult(40, canary=False)
    frame.iloc[:20].to_parquet(folder / "a.parquet")
    frame.iloc[20:].to_parquet(folder / "b.parquet")
    source = ParquetSource(path=folder)
    assert len(read_source(source)) == 40
    before = source_fingerprint(source)
    frame.iloc[20:39].to_parquet(folder / "b.parquet")
    assert source_fingerprint(source) != before


def test_sqlite_query(tmp_path: Path) -> None:
    db = tmp_path / "people.db"
    with sqlite3.connect(db) as connection:
        adult(30, canary=False).to_sql("people", connection, index=False)
    frame = read_source(
        SqlSource(url=f"sqlite:///{db}", query="select * from people where age > 0")
    )
    assert len(frame) == 30
    assert source_fingerprint(SqlSource(url=f"sqlite:///{db}", query="x"), frame)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "source.url: not a valid SQLAlchemy URL"),
        ("sqlite:////no/such/file.db", "SQLite database does not exist"),
        (
            "nosuchdialect://u:secret@host/db",
            "source.url: cannot use nosuchdialect://u:***@host/db",
        ),
    ],
)
def test_unreadable_sql_url_is_one_line_without_secrets(url: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        read_source(SqlSource(url=url, query="select 1"))
    assert message in str(caught.value) and "secret" not in str(caught.value)


def test_failing_query_names_the_failure_not_the_sql(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    with pytest.raises(
        DataError, match=r"source.query: failed on sqlite:///.*\(OperationalError\)"
    ):
        read_source(SqlSource(url=f"sqlite:///{db}", query="select * from missing_table"))
