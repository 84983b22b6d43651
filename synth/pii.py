"""Direct identifiers: detect their kind, and replace them with realistic fakes or fresh unique keys.

PII columns never reach a model. Fakes come from Faker, seeded per batch; a fake that happens to equal
a real value of the column is drawn again, so no real identifier can reappear in the output. Fakes of
a column declared unique are numbered by output row, so they are unique by construction and a
partition sampled on another machine needs only its row range: neither the real values nor any hash
of them leaves the flow's process (low-entropy identifiers such as SSNs are recovered from keyed
hashes by brute force once the key travels with them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.errors import DataError
from schemas.spec import PiiKind

__all__ = [
    "UniqueFakes",
    "detect_kind",
    "fake_pool",
    "key_values",
    "pick_fakes",
    "unique_fakes",
]


_NAME_HINTS: tuple[tuple[str, PiiKind], ...] = (
    ("email", PiiKind.email),
    ("mail", PiiKind.email),
    ("phone", PiiKind.phone),
    ("mobile", PiiKind.phone),
    ("ssn", PiiKind.ssn),
    ("social_security", PiiKind.ssn),
    ("iban", PiiKind.iban),
    ("card", PiiKind.credit_card),
    ("ip", PiiKind.ip),
    ("user", PiiKind.username),
    ("login", PiiKind.username),
    ("first", PiiKind.first_name),
    ("given", PiiKind.first_name),
    ("last", PiiKind.last_name),
    ("surname", PiiKind.last_name),
    ("family", PiiKind.last_name),
    ("address", PiiKind.address),
    ("street", PiiKind.address),
    ("city", PiiKind.city),
    ("zip", PiiKind.postcode),
    ("postcode", PiiKind.postcode),
    ("postal", PiiKind.postcode),
    ("name", PiiKind.name),
)
_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], PiiKind], ...] = (
    (re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I), PiiKind.email),
    (re.compile(r"^\d{3}-\d{2}-\d{4}$"), PiiKind.ssn),
    (re.compile(r"^(\d{1,3}\.){3}\d{1,3}$"), PiiKind.ip),
    (re.compile(r"^(?!\d{4}-\d{2}-\d{2})\+?[\d\s().-]{7,20}$"), PiiKind.phone),  # not ISO dates
    (re.compile(r"^[A-Z][a-z]+( [A-Z][a-z.'-]+)+$"), PiiKind.name),
)
_FAKERS: dict[PiiKind, Callable] = {
    PiiKind.name: lambda f: f.name(),
    PiiKind.first_name: lambda f: f.first_name(),
    PiiKind.last_name: lambda f: f.last_name(),
    PiiKind.email: lambda f: f.email(),
    PiiKind.phone: lambda f: f.phone_number(),
    PiiKind.ssn: lambda f: f.ssn(),
    PiiKind.address: lambda f: f.address().replace("\n", ", "),
    PiiKind.city: lambda f: f.city(),
    PiiKind.postcode: lambda f: f.postcode(),
    PiiKind.iban: lambda f: f.iban(),
    PiiKind.credit_card: lambda f: f.credit_card_number(),
    PiiKind.ip: lambda f: f.ipv4_public(),
    PiiKind.username: lambda f: f.user_name(),
    PiiKind.text: lambda f: f.sentence(),
}
_POOL = 4096  # distinct fakes drawn per batch; rows pick from the pool (Faker is ~50 us a call)


def detect_kind(name: str, values: pd.Series) -> PiiKind:
    """Guess what a direct identifier is, from its column name first, then from its values."""
    lowered = name.lower()
    tokens = set(re.split(r"[^a-z]+", lowered))
    for hint, kind in _NAME_HINTS:
        if hint in tokens or (len(hint) > 3 and hint in lowered):
            return kind
    sample = values.dropna().astype(str).head(500)
    if len(sample):
        for pattern, kind in _VALUE_PATTERNS:
            if sample.str.match(pattern).mean() > 0.9:
                return kind
    return PiiKind.text


def fake_pool(
    kind: PiiKind, *, seed: int, avoid: Collection[str] = (), size: int = _POOL
) -> np.ndarray:
    """Up to `size` distinct fakes of `kind`, none equal to a value in `avoid` (the real column).

    Faker's word lists are finite: when the real column covers most of them, the pool is topped
    up with numbered variants instead of drawing forever.
    """
    from faker import Faker

    faker = Faker("en_US")
    faker.seed_instance(seed)
    make = _FAKERS[kind]
    pool: dict[str, None] = {}  # insertion-ordered set: the pool is the same for the same seed
    for _ in range(20 * size):
        value = make(faker)
        if value not in avoid:
            pool.setdefault(value)
        if len(pool) == size:
            break
    number = 0
    while len(pool) < size:
        number += 1
        value = _numbered(make(faker), number)
        if value not in avoid:
            pool.setdefault(value)
    return np.asarray(list(pool), dtype=object)


def pick_fakes(pool: np.ndarray, rows: int, *, seed: int) -> pd.Series:
    """`rows` values drawn from `pool` (with repeats, as real identifiers such as names repeat)."""
    picks = np.random.default_rng(seed).integers(0, len(pool), size=rows)
    return pd.Series(pool[picks], dtype="string")


# Where a unique fake's row number goes, (plain value, e-mail local part): 'Ann Lee 17' and
# 'ann.lee.17@example.org' first; the next pair only when a real value is the fake of some row.
# No mark ends in a digit, so the number a fake ends with is its row's, whatever the pool holds.
_MARKS: tuple[tuple[str, str], ...] = ((" ", "."), (" #", "+"), (" no. ", "_"), ("-", "-"))
_MAX_ROW_DIGITS = 18  # no output has 10**18 rows; longer digit runs are not row numbers


@dataclass(frozen=True)
class UniqueFakes:
    """Fakes for a faked column declared unique: output row r gets pool[r % len(pool)] numbered
    r + 1. Injective in r by construction; `marks` were chosen in the flow's process so that no
    real value of the column is the fake of any row, so workers need no real values to avoid."""

    pool: np.ndarray
    marks: tuple[str, str] = _MARKS[0]

    def value(self, row: int) -> str:
        """The fake of output row `row` (0-based)."""
        base = str(self.pool[row % len(self.pool)])
        plain, email = self.marks
        if "@" in base:
            local, _, domain = base.partition("@")
            return f"{local}{email}{row + 1}@{domain}"
        return f"{base}{plain}{row + 1}"

    def values(self, start: int, rows: int) -> pd.Series:
        """The fakes of output rows [start, start + rows): the same whatever the batching."""
        return pd.Series([self.value(r) for r in range(start, start + rows)], dtype="string")

    def row_of(self, value: str) -> int | None:
        """The output row whose fake `value` is, or None when it is no row's fake."""
        texts = [value, value.partition("@")[0]] if "@" in value else [value]
        for text in texts:
            digits = re.search(r"[0-9]+$", text)
            if digits is None or len(digits.group()) > _MAX_ROW_DIGITS:
                continue
            row = int(digits.group()) - 1
            if row >= 0 and self.value(row) == value:  # exact: the inverse is checked forward
                return row
        return None


def unique_fakes(pool: np.ndarray, *, real: Iterable[str], column: str = "") -> UniqueFakes:
    """Numbered fakes over `pool` whose marks make no real value the fake of any output row,
    so the output cannot hold a real identifier however many rows it has. Runs where the real
    values are: what it returns holds fakes and a mark only."""
    real = [v for v in real if any(ch.isdigit() for ch in v)]  # a fake always holds its number
    for marks in _MARKS:
        fakes = UniqueFakes(pool, marks)
        if all(fakes.row_of(value) is None for value in real):
            return fakes
    raise DataError(
        f"column {column!r}: every numbering of its fakes would reproduce a real value; "
        "declare it as a generated key instead"
    )


def _numbered(value: str, number: int) -> str:
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local}.{number}@{domain}"
    return f"{value} {number}"


def key_values(physical: str, start: int, rows: int, *, seed: int, offset: int = 0) -> pd.Series:
    """Fresh keys for global rows [start, start + rows): unique, and the same whatever the batching.

    Numeric keys count up from `offset` (the largest real key), so none equals a real key.
    """
    index = np.arange(start, start + rows, dtype=np.int64)
    if physical == "int64":
        return pd.Series(offset + index + 1, dtype="Int64")
    if physical == "float64":
        return pd.Series(offset + index + 1, dtype="float64")
    salt = str(seed).encode()
    return pd.Series(
        [
            hashlib.blake2b(salt + int(i).to_bytes(8, "little"), digest_size=8).hexdigest()
            for i in index
        ],
        dtype="string",
    )
