import numpy as np
import pandas as pd
import pytest

from schemas import DataError
from schemas.spec import DatasetSchema
from synth.io import build_contract
from tests.builders import COLUMNS, adult


def _schema(**changes) -> DatasetSchema:
    columns = {k: dict(v) for k, v in COLUMNS.items()}
    columns.update(changes)
    return DatasetSchema(columns=columns)


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None).astype(str)


def test_contract_types_columns_and_profiles_them() -> None:
    contract, typed = build_contract(_text(adult(300)), _schema(), label="d.csv")
    assert str(typed["age"].dtype) == "Int64" and contract["age"].physical == "int64"
    assert contract["record_id"].is_generated_key and not contract["record_id"].is_modelled
    assert contract["full_name"].is_faked and contract["email"].pii_kind.value == "email"
    assert [c.name for c in contract.modelled] == [
        "age",
        "workclass",
        "education",
        "race",
        "sex",
        "hours-per-week",
        "income",
    ]
    summary = str(contract.summary())
    assert "Female" not in summary and "Private" not in summary  # domains are counted, not listed


def test_missing_declared_column() -> None:
    with pytest.raises(DataError, match="d.csv: declared column 'sex' is missing"):
        build_contract(adult(50).drop(columns="sex"), _schema(), label="d.csv")


def test_undeclared_column_errors_or_drops() -> None:
    frame = adult(50).assign(extra=1)
    with pytest.raises(DataError, match="column 'extra' is not declared"):
        build_contract(frame, _schema(), label="d.csv")
    schema = DatasetSchema(columns=_schema().columns, undeclared="drop")
    contract, typed = build_contract(frame, schema, label="d.csv")
    assert "extra" not in typed and contract.notes


def test_wrong_type_counts_bad_values_without_showing_them() -> None:
    frame = _text(adult(50))
    frame.loc[[3, 7], "age"] = "forty-two"
    with pytest.raises(DataError) as caught:
        build_contract(frame, _schema(), label="d.csv")
    assert str(caught.value) == "d.csv: column 'age': 2 of 50 values cannot be read as numbers"


def test_duplicate_key_is_counted() -> None:
    frame = adult(50)
    frame.loc[1, "record_id"] = frame.loc[0, "record_id"]
    with pytest.raises(DataError, match="column 'record_id': 1 duplicate values"):
        build_contract(frame, _schema(), label="d.csv")


def test_declared_range_and_value_set_are_enforced_on_real_data() -> None:
    frame = adult(50)
    with pytest.raises(DataError, match="'age': .* outside the declared range"):
        build_contract(
            frame, _schema(age={"type": "numerical", "constraints": {"max": 20}}), label="d"
        )
    with pytest.raises(DataError, match="'sex': .* outside the declared value set"):
        build_contract(
            frame,
            _schema(sex={"type": "categorical", "constraints": {"values": ["Male"]}}),
            label="d",
        )


def test_empty_data_is_rejected() -> None:
    with pytest.raises(DataError, match="no rows"):
        build_contract(adult(10).iloc[0:0], _schema(), label="d.csv")


def test_booleans_and_dates_parse() -> None:
    frame = pd.DataFrame({"flag": ["yes", "no", None], "when": ["2024-01-02", "2024-03-04", None]})
    schema = DatasetSchema(columns={"flag": {"type": "boolean"}, "when": {"type": "datetime"}})
    contract, typed = build_contract(frame, schema, label="d")
    assert typed["flag"].tolist()[:2] == [True, False]
    assert contract["when"].physical == "timestamp"


def test_huge_exponents_count_as_bad_numbers_instead_of_crashing() -> None:
    frame = pd.DataFrame({"age": ["42", "1e88174593380", "99e88174593380"]})
    schema = DatasetSchema(columns={"age": {"type": "numerical"}})
    with pytest.raises(DataError, match="'age': 2 of 3 values cannot be read as numbers"):
        build_contract(frame, schema, label="d.csv")


def test_dates_with_mixed_offsets_parse_and_far_future_dates_are_refused() -> None:
    schema = DatasetSchema(columns={"when": {"type": "datetime"}})
    mixed = pd.DataFrame({"when": ["2024-01-02T10:00:00+01:00", "2024-01-02T10:00:00-05:00"]})
    _, typed = build_contract(mixed, schema, label="d")
    assert typed["when"].tolist() == [
        pd.Timestamp("2024-01-02 09:00"),
        pd.Timestamp("2024-01-02 15:00"),
    ]
    far = pd.DataFrame({"when": np.array(["2020-01-01", "2999-07-14"], dtype="datetime64[us]")})
    with pytest.raises(DataError, match="'when': 1 dates outside the supported range"):
        build_contract(far, schema, label="d")


def test_a_bad_datetime_format_is_a_spec_error() -> None:
    from schemas import SpecError

    schema = DatasetSchema(columns={"when": {"type": "datetime", "datetime_format": "%Q"}})
    with pytest.raises(SpecError, match=r"schema.columns.when.datetime_format"):
        build_contract(pd.DataFrame({"when": ["2020"]}), schema, label="d")
