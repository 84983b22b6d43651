"""`synth init`: read a table, guess its schema, and write a job spec `synth run` accepts as written.

The guesses are synth/io/infer.py's, fed the identifiers validation/pii_scan.py finds in the
values; the text is synth/io/draft.py's. Here they meet, with the source and the spec file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.errors import DataError, InternalError, SpecError, SynthError
from schemas.spec import (
    ChecksSpec,
    CsvSource,
    ParquetSource,
    ReportSpec,
    ScaleSpec,
    SourceSpec,
    SqlSource,
)
from synth.io.draft import draft_spec, job_name
from synth.io.files import write_atomic
from synth.io.infer import ColumnGuess, infer_columns

__all__ = ["guess_columns", "init_spec"]

_PARQUET = (".parquet", ".pq", ".parq")
_CSV = (".csv", ".tsv", ".txt")


def init_spec(
    source: str | None,
    *,
    out: str | None = None,
    name: str | None = None,
    query: str | None = None,
    url_env: str | None = None,
    target: str | None = None,
    sensitive: tuple[str, ...] = (),
    subject: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    force: bool = False,
) -> tuple[Path, list[ColumnGuess]]:
    """Read `source` (a CSV or Parquet path, or a SQL URL or `url_env` with `query`), guess its
    schema and write a job spec to `out` (default `./<name>.yaml`); return the path and guesses.
    `subject` names the column whose rows belong to one subject (a panel): the split keeps them
    together."""
    stem = Path(out).stem if out else _stem(source)
    name = name if name is not None else job_name(stem)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):
        raise SpecError(f"--name: {name!r} is not a job name ([a-z0-9][a-z0-9_-]*, at most 64)")
    target_path = Path(out) if out else Path(f"{name}.yaml")
    if target_path.exists() and not force:
        raise SpecError(f"{target_path}: already exists; pass --force to overwrite it")
    reader, written = _source(source, query, url_env, delimiter, encoding, target_path.parent)
    from synth.io.readers import read_source, source_label

    frame = read_source(reader)
    label = source_label(reader)
    guesses = guess_columns(frame, label=label, target=target, sensitive=sensitive)
    if not any(g.spec for g in guesses):
        raise DataError(f"{label}: every column is empty; nothing to synthesize")
    if subject is not None:
        guesses = _with_subject(guesses, subject, label, frame)
    origin = Path(reader.path).name if isinstance(reader, CsvSource | ParquetSource) else None
    text = draft_spec(name=name, source=written, columns=guesses, origin=origin, split_by=subject)
    _self_check(text, target_path, frame, label)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target_path, text)  # a reader never sees half a spec; never through a link
    return target_path, guesses


def _with_subject(
    guesses: list[ColumnGuess], subject: str, label: str, frame: pd.DataFrame
) -> list[ColumnGuess]:
    """The subject column left out of the model: it names people, so it is an identifier (each
    synthetic row gets a new one), and a person's number means nothing as a number. An identifier
    the scan found stays one (faked)."""
    guess = next((g for g in guesses if g.name == subject and g.spec), None)
    if guess is None:
        what = "has no column" if subject not in frame.columns else "has no values in column"
        raise SpecError(f"--subject: {label} {what} {subject!r}")
    role = guess.spec.get("role", [])
    roles = {role} if isinstance(role, str) else set(role)
    if roles & {"target", "sensitive"}:
        raise SpecError(f"--subject: column {subject!r} is also --target or --sensitive")
    if guess.spec.get("type") in ("id", "text") or "role" in guess.spec:
        return guesses
    why = "the subject (--subject): never modelled, its rows kept on one side of the split; "
    why += "each synthetic row gets a new id"
    return [ColumnGuess(g.name, {"type": "id"}, why) if g is guess else g for g in guesses]


def _stem(source: str | None) -> str:
    if source is None or "://" in source:
        return "job"
    return Path(source).stem


def _source(
    source: str | None,
    query: str | None,
    url_env: str | None,
    delimiter: str | None,
    encoding: str,
    spec_dir: Path,
) -> tuple[SourceSpec, dict[str, Any]]:
    """The source to read now, and the source section to write (paths relative to `spec_dir`)."""
    if url_env is not None or (source is not None and "://" in source):
        return _sql_source(source, query, url_env)
    if source is None:
        raise SpecError("init: give a SOURCE (a CSV or Parquet file, or a SQL URL) or --url-env")
    if query is not None:
        raise SpecError("--query: only a SQL source (a URL or --url-env) takes a query")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: source file does not exist")
    relative = os.path.relpath(path.resolve(), spec_dir.resolve())
    if path.is_dir() or path.suffix.lower() in _PARQUET:
        return ParquetSource(path=path), {"kind": "parquet", "path": relative}
    if path.suffix.lower() not in _CSV:
        raise SpecError(f"{path}: cannot tell its kind; give a .csv or .parquet file")
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"  # what a shell passes for a tab
    delimiter = delimiter or _guessed_delimiter(path, encoding)
    try:
        reader = CsvSource(path=path, delimiter=delimiter, encoding=encoding)
    except ValueError:
        raise SpecError(f"--encoding: unknown encoding {encoding!r}") from None
    written: dict[str, Any] = {"kind": "csv", "path": relative}
    if delimiter != ",":
        written["delimiter"] = delimiter
    if encoding != "utf-8":
        written["encoding"] = encoding
    return reader, written


def _guessed_delimiter(path: Path, encoding: str) -> str:
    from synth.io.readers import guess_delimiter, head_lines

    fallback = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        return guess_delimiter(head_lines(path, encoding)) or fallback
    except (UnicodeDecodeError, LookupError):
        return fallback  # reading names the line that does not decode, or the bad encoding


def _sql_source(
    source: str | None, query: str | None, url_env: str | None
) -> tuple[SourceSpec, dict[str, Any]]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if query is None:
        raise SpecError("--query: a SQL source needs the query whose rows are the table")
    if url_env is not None:
        if source is not None:
            raise SpecError("--url-env: give the URL either as SOURCE or in the variable, not both")
        return SqlSource(url_env=url_env, query=query), {
            "kind": "sql",
            "url_env": url_env,
            "query": query,
        }
    try:
        url = make_url(source or "")
    except ArgumentError:
        raise SpecError("SOURCE: not a valid SQLAlchemy URL") from None
    from synth.io.readers import url_holds_secret

    if url_holds_secret(url):  # in the userinfo or the query string (password=, token=, ...)
        raise SpecError(
            "SOURCE: the URL holds a password or token, which a committed spec must not: export "
            "the URL in an environment variable and pass --url-env NAME instead"
        )
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # a run resolves a SQLite path against its working folder, not the spec's: pin it
        url = url.set(database=str(Path(url.database).resolve()))
    text = url.render_as_string(hide_password=False)
    return SqlSource(url=text, query=query), {"kind": "sql", "url": text, "query": query}


def guess_columns(
    frame: pd.DataFrame, *, label: str, target: str | None = None, sensitive: Iterable[str] = ()
) -> list[ColumnGuess]:
    """infer_columns, told which text columns hold e-mails, phones, SSNs or card numbers."""
    from validation.pii_scan import scan

    texts = [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)
    ]
    found: dict[str, tuple[str, float]] = {}
    for row in scan(frame, texts):  # counts only: never a value
        if row["share"] > found.get(row["column"], ("", 0.0))[1]:
            found[row["column"]] = (row["kind"], row["share"])
    return infer_columns(frame, label=label, target=target, sensitive=sensitive, identifiers=found)


def _self_check(text: str, path: Path, frame: pd.DataFrame, label: str) -> None:
    """The drafted spec loads and its contract accepts the data, or `init` writes nothing: a
    failure here is synth's own mistake, not the user's."""
    from schemas.load import parse_spec_yaml, spec_from_dict
    from synth.io.contract import build_contract

    try:
        spec = spec_from_dict(
            parse_spec_yaml(text, str(path)), label=str(path), base_dir=path.parent
        )
        build_contract(frame, spec.dataset, label=label)
    except SynthError as exc:
        raise InternalError(f"init drafted a spec that does not fit the data ({exc})") from None
    # the sections the draft leaves commented out read back as the defaults its comments claim
    defaults = {"checks": ChecksSpec(), "report": ReportSpec(), "scale": ScaleSpec()}
    differ = [part for part, default in defaults.items() if getattr(spec, part) != default]
    if differ or list(spec.dataset.columns) != [
        c for c in frame.columns if c in spec.dataset.columns
    ]:
        what = ", ".join(differ) or "schema.columns"
        raise InternalError(f"init drafted a spec that is not at the defaults it claims ({what})")
