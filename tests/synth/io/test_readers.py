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
            "nosuchdialect://u:secret@host/db?token=secret",
            "source.url: cannot use nosuchdialect on host database db (NoSuchModuleError)",
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
        DataError, match=r"source.query: failed on sqlite database x\.db \(OperationalError\)"
    ):
        read_source(SqlSource(url=f"sqlite:///{db}", query="select * from missing_table"))


def test_short_rows_are_refused_not_padded(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(
        DataError, match=r"short\.csv: malformed CSV: line 3 has 2 fields, the header 3"
    ):
        read_source(CsvSource(path=path))


def test_quoted_line_breaks_are_one_record_and_errors_name_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('a,b\n"two\nlines",2\n3,4\n')
    assert read_source(CsvSource(path=path))["b"].tolist() == ["2", "4"]
    path.write_text('a,b\n1,2\n"two\nlines"\n')
    with pytest.raises(DataError, match=r"lines 3-4 has 1 fields"):
        read_source(CsvSource(path=path))


def test_a_wrong_delimiter_names_the_one_that_fits(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("age;income;city\n31,5;1000;Lyon\n40;2000;Paris\n")
    with pytest.raises(DataError) as caught:
        read_source(CsvSource(path=path))
    message = str(caught.value)
    assert 'reads as 1 column with delimiter ","' in message
    assert 'set source.delimiter: ";"' in message
    assert "Lyon" not in message
    assert read_source(CsvSource(path=path, delimiter=";")).shape == (2, 3)


def test_a_one_column_table_is_not_taken_for_a_wrong_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("amount\n1\n2\n")
    assert read_source(CsvSource(path=path))["amount"].tolist() == ["1", "2"]


def test_mixed_encodings_name_the_line_and_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("name,city\nAnn,Zürich\n".encode() + "Bob,Genève\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        read_source(CsvSource(path=path))
    message = str(caught.value)
    assert "mixed.csv: line 3 is not valid utf-8 text" in message
    assert "Gen" not in message and "Bob" not in message
    assert read_source(CsvSource(path=path, encoding="latin-1")).shape == (2, 2)


def test_guess_delimiter_prefers_the_one_every_line_agrees_on() -> None:
    from synth.io.readers import guess_delimiter

    assert guess_delimiter(["a\tb\tc\n", "1\t2,5\t3\n"]) == "\t"
    assert guess_delimiter(["a;b\n", "1;2\n"]) == ";"
    assert guess_delimiter(["amount\n", "1\n"]) is None
