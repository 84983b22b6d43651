"""Read a source into a pandas DataFrame of strings/raw values; the contract check types it."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.errors import DataError
from schemas.spec import CsvSource, ParquetSource, SourceSpec, SqlSource

__all__ = [
    "database_label",
    "guess_delimiter",
    "head_lines",
    "read_source",
    "source_fingerprint",
    "source_label",
    "url_holds_secret",
]

# Delimiters a header is tried with when it reads as one column, and that `synth init` guesses from.
DELIMITERS = (",", ";", "\t", "|")


def source_label(source: SourceSpec) -> str:
    """How errors and reports name a source: its file name, or 'sql query'."""
    return str(source.path) if isinstance(source, CsvSource | ParquetSource) else "sql query"


def read_source(source: SourceSpec) -> pd.DataFrame:
    """Load the whole source. CSV cells stay strings so the contract check can count bad values."""
    if isinstance(source, CsvSource):
        return _read_csv(source)
    if isinstance(source, ParquetSource):
        return _read_parquet(source)
    return _read_sql(source)


def source_fingerprint(source: SourceSpec, frame: pd.DataFrame | None = None) -> str:
    """Content hash of the source: file bytes for files, the loaded rows for a SQL query."""
    digest = hashlib.sha256()
    if isinstance(source, CsvSource | ParquetSource):
        root = source.path
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode() if root.is_dir() else b"")
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()
    if frame is None:
        raise ValueError("a SQL source is fingerprinted from its rows")
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def tables_fingerprint(fingerprints: dict[str, str]) -> str:
    """One hash of a linked job's tables' content hashes, by table name."""
    canonical = json.dumps(sorted(fingerprints.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DataError(f"{path}: {what} does not exist")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: {what} is not readable")


def _read_csv(source: CsvSource) -> pd.DataFrame:
    _require_file(source.path, "source file")
    if source.path.is_dir():
        raise DataError(f"{source.path}: a CSV source must be a file, not a folder")
    # pandas pads short rows with NaN and reads past bytes of another encoding's lines only when
    # told to: check the file's shape first and refuse, never repair.
    _check_csv_shape(source)
    try:
        frame = pd.read_csv(
            source.path,
            sep=source.delimiter,
            encoding=source.encoding,
            dtype=str,
            index_col=False,  # a trailing delimiter must not shift the columns into an index
            na_values=source.na_values or None,
            keep_default_na=True,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{source.path}: the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{source.path}: malformed CSV: {_parser_detail(exc)}") from None
    except UnicodeDecodeError:
        raise DataError(f"{source.path}: not valid {source.encoding} text") from None
    _check_header(frame, source.path)
    return frame


def _check_csv_shape(source: CsvSource) -> None:
    """Every line is text in the declared encoding and every record has the header's field count
    (one more is allowed when it is empty: a trailing delimiter). Errors name lines, not cells."""
    path, delimiter = source.path, source.delimiter
    csv.field_size_limit(2**31 - 1)  # pandas reads long text cells; the default limit is 128 KiB
    try:
        with path.open(encoding=source.encoding, newline="") as handle:
            records = csv.reader(handle, delimiter=delimiter, skipinitialspace=True)
            header = next(records, None)
            if header is None:
                return  # pandas names an empty file
            if len(header) == 1:
                _refuse_one_column_header(source)
            width, end = len(header), records.line_num
            for fields in records:
                start, end = end + 1, records.line_num
                if not fields or len(fields) == width:
                    continue  # blank lines are skipped, as pandas does
                if len(fields) == width + 1 and not fields[-1]:
                    continue  # a trailing delimiter
                where = f"line {start}" if start == end else f"lines {start}-{end}"
                raise DataError(
                    f"{path}: malformed CSV: {where} has {len(fields)} fields, the header "
                    f"{width} (ragged rows are refused, not padded)"
                )
    except UnicodeDecodeError:
        line = _first_undecodable_line(path, source.encoding)
        raise DataError(
            f"{path}: line {line} is not valid {source.encoding} text (a mixed encoding?); "
            "set source.encoding to the file's encoding"
        ) from None
    except csv.Error as exc:
        # the csv module's messages name characters (e.g. a NUL byte), not cells
        raise DataError(f"{path}: malformed CSV near line {records.line_num} ({exc})") from None


def _refuse_one_column_header(source: CsvSource) -> None:
    """A one-column table whose first lines split alike on another delimiter is a wrong
    source.delimiter (a `;` file read with `,`), not a one-column table."""
    delimiter = source.delimiter
    better = guess_delimiter(head_lines(source.path, source.encoding), exclude=delimiter)
    if better is not None:
        fields = len(
            next(csv.reader(head_lines(source.path, source.encoding, 1), delimiter=better))
        )
        raise DataError(
            f"{source.path}: the header reads as 1 column with delimiter {json.dumps(delimiter)} "
            f"but as {fields} with {json.dumps(better)}: set source.delimiter: {json.dumps(better)}"
        )


def head_lines(path: Path, encoding: str, count: int = 20) -> list[str]:
    """The first `count` lines of a text file (a header and a few records, to guess from)."""
    with path.open(encoding=encoding, newline="") as handle:
        return [line for _, line in zip(range(count), handle, strict=False)]


def guess_delimiter(lines: list[str], *, exclude: str = "") -> str | None:
    """The delimiter among DELIMITERS that splits the first line (a header) into the most fields
    and every other given line into as many; None when none splits it."""
    best, best_width = None, 1
    for candidate in DELIMITERS:
        if candidate == exclude:
            continue
        widths = {len(row) for row in csv.reader(lines, delimiter=candidate) if row}
        width = len(next(csv.reader(lines[:1], delimiter=candidate), []))
        if width > best_width and widths <= {width, width + 1}:
            best, best_width = candidate, width
    return best


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """The 1-based line where the text stops decoding; counted in decoded text, so it holds for
    multi-byte encodings too."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    newlines = 0
    with path.open("rb") as handle:
        for block in handle:  # split at b"\n": harmless for the decoder, which keeps state
            try:
                newlines += decoder.decode(block).count("\n")
            except UnicodeDecodeError as exc:
                good = exc.object[: exc.start].decode(encoding, errors="replace")
                return newlines + good.count("\n") + 1
    return newlines + 1


def _parser_detail(exc: Exception) -> str:
    # pandas says e.g. "Error tokenizing data. C error: Expected 15 fields in line 3, saw 16":
    # positions and counts only, never cell contents.
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split("C error: ")[-1]


def _check_header(frame: pd.DataFrame, label: object) -> None:
    unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise DataError(f"{label}: header has {len(unnamed)} empty column name(s)")
    dupes = frame.columns[frame.columns.duplicated()].tolist()
    if dupes:
        raise DataError(f"{label}: column {dupes[0]!r} appears more than once in the header")


def _read_parquet(source: ParquetSource) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _require_file(source.path, "source file or dataset folder")
    try:
        table = pq.read_table(source.path)
    except (pa.ArrowInvalid, OSError) as exc:
        reason = (
            "not a Parquet file or dataset" if isinstance(exc, pa.ArrowInvalid) else "unreadable"
        )
        raise DataError(f"{source.path}: {reason} ({type(exc).__name__})") from None
    return table.to_pandas()


def database_label(url: Any, *, url_env: str | None = None) -> str:
    """How errors name a SQL database: its backend, host and database name, and the variable that
    held the URL. Never the user, the password or the query string, where drivers take secrets too
    (`?password=`, `?token=`, `?sslkey=`, `odbc_connect=...PWD=...`)."""
    parts = [url.get_backend_name()]
    if url.host:
        # an unescaped '@' in a password leaves its tail in the host: keep only what follows it
        host = url.host.rpartition("@")[2]
        parts.append(f"on {host}:{url.port}" if url.port else f"on {host}")
    if url.database and url.get_backend_name() != "sqlite":
        parts.append(f"database {url.database}")
    elif url.database:
        parts.append(f"database {Path(url.database).name}")  # a path: its file name will do
    if url_env is not None:
        parts.append(f"from ${url_env}")
    return " ".join(parts)


# Query-string keys drivers read secrets from (libpq, pyodbc, Snowflake, BigQuery, ...).
_SECRET_KEYS = ("pass", "pwd", "token", "secret", "key", "cred", "auth", "odbc_connect", "ssl")


def url_holds_secret(url: Any) -> bool:
    """Whether a SQLAlchemy URL carries a credential: a password, or a query-string parameter
    such as `password=`, `token=`, `sslkey=` or `odbc_connect=` (whose string may hold PWD=)."""
    keys = [key.lower() for key in url.query]
    return url.password is not None or any(part in key for key in keys for part in _SECRET_KEYS)


def _read_sql(source: SqlSource) -> pd.DataFrame:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    if source.url_env is not None:
        url_text = os.environ.get(source.url_env)
        if not url_text:
            raise DataError(f"source.url_env: environment variable {source.url_env} is not set")
        field = "source.url_env"
    else:
        url_text, field = source.url or "", "source.url"
    try:
        url = make_url(url_text)
    except (sa.exc.ArgumentError, ValueError):
        raise DataError(f"{field}: not a valid SQLAlchemy URL") from None
    shown = database_label(url, url_env=source.url_env)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # SQLite would silently create a missing file: refuse instead, and open read-only.
        _require_file(Path(url.database), "SQLite database")
        url = url.set(database=f"file:{url.database}?mode=ro", query={"uri": "true"})
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError, TypeError) as exc:
        raise DataError(f"{field}: cannot use {shown} ({type(exc).__name__})") from None
    try:
        with engine.connect() as connection:
            frame = pd.read_sql_query(sa.text(source.query), connection)
    except sa.exc.DBAPIError as exc:
        kind = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        raise DataError(f"source.query: failed on {shown} ({kind})") from None
    except sa.exc.SQLAlchemyError as exc:
        raise DataError(f"{field}: cannot query {shown} ({type(exc).__name__})") from None
    finally:
        engine.dispose()
    _check_header(frame, "sql query")
    return frame
