"""Direct identifiers hiding in columns nobody declared as PII: e-mail addresses, phone numbers, US
social security numbers and payment card numbers, searched for inside the text of string columns.

The answer is counts only, never a matched value, so it can go into a report without leaking. Each
column is scanned once per distinct value (categorical columns have few). numpy counts digits, "@"
and "+" per value first, so a regex (pandas' ``.str`` methods) only looks at values that could hold
a hit; card candidates are pulled out with ``findall`` and their Luhn checksums run in numpy.

What each kind accepts (anywhere in the text, not only as the whole value):

- email: ``local@domain.tld`` with a dotted domain and an alphabetic top-level label of 2+ letters.
- ssn: ``ddd-dd-dddd`` or ``ddd dd dddd`` (one separator, used twice), except area 000, 666 or 9xx,
  group 00 and serial 0000; not when it is part of a longer run of digits and separators.
- credit_card: a maximal run of 13-19 digits, optionally separated by single spaces or dashes, whose
  digits pass the Luhn checksum; a run that is longer, glued to letters, signed (``+``) or the whole
  part of a decimal number is not a candidate.
- phone: ``+`` and a country code followed by digit groups (spaces, dots, dashes or one bracketed
  group between them) with 10-15 digits in all, or a North-American number with separators,
  ``(NXX) NXX-XXXX`` / ``NXX-NXX-XXXX`` / ``NXX.NXX.XXXX`` / ``NXX NXX XXXX`` with an optional leading
  ``1``, where N is 2-9. Dates, times, years, small integers, decimals and version strings do not
  have that shape; a value counted as ssn or credit_card is not also counted as phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["KINDS", "luhn_valid", "scan"]

KINDS = ("email", "phone", "ssn", "credit_card")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)
_SSN = re.compile(
    r"(?<![\w+.,-])(?<![0-9][ .-])"  # not inside a longer number
    r"(?!000|666|9)[0-9]{3}(?:-(?!00)[0-9]{2}-| (?!00)[0-9]{2} )(?!0000)[0-9]{4}"
    r"(?![\w]|[ .,-][0-9])"
)
# A maximal run of digit groups; the look-arounds stop backtracking from cutting a longer run short.
_CARD = re.compile(r"(?<![\w.,+])(?<![0-9][ -])[0-9]+(?:[ -][0-9]+)*(?![\w]|[.,][0-9]|[ -][0-9])")
_PHONE_NANP = re.compile(
    r"(?<![\w+.,-])(?<![0-9][ .-])"
    r"(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
    r"(?![\w]|[ .,-][0-9])"
)
_PHONE_INTL = re.compile(
    r"(?<![\w+])\+[0-9]+(?:(?: ?\([0-9]+\) ?|[ .-])[0-9]+)*(?![\w]|[.,][0-9]|[ .-][0-9])"
)
_SIGNED_DECIMAL = re.compile(r"\+[0-9]+\.[0-9]+")  # +12345678.90 is an amount, not a phone
_NON_DIGIT = re.compile(r"[^0-9]")


def scan(frame: pd.DataFrame, columns: Iterable[str]) -> list[dict]:
    """One row per (column, kind) with any match: {"column", "kind", "matches" (rows with at least
    one hit), "rows" (non-null rows scanned), "share"}. Sorted by column then kind.

    Only counts come back, never a matched value.
    """
    found: list[dict] = []
    for column in dict.fromkeys(columns):
        counts = frame[column].value_counts(dropna=True, sort=False)
        counts = counts[counts > 0]  # a categorical's unused categories
        rows = int(counts.sum())
        if not rows:
            continue
        text = pd.Series(np.asarray(counts.index.astype(str), dtype=object))
        weights = counts.to_numpy(dtype=np.int64)
        for kind, hit in _hits(text).items():
            matches = int(weights[hit].sum())
            if matches:
                found.append(
                    {
                        "column": column,
                        "kind": kind,
                        "matches": matches,
                        "rows": rows,
                        "share": matches / rows,
                    }
                )
    return sorted(found, key=lambda r: (str(r["column"]), r["kind"]))


def _hits(text: pd.Series) -> dict[str, np.ndarray]:
    """Per kind, which of these (distinct, non-null) values hold at least one match."""
    # Cheap filters before any regex: every kind but email needs 9+ digits, email an "@".
    digits, at, plus = _byte_counts(text, b"0123456789", b"@", b"+")
    at, plus = at > 0, plus > 0
    email = _flag(text, at, _EMAIL)
    ssn = _flag(text, digits >= 9, _SSN)
    card = _cards(text, digits >= 13)
    phone = _flag(text, digits >= 10, _PHONE_NANP) | _international(text, (digits >= 10) & plus)
    return {"email": email, "phone": phone & ~(ssn | card), "ssn": ssn, "credit_card": card}


def _byte_counts(text: pd.Series, *sets: bytes) -> list[np.ndarray]:
    """Per value, how many of its characters fall in each set of ASCII characters (numpy, no loop)."""
    values = text.tolist()
    joined = np.frombuffer("\0".join(values).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    ends = np.flatnonzero(joined == 0)
    if len(ends) != len(values) - 1:  # a value holds NUL itself: count one value at a time
        return [
            np.array([sum(v.count(chr(c)) for c in chars) for v in values], dtype=np.int64)
            for chars in sets
        ]
    starts = np.concatenate([[0], ends + 1])
    empty = starts == np.concatenate([ends, [len(joined)]])
    starts = np.minimum(starts, max(len(joined) - 1, 0))  # reduceat wants indices inside the array
    counts = []
    for chars in sets:
        table = np.zeros(256, dtype=np.int32)
        table[np.frombuffer(chars, dtype=np.uint8)] = 1
        if not len(joined):
            counts.append(np.zeros(len(values), dtype=np.int64))
            continue
        found = np.add.reduceat(table[joined], starts).astype(np.int64)
        found[empty] = 0  # reduceat gives the element at the start for an empty stretch
        counts.append(found)
    return counts


def _flag(text: pd.Series, candidates: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    out = np.zeros(len(text), dtype=bool)
    if candidates.any():
        out[candidates] = text[candidates].str.contains(pattern, regex=True).to_numpy(dtype=bool)
    return out


def _matches(text: pd.Series, candidates: np.ndarray, pattern: re.Pattern[str]) -> pd.Series:
    """Every match of pattern in the candidate values, indexed by the position of its value."""
    if not candidates.any():
        return pd.Series([], dtype=object)
    return text[candidates].str.findall(pattern).explode().dropna()


def _cards(text: pd.Series, candidates: np.ndarray) -> np.ndarray:
    """Which values hold a Luhn-valid run of 13-19 digits."""
    out = np.zeros(len(text), dtype=bool)
    runs = _matches(text, candidates, _CARD)
    runs = runs[runs.str.len() >= 13]
    numbers = runs.str.replace(_NON_DIGIT, "", regex=True)
    numbers = numbers[numbers.str.len().between(13, 19)]
    if not numbers.empty:
        valid = luhn_valid(numbers.to_numpy(dtype=str))
        out[numbers.index.to_numpy()[valid]] = True
    return out


def _international(text: pd.Series, candidates: np.ndarray) -> np.ndarray:
    out = np.zeros(len(text), dtype=bool)
    spans = _matches(text, candidates, _PHONE_INTL)
    if not spans.empty:
        keep = spans.str.count(r"[0-9]").between(10, 15) & ~spans.str.fullmatch(_SIGNED_DECIMAL)
        out[spans.index.to_numpy()[keep.to_numpy(dtype=bool)]] = True
    return out


def luhn_valid(numbers: np.ndarray) -> np.ndarray:
    """Luhn checksum of digit strings (each at most 19 digits), vectorised: one bool per number."""
    if not len(numbers):
        return np.zeros(0, dtype=bool)
    padded = np.char.zfill(numbers.astype("U19"), 19).astype("S19")  # leading zeros change nothing
    digits = np.frombuffer(padded.tobytes(), dtype=np.uint8).reshape(-1, 19).astype(np.int64) - 48
    doubled = digits[:, 1::2] * 2  # every second digit from the right (position 18 is the last)
    digits[:, 1::2] = np.where(doubled > 9, doubled - 9, doubled)
    return digits.sum(axis=1) % 10 == 0
