"""Every check on tables of odd shape: tiny, with an all-null column, a constant one, a category
seen once, dates, and a holdout class the training rows lack. Each check finishes with a verdict
(no crash, no exit 3), and an honest sample is not failed for the table's shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.spec import (
    DatasetSchema,
    DetectionChecks,
    ExpectationChecks,
    PrivacyChecks,
    QualityChecks,
    UtilityChecks,
)
from synth.io import build_contract
from validation import detection, expectations, privacy, quality, utility
from validation.profile import distributions

SCHEMA = {
    "age": {"type": "numerical", "role": "quasi_identifier"},
    "blank": {"type": "numerical"},
    "flat": {"type": "numerical"},
    "country": {"type": "categorical"},
    "job": {"type": "categorical", "role": "quasi_identifier"},
    "joined": {"type": "datetime"},
    "plan": {"type": "categorical", "role": "target"},
}
NO_ANONYMETER = PrivacyChecks.model_validate({"anonymeter": {"enabled": False}})


def odd_table(rows: int, *, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows).astype("float64")
    job = rng.choice(["clerk", "nurse", "driver"], rows)
    job[0] = "astronaut"  # a category seen once
    plan = np.where(age + rng.normal(0, 10, rows) > 50, "gold", "basic")
    return pd.DataFrame(
        {
            "age": age,
            "blank": np.full(rows, np.nan),
            "flat": np.full(rows, 3.0),
            "country": ["X"] * rows,
            "job": job,
            "joined": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 900, rows), unit="D"),
            "plan": plan,
        }
    )


@pytest.fixture(scope="module")
def tiny():
    """150 training rows, 40 holdout rows with a third class ("platinum") training never has, and
    an honest synthetic table: fresh draws of the same population, as the engine writes them
    (nanosecond dates, numpy dtypes)."""
    real = odd_table(190, seed=0)
    real.loc[170:175, "plan"] = "platinum"
    schema = DatasetSchema.model_validate({"columns": SCHEMA})
    contract, typed = build_contract(real, schema, label="odd")
    train, holdout = typed.iloc[:150], typed.iloc[150:]
    synthetic = odd_table(150, seed=1)
    synthetic.loc[0, "job"] = "clerk"  # only real categories, as an engine writes
    return contract, train, holdout, synthetic


def test_every_check_gives_a_verdict_on_a_tiny_odd_table(tiny) -> None:
    contract, train, holdout, synthetic = tiny
    results = [
        quality.check(train, synthetic, None, contract=contract, thresholds=QualityChecks()),
        utility.check(train, synthetic, holdout, contract=contract, thresholds=UtilityChecks()),
        detection.check(train, synthetic, None, contract=contract, thresholds=DetectionChecks()),
        privacy.check(train, synthetic, holdout, contract=contract, thresholds=NO_ANONYMETER),
        expectations.check(train, synthetic, None, contract, ExpectationChecks()),
    ]
    verdicts = {r.name: (r.passed, r.reasons) for r in results}
    assert verdicts["quality"][0] and verdicts["utility"][0], verdicts
    assert verdicts["detection"][0], verdicts
    assert verdicts["privacy"][0] and verdicts["expectations"][0], verdicts


def test_dates_in_any_unit_are_the_same_seconds(tiny) -> None:
    contract, train, _, _ = tiny
    from validation.frames import features

    as_ns = train.assign(joined=train["joined"].astype("datetime64[ns]"))
    as_s = train.assign(joined=train["joined"].astype("datetime64[s]"))
    seconds = features(as_ns, contract)["joined"]
    assert seconds.equals(features(as_s, contract)["joined"])
    assert seconds.iloc[0] == (train["joined"].iloc[0] - pd.Timestamp(0)).total_seconds()


def test_a_holdout_class_the_training_rows_lack_is_left_out_of_the_auc(tiny) -> None:
    contract, train, holdout, synthetic = tiny
    result = utility.check(train, synthetic, holdout, contract=contract, thresholds=UtilityChecks())
    assert result.metrics["trtr"] is not None and 0.5 < result.metrics["trtr"] <= 1.0


def test_the_profile_of_an_odd_table_names_no_rare_category(tiny) -> None:
    contract, train, _, synthetic = tiny
    charts = {c["column"]: c for c in distributions(train, synthetic, contract, min_count=10)}
    assert "astronaut" not in charts["job"]["labels"]
    assert charts["blank"]["labels"] == []  # nothing to draw, nothing to name
    assert charts["flat"]["real"] and charts["country"]["labels"][0] == "X"
