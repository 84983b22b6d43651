import pandas as pd
import pytest

from schemas.spec import DatasetSchema, ExpectationChecks
from synth.io import build_contract
from tests.builders import COLUMNS, adult
from validation import fold
from validation.expectations import ExpectationRun, check


@pytest.fixture(scope="module")
def real():
    contract, typed = build_contract(adult(400), DatasetSchema(columns=COLUMNS), label="t")
    return contract, typed


def test_real_data_passes_its_own_expectations(real) -> None:
    contract, typed = real
    result = check(typed, typed, None, contract, ExpectationChecks())
    assert result.passed, result.reasons
    assert result.metrics["failed"] == 0 and result.metrics["rows"] == 400


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda f: f.assign(sex=f["sex"].where(f.index > 2, "Martian")), "domain of column 'sex'"),
        (lambda f: f.assign(age=f["age"].where(f.index > 0, 200)), "range of column 'age'"),
        (
            lambda f: f.assign(workclass=pd.Series([None] * len(f), dtype="string")),
            "nulls of column 'workclass'",
        ),
        (
            lambda f: f.assign(record_id=f["record_id"].where(f.index > 0, f["record_id"][1])),
            "unique of column 'record_id'",
        ),
        (lambda f: f.drop(columns="income"), "columns of table"),
    ],
)
def test_broken_synthetic_data_fails_with_counts_not_values(real, corrupt, reason) -> None:
    contract, typed = real
    result = check(typed, corrupt(typed.copy()), None, contract, ExpectationChecks())
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons
    text = str(result.to_dict())
    assert "Martian" not in text and "partial_unexpected" not in text


def test_counts_add_up_across_batches_including_cross_batch_duplicates() -> None:
    columns = {**COLUMNS, "email": {"type": "text", "role": "pii", "constraints": {"unique": True}}}
    contract, typed = build_contract(adult(400), DatasetSchema(columns=columns), label="t")
    run = ExpectationRun(contract, ExpectationChecks(), expected_rows=800)
    run.update(typed)
    run.update(typed)  # the same emails again: unique within each batch, duplicated across
    result = run.result()
    assert result.metrics["rows"] == 800
    assert any("unique of column 'email': 400 of 800" in r for r in result.reasons)


def test_nulls_are_not_duplicates_and_row_count_is_checked(real) -> None:
    columns = {"code": {"type": "categorical", "constraints": {"unique": True}}}
    frame = pd.DataFrame({"code": ["a", "b", None, None, "c"]})
    contract, typed = build_contract(frame, DatasetSchema(columns=columns), label="t")
    assert check(typed, typed, None, contract, ExpectationChecks(null_share_tolerance=0.5)).passed
    run = ExpectationRun(contract, ExpectationChecks(null_share_tolerance=0.5), expected_rows=9)
    run.update(typed)
    assert "row count: 5 rows, 9 planned" in run.result().reasons


def test_tolerance_lets_a_small_share_through(real) -> None:
    contract, typed = real
    broken = typed.assign(sex=typed["sex"].where(typed.index > 1, "Martian"))
    assert check(typed, broken, None, contract, ExpectationChecks(max_unexpected_share=0.01)).passed


def test_gate_folds_every_failure_and_refuses_no_checks(real) -> None:
    contract, typed = real
    bad = check(typed, typed.drop(columns="income"), None, contract, ExpectationChecks())
    verdict = fold([bad])
    assert not verdict.passed and verdict.reasons[0].startswith("expectations: ")
    assert not fold([]).passed


def _with_rules(frame: pd.DataFrame, constraints: list[dict]):
    columns = {
        **COLUMNS,
        "education-num": {"type": "numerical"},
        "capital-gain": {"type": "numerical"},
    }
    frame = frame.assign(**{"capital-gain": frame["age"] * 10})  # a rule that holds
    schema = DatasetSchema(columns=columns, constraints=constraints)
    return build_contract(frame, schema, label="t")


RULES = [
    {"kind": "inequality", "low": "age", "high": "capital-gain"},
    {"kind": "fixed_combinations", "columns": ["education", "education-num"]},
]


def test_declared_rules_hold_on_real_data_and_catch_broken_rows() -> None:
    contract, typed = _with_rules(adult(400, extra=("education-num",)), RULES)
    assert check(typed, typed, None, contract, ExpectationChecks()).passed
    broken = typed.copy()
    broken.loc[:2, "capital-gain"] = broken.loc[:2, "age"] - 1
    moved = broken["education"] == "Bachelors"
    broken.loc[moved, "education-num"] = 1
    result = check(typed, broken, None, contract, ExpectationChecks())
    assert "constraints[0]: capital-gain >= age: broken in 3 of 400 rows" in result.reasons
    assert any(
        r.startswith("constraints[1]: fixed combinations of education, education-num: broken in")
        for r in result.reasons
    ), result.reasons
    assert "Bachelors" not in str(result.to_dict())


def test_real_data_breaking_a_declared_inequality_is_a_data_error() -> None:
    from schemas.errors import DataError

    with pytest.raises(
        DataError, match=r"constraints\[0\] \(age >= capital-gain\) is broken by 400"
    ):
        _with_rules(
            adult(400, extra=("education-num",)),
            [{"kind": "inequality", "low": "capital-gain", "high": "age"}],
        )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "inequality", "low": "age", "high": "nope"}, "'nope' is not declared"),
        ({"kind": "inequality", "low": "age", "high": "sex"}, "two numerical or two datetime"),
        ({"kind": "fixed_combinations", "columns": ["sex", "full_name"]}, "not modelled"),
        ({"kind": "fixed_combinations", "columns": ["sex"]}, "at least 2 items"),
    ],
)
def test_bad_rules_are_spec_errors(rule, message) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        DatasetSchema(columns=COLUMNS, constraints=[rule])


def test_range_tolerance_widens_observed_ranges_only(real) -> None:
    contract, typed = real
    span = float(typed["hours-per-week"].max() - typed["hours-per-week"].min())
    above = typed.assign(**{"hours-per-week": typed["hours-per-week"] + span * 0.05})
    assert not check(typed, above, None, contract, ExpectationChecks()).passed
    assert check(typed, above, None, contract, ExpectationChecks(range_tolerance=0.1)).passed
    over_declared = typed.assign(age=typed["age"].where(typed.index > 0, 95))  # declared max 90
    assert not check(
        typed, over_declared, None, contract, ExpectationChecks(range_tolerance=1.0)
    ).passed


@pytest.mark.parametrize(
    ("rows", "synthetic_nulls", "passes"), [(800, 432, True), (800, 520, False)]
)
def test_null_share_allows_for_the_noise_of_a_small_real_table(
    rows: int, synthetic_nulls: int, passes: bool
) -> None:
    """48% missing in 800 real rows: 54% in the output is noise (plus the 5% tolerance), 65% is
    not; on a table this small the real share alone is uncertain by about 2 points."""
    columns = {"apoe": {"type": "categorical"}}
    real = pd.DataFrame({"apoe": ["e3"] * (rows - 384) + [None] * 384})
    contract, typed = build_contract(real, DatasetSchema(columns=columns), label="t")
    synthetic = pd.DataFrame({"apoe": ["e3"] * (rows - synthetic_nulls) + [None] * synthetic_nulls})
    synthetic = synthetic.astype(typed.dtypes.to_dict())
    assert check(typed, synthetic, None, contract, ExpectationChecks()).passed is passes
