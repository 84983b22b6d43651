"""Direct identifiers: detect their kind, and replace them with realistic fakes or fresh unique keys.

PII columns never reach a model. Fakes come from Faker, seeded per batch; a fake that happens to equal
a real value of the column is drawn again, so no real identifier can reappear in the output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection

import numpy as np
import pandas as pd

from schemas.spec import PiiKind

__all__ = ["Digests", "detect_kind", "fake_pool", "key_values", "pick_fakes", "unique_fakes"]


class Digests:
    """A set of strings known only by keyed hashes: `value in digests` answers membership
    without holding the values. Partitions sampled on other processes or machines avoid the real
    identifiers this way, so the real identifiers never leave the flow's process."""

    __slots__ = ("_hashes", "_key")

    def __init__(self, values: Collection[str]) -> None:
        import os

        self._key = os.urandom(16)  # per run: the digests are useless for guessing elsewhere
        self._hashes = frozenset(self._digest(v) for v in values)

    def _digest(self, value: str) -> bytes:
        return hashlib.blake2b(value.encode(), key=self._key, digest_size=16).digest()

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self._digest(value) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __getstate__(self) -> tuple[bytes, frozenset[bytes]]:
        return self._key, self._hashes

    def __setstate__(self, state: tuple[bytes, frozenset[bytes]]) -> None:
        self._key, self._hashes = state


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


def unique_fakes(
    pool: np.ndarray, start: int, rows: int, *, avoid: Collection[str] = ()
) -> pd.Series:
    """Fakes for global rows [start, start + rows), unique across batches: numbered by row."""
    values = []
    for row in range(start, start + rows):
        value = _numbered(pool[row % len(pool)], row + 1)
        values.append(value if value not in avoid else f"{value}0")
    return pd.Series(values, dtype="string")


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
