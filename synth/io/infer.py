"""Guess a table's schema for `synth init`: each column's type, and the roles safe to assume.

Conservative on purpose. Direct identifiers (e-mails, phones, SSNs, card numbers that the caller's
PII scan found in the values; names, addresses and the like by their column name) become `pii`,
and unique identifier columns `key`: both are never modelled, so a wrong guess costs fidelity,
never privacy. Roles that need a person's judgement (quasi-identifiers, sensitive columns) are
only suggested, by name.
Dates are dates only in shapes that cannot be misread as numbers; epoch numbers stay numbers.
Every guess is kept only if the contract check a run makes accepts it (`coerce_column`), so a
drafted spec runs as written. No value of the data leaves this module: a guess holds a type,
roles, a format and a reason in words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from schemas.errors import DataError, SpecError
from schemas.spec import ColumnSpec, PiiKind, ValueProtection
from synth.io.contract import coerce_column, to_number
from synth.pii import detect_kind

__all__ = ["ColumnGuess", "infer_columns"]


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words in a column's name; matched whole, so "ethnicity" is not a "city" nor "username" a "name".
_PII_WORDS = _vocabulary(
    "name fullname firstname lastname surname forename givenname middlename maidenname email "
    "mail phone telephone tel mobile cellphone fax ssn address street iban passport username"
)
_KEY_WORDS = _vocabulary("id uuid guid key pk")
_CODE_WORDS = _vocabulary("zip zipcode postcode postal code")
_DATE_WORDS = _vocabulary("date dt day dob bday birth birthday birthdate born")
_TIME_WORDS = _vocabulary("time timestamp ts epoch created updated modified")
_QUASI_WORDS = _vocabulary(
    "age birth birthday birthdate dob born yob zip zipcode postcode postal sex gender marital "
    "race ethnicity ethnic education occupation job profession country nationality citizenship "
    "native city town state region county province district language height weight"
)
_SENSITIVE_WORDS = _vocabulary(
    "race ethnicity ethnic religion religious health disability disabled diagnosis disease "
    "medical illness sex gender sexual orientation pregnancy pregnant political politics hiv "
    "nationality"
)
_NOT_KEYS = _CODE_WORDS | _QUASI_WORDS
# Shapes a date can take as text, and the formats each may be read with (day-first first).
_DATE_SHAPES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
        ),
        ("ISO8601",),
    ),
    (re.compile(r"\d{4}/\d{1,2}/\d{1,2}"), ("%Y/%m/%d",)),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4}"), ("%d/%m/%Y", "%m/%d/%Y")),
    (re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}"), ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M")),
    (
        re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}"),
        ("%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S"),
    ),
    (re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}"), ("%d.%m.%Y",)),
    (re.compile(r"\d{1,2}-\d{1,2}-\d{4}"), ("%d-%m-%Y", "%m-%d-%Y")),
)
_MIN_ROWS = 50  # below this, "every value differs" says little about a column
_SAMPLE = 5000  # values a date format is tried on before the whole column is checked


@dataclass(frozen=True)
class ColumnGuess:
    """One column as `synth init` drafts it: its spec (empty: leave the column out), why, and the
    roles its name suggests for a person to confirm."""

    name: str
    spec: dict[str, Any]
    why: str = ""
    suggested: tuple[str, ...] = field(default=())


def infer_columns(
    frame: pd.DataFrame,
    *,
    label: str,
    target: str | None = None,
    sensitive: Iterable[str] = (),
    identifiers: Mapping[str, tuple[str, float]] | None = None,
) -> list[ColumnGuess]:
    """Guess every column of `frame`; `target` and `sensitive` are roles the user declared, and
    `identifiers` maps a column to the identifier kind found in its values (validation's PII
    scan: email, phone, ssn, credit_card) and the share of its rows that hold one."""
    sensitive = list(dict.fromkeys(sensitive))
    for flag, names in (("--target", [target] if target else []), ("--sensitive", sensitive)):
        for name in names:
            if name not in frame.columns:
                raise SpecError(f"{flag}: {label} has no column {name!r}")
    if target is not None and target in sensitive:
        raise SpecError(f"--target and --sensitive both name column {target!r}")
    guesses = []
    for name in frame.columns:
        guess = _guess(str(name), frame[name], (identifiers or {}).get(name))
        declared = (["target"] if name == target else []) + (
            ["sensitive"] if name in sensitive else []
        )
        guesses.append(_with_roles(guess, declared, label) if declared else guess)
    return guesses


def _with_roles(guess: ColumnGuess, roles: list[str], label: str) -> ColumnGuess:
    flag = "--target" if "target" in roles else "--sensitive"
    kind = guess.spec.get("type")
    if not guess.spec or "role" in guess.spec or kind in ("id", "text"):
        what = "has no values" if not guess.spec else f"looks like {_described(guess.spec)}"
        raise SpecError(
            f"{flag}: column {guess.name!r} of {label} {what}, which is never modelled; "
            "name a modelled column"
        )
    if "target" in roles and kind not in ("categorical", "boolean", "numerical"):
        raise SpecError(
            f"--target: column {guess.name!r} of {label} looks like type {kind}; a target is "
            "categorical, boolean or numerical"
        )
    suggested = tuple(r for r in guess.suggested if r not in roles)
    spec = {**guess.spec, "role": roles[0] if len(roles) == 1 else roles}
    return ColumnGuess(guess.name, spec, guess.why, suggested)


def _described(spec: dict[str, Any]) -> str:
    role = spec.get("role")
    return f"an identifier (role {role})" if role else f"type {spec['type']}"


def _words(name: str) -> frozenset[str]:
    """`customerID`, `customer_id` and `Customer ID` all give {customer, id}; `dateOfBirth`
    gives {date, of, birth}."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return frozenset(p.lower() for p in parts)


@dataclass(frozen=True)
class _Profile:
    """What the guesses look at: counts and name words, never a value."""

    words: frozenset[str]
    rows: int  # non-missing values
    distinct: int
    unique: bool  # every row has a value and no two are equal
    suggested: tuple[str, ...]

    @property
    def distinct_share(self) -> float:
        return self.distinct / self.rows

    @property
    def many(self) -> bool:
        return self.rows >= _MIN_ROWS


def _profile(name: str, values: pd.Series, present: pd.Series) -> _Profile:
    words = _words(name)
    suggested = tuple(
        role
        for role, vocabulary in (
            ("sensitive", _SENSITIVE_WORDS),
            ("quasi_identifier", _QUASI_WORDS),
        )
        if words & vocabulary
    )
    distinct = int(present.nunique())
    return _Profile(words, len(present), distinct, distinct == len(values), suggested)


def _guess(name: str, values: pd.Series, hit: tuple[str, float] | None) -> ColumnGuess:
    present = values.dropna()
    if present.empty:
        return ColumnGuess(name, {}, "every value is missing: nothing to model")
    profile = _profile(name, values, present)
    pii = _pii_kind(name, values, hit, profile)
    if pii is not None:
        return _identifier(name, pii)
    if pd.api.types.is_bool_dtype(values.dtype) or _accepts(values, {"type": "boolean"}, 2):
        return ColumnGuess(name, {"type": "boolean"}, "", profile.suggested)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ColumnGuess(name, {"type": "datetime"}, "", profile.suggested)
    numbers = _as_numbers(values, present)
    if numbers is not None:
        return _numeric(name, values, numbers, profile)
    return _textual(name, values, present.astype(str).str.strip(), profile)


def _identifier(name: str, kind: PiiKind) -> ColumnGuess:
    spec = {"type": "text", "role": "pii", "pii_kind": kind.value}
    return ColumnGuess(name, spec, "a direct identifier: never modelled, replaced by fakes")


def _textual(name: str, values: pd.Series, text: pd.Series, profile: _Profile) -> ColumnGuess:
    date = _date_spec(values, text)
    if date is not None:
        return ColumnGuess(name, date[0], date[1], profile.suggested)
    looks_like = detect_kind("", text)  # by the values alone
    if profile.many and looks_like in _VALUE_KINDS and profile.distinct_share >= 0.5:
        return _identifier(name, looks_like)
    # every value differs and none has a space: an identifier, unless the name says it is a code
    # or a quasi-identifier (a zip column of a small table can be unique too)
    single_words = profile.many and not text.str.contains(r"\s").any()
    words = profile.words
    if profile.unique and (words & _KEY_WORDS or (single_words and not words & _NOT_KEYS)):
        return ColumnGuess(name, {"type": "id", "role": "key"}, "unique in every row: a key")
    spaced = text.str.contains(r"\s")
    wordy = profile.many and profile.distinct_share > 0.5 and profile.distinct > 100
    wordy = wordy and spaced.mean() > 0.5  # mostly distinct phrases: free text, not categories
    if wordy or text.str.len().mean() >= 40:
        # the cap from the lengths' 95th percentile (tokens), never from a value
        length = float(text.str.count(r"\w+|[^\w\s]").quantile(0.95))
        cap = int(min(512, max(8, -(-length // 8) * 8)))
        why = "free text: written by a language model given its row (generate: fake for fakes)"
        return ColumnGuess(name, {"type": "text", "max_length": cap}, why)
    # value protection replaces every category held by fewer than min_count training rows: a
    # column made mostly of such values would be modelled as noise, so it is not modelled at all
    floor = ValueProtection().min_count
    if (text.map(text.value_counts()) >= floor).mean() < 0.5:
        why = f"most values are held by fewer than {floor} rows: not modelled, replaced by fakes"
        return ColumnGuess(name, {"type": "text", "generate": "fake"}, why, profile.suggested)
    why = "many categories: consider type text" if profile.distinct > 1000 else ""
    if to_number(text).notna().mean() >= 0.9:
        why = "mostly numbers: list the other values in source.na_values if they mean missing"
    return ColumnGuess(name, {"type": "categorical"}, why, profile.suggested)


# Kinds the PII module recognises from values alone (phones are left to the stricter scan).
_VALUE_KINDS = frozenset({PiiKind.name, PiiKind.email, PiiKind.ssn, PiiKind.ip})


def _pii_kind(
    name: str, values: pd.Series, hit: tuple[str, float] | None, profile: _Profile
) -> PiiKind | None:
    """Identifiers in the values (the PII scan), or a person's name, contact or address by the
    column's name when most values differ (a `name` column of 5 product lines is not a person)."""
    if hit is not None and hit[1] >= 0.5:
        return PiiKind(hit[0])
    dated = pd.api.types.is_datetime64_any_dtype(values.dtype)
    if profile.words & _PII_WORDS and profile.distinct_share >= 0.5 and not dated:
        return detect_kind(name, values.dropna())
    return None


def _as_numbers(values: pd.Series, present: pd.Series) -> pd.Series | None:
    """The column as numbers, or None when any value is not one or it holds codes whose leading
    zeros a number would lose (zip codes, account numbers)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return present.astype("float64")
    text = present.astype(str).str.strip()
    numbers = to_number(text)
    if numbers.isna().any() or text.str.match(r"[+-]?0\d").any():
        return None
    return numbers


def _numeric(name: str, values: pd.Series, numbers: pd.Series, profile: _Profile) -> ColumnGuess:
    words, unique, suggested = profile.words, profile.unique, profile.suggested
    whole = bool((numbers == numbers.round()).all())
    compact = _date("%Y%m%d")
    if (
        whole
        and words & _DATE_WORDS
        and numbers.between(19000101, 21001231).all()
        and _accepts(values, compact)
    ):
        return ColumnGuess(name, compact, "dates written as YYYYMMDD numbers")
    if whole and unique and words & _KEY_WORDS:
        return ColumnGuess(name, {"type": "id", "role": "key"}, "unique in every row: a key")
    if words & _CODE_WORDS:
        return ColumnGuess(name, {"type": "categorical"}, "codes, not quantities", suggested)
    why = ""
    if whole and words & _TIME_WORDS and numbers.between(1e9, 2.2e9).all():
        why = "looks like epoch seconds: kept a number (convert it to a date to model dates)"
    elif whole and unique and profile.many:
        why = "unique in every row: if it identifies the row, make it {type: id, role: key}"
    return ColumnGuess(name, {"type": "numerical"}, why, suggested)


def _date_spec(values: pd.Series, text: pd.Series) -> tuple[dict[str, Any], str] | None:
    """A datetime spec when every value has one date shape and reads as a date in it."""
    sample = text.drop_duplicates().head(_SAMPLE)
    for shape, formats in _DATE_SHAPES:
        if not sample.str.fullmatch(shape).all():
            continue
        fitting = [
            f
            for f in formats
            if pd.to_datetime(sample, format=f, errors="coerce", utc=True).notna().all()
        ]
        for fmt in fitting:  # the sample may read both ways and the whole column only one
            if _accepts(values, _date(fmt)):
                why = "" if len(fitting) == 1 else "reads day-first and month-first: check it"
                return _date(fmt), why
    return None


def _date(fmt: str) -> dict[str, Any]:
    return {"type": "datetime", "datetime_format": fmt}


def _accepts(values: pd.Series, spec: dict[str, Any], most_distinct: int | None = None) -> bool:
    """Whether the contract check of a run reads every value of the column as `spec` says."""
    if most_distinct is not None and values.nunique() > most_distinct:
        return False
    try:
        coerce_column(values, ColumnSpec.model_validate(spec), name="", label="")
    except (DataError, SpecError):
        return False
    return True
