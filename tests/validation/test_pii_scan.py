import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from validation.pii_scan import KINDS, luhn_valid, scan

ADULT = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.parquet"

CONTACT = [
    "alice@example.com",
    "Reach me: bob.smith+news@mail.co.uk, thanks",
    "two of them: a@b.io c@d.org",  # one row, however many hits
    "not an email: foo@bar",
    "@handle",
    None,
    "call me at +1 (415) 555-0134 tomorrow",
    "415-555-0134",
    "(212) 555 0199",
    "1-800-555-0100",
    "+44 20 7946 0958",
    "+4915112345678",
    "+33 1 23 45 67 89",
    "mail x@y.net or ring 646.555.0101",  # both an e-mail and a phone
]
IDS = [
    "123-45-6789",
    "SSN 078 05 1120 on file",
    "000-12-3456",  # area 000
    "666-12-3456",  # area 666
    "912-34-5678",  # area 9xx
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "123-45-67890",  # too long
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "paid with 5500005555555559 yesterday",
    "378282246310005",  # Amex, 15 digits
    "4111 1111 1111 1112",  # fails Luhn
    "4111111111111112",  # fails Luhn
    "1234567812345678",  # fails Luhn
    "41111111111111111111",  # 20 digits
    pd.NA,
]
NOT_PII = [
    "2024-01-31",
    "2024-01-31T12:30:45",
    "2024-01-31 12:30:45",
    "31.01.2024",
    "01/31/2024",
    "12:30:45",
    "1999",
    "42",
    "13",
    "0",
    "123456.78",
    "1234567890.12",
    "-1234567890123.5",
    "+12345678.90",
    "1,234,567,890",
    "v1.2.3",
    "10.0.19041.1234",
    "192.168.1.1",
    "3.14159265358979",
    "4155550134",  # ten bare digits: no separators, too short for a card
    "123-456-7890",  # area code starting 1
    "Married-civ-spouse",
    ">50K",
    "<=50K",
    "United-States",
    "",
    "N/A",
]


def frame() -> pd.DataFrame:
    width = max(len(CONTACT), len(IDS), len(NOT_PII))

    def pad(values: list) -> list:
        return values + [None] * (width - len(values))

    return pd.DataFrame(
        {
            "contact": pd.Series(pad(CONTACT), dtype=object),
            "ids": pd.Series(pad(IDS), dtype="string"),
            "noise": pd.Series(pad(NOT_PII), dtype=object),
        }
    )


def counts(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r["column"], r["kind"]): (r["matches"], r["rows"]) for r in rows}


def test_counts_per_kind_are_exact() -> None:
    assert counts(scan(frame(), ["contact", "ids", "noise"])) == {
        ("contact", "email"): (4, 13),
        ("contact", "phone"): (8, 13),
        ("ids", "credit_card"): (4, 16),
        ("ids", "ssn"): (2, 16),
    }


def test_rows_are_sorted_and_shaped() -> None:
    rows = scan(frame(), ["ids", "noise", "contact"])
    assert [(r["column"], r["kind"]) for r in rows] == [
        ("contact", "email"),
        ("contact", "phone"),
        ("ids", "credit_card"),
        ("ids", "ssn"),
    ]
    for row in rows:
        assert set(row) == {"column", "kind", "matches", "rows", "share"}
        assert row["kind"] in KINDS
        assert row["share"] == pytest.approx(row["matches"] / row["rows"])


def test_luhn_tells_valid_from_invalid_card_numbers() -> None:
    numbers = np.array(
        ["4111111111111111", "4111111111111112", "378282246310005", "5500005555555559", "0"]
    )
    assert luhn_valid(numbers).tolist() == [True, False, True, True, True]
    assert luhn_valid(np.array([], dtype=str)).tolist() == []
    one = pd.DataFrame({"c": ["4111 1111 1111 1111", "4111 1111 1111 1112"]})
    assert counts(scan(one, ["c"])) == {("c", "credit_card"): (1, 2)}


@pytest.mark.parametrize("value", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567"])
def test_invalid_ssns_are_not_counted(value: str) -> None:
    assert scan(pd.DataFrame({"c": [value, f"ssn: {value}"]}), ["c"]) == []


@pytest.mark.parametrize("value", NOT_PII)
def test_dates_decimals_years_and_categories_are_no_hits(value: str) -> None:
    assert scan(pd.DataFrame({"c": [value, f"noted {value} here"]}), ["c"]) == []


def test_hits_inside_text_are_found() -> None:
    notes = pd.DataFrame(
        {
            "notes": [
                "call me at +1 (415) 555-0134 tomorrow",
                "Customer wrote from jane_doe@corp.example.com about the refund.",
                "SSN on file: 234-56-7890; verified",
                "card 4111-1111-1111-1111 expires soon",
                "nothing to see here, order 42 shipped 2024-01-31",
            ]
        }
    )
    assert counts(scan(notes, ["notes"])) == {
        ("notes", "credit_card"): (1, 5),
        ("notes", "email"): (1, 5),
        ("notes", "phone"): (1, 5),
        ("notes", "ssn"): (1, 5),
    }


def test_a_value_counted_as_ssn_or_card_is_not_also_a_phone() -> None:
    values = [
        "123-45-6789 or 415-555-0134",
        "4111 1111 1111 1111, phone 415-555-0134",
        "415-555-0134",
    ]
    assert counts(scan(pd.DataFrame({"c": values}), ["c"])) == {
        ("c", "credit_card"): (1, 3),
        ("c", "phone"): (1, 3),
        ("c", "ssn"): (1, 3),
    }


def test_missing_values_are_not_rows_and_repeats_count_once_each() -> None:
    data = pd.DataFrame(
        {
            "obj": pd.Series(["a@b.com", None, np.nan, "a@b.com", "x"], dtype=object),
            "str": pd.Series(["a@b.com", pd.NA, "a@b.com", "x", "x"], dtype="string"),
            "cat": pd.Categorical(["a@b.com", None, "a@b.com", "a@b.com", "x"]),
            "empty": pd.Series([None] * 5, dtype=object),
        }
    )
    assert counts(scan(data, ["obj", "str", "cat", "empty"])) == {
        ("cat", "email"): (3, 4),
        ("obj", "email"): (2, 3),
        ("str", "email"): (2, 4),
    }
    assert scan(data.iloc[:0], ["obj", "str"]) == []


def test_the_result_never_holds_a_matched_value() -> None:
    data = frame()
    text = json.dumps(scan(data, list(data.columns)))
    hits = [
        "alice@example.com",
        "example.com",
        "555-0134",
        "5550134",
        "7946",
        "6789",
        "1120",
        "4111",
        "5559",
        "0005",
    ]
    assert not [hit for hit in hits if hit in text]


@pytest.mark.skipif(not ADULT.exists(), reason="the bundled Adult sample is not there")
def test_adults_categories_hold_no_identifiers() -> None:
    adult = pd.read_parquet(ADULT)
    text = [
        n
        for n, v in adult.items()
        if n not in ("full_name", "email")
        and (pd.api.types.is_object_dtype(v) or pd.api.types.is_string_dtype(v))
    ]
    assert len(text) >= 8
    assert scan(adult, text) == []
    as_text = adult.drop(columns=["full_name", "email"]).astype(str)
    assert scan(as_text, list(as_text.columns)) == []  # numbers as strings too
    # The declared e-mail column is the control: every address is found.
    assert counts(scan(adult, ["email"])) == {("email", "email"): (len(adult), len(adult))}


def test_odd_values_are_scanned_like_any_other() -> None:
    values = [
        "",
        "a\0b 415-555-0134",  # a NUL inside the text
        "",
        "Zoë écrit à zoë@exemple.fr",  # non-ASCII text around an address
        "+1 555 0134",  # too few digits for a phone
        "+44 20 7946 0958 1234 5678",  # too many
        "",
    ]
    assert counts(scan(pd.DataFrame({"c": values}), ["c"])) == {
        ("c", "email"): (1, 7),
        ("c", "phone"): (1, 7),
    }
    mixed = pd.DataFrame({"c": pd.Series([4111111111111111, "x", 13, None], dtype=object)})
    assert counts(scan(mixed, ["c"])) == {("c", "credit_card"): (1, 3)}
