"""The checks of a run compare like with like: as many real rows as synthetic ones for utility, and
the real rows the sample plan asks for (all of them, or those matching its conditions)."""

from __future__ import annotations

import pandas as pd
import pytest

from schemas.spec import DatasetSchema, DetectionChecks, QualityChecks, UtilityChecks
from synth.fairness import plan_weights
from synth.io import build_contract, split_holdout
from tests.builders import COLUMNS, adult
from validation import detection, quality, utility
from validation.reference import reference, support


@pytest.fixture(scope="module")
def adult_split():
    frame = adult(25_000, canary=False)
    schema = DatasetSchema.model_validate({"columns": COLUMNS})
    contract, typed = build_contract(frame, schema, label="adult")
    train, holdout = split_holdout(typed, share=0.2, seed=0)
    return contract, train, holdout


def test_an_honest_small_sample_keeps_a_utility_ratio_near_one(adult_split) -> None:
    contract, train, holdout = adult_split
    # 2,000 rows drawn with replacement from 20,000 training rows: as honest as a sample gets
    honest = train.sample(2_000, replace=True, random_state=1)
    result = utility.check(
        train, honest, holdout, contract=contract, thresholds=UtilityChecks(), seed=3
    )
    assert result.metrics["trtr_rows"] == result.metrics["tstr_rows"] == 2_000
    assert 0.97 <= result.metrics["ratio"] <= 1.03, result.metrics
    assert result.passed


def test_an_unconditioned_plan_compares_with_every_real_row(adult_split) -> None:
    _, train, _ = adult_split
    weights = plan_weights([(5_000, {})], train)
    assert reference(train, weights, seed=0) is train
    assert support(train, weights) is train


def test_a_conditioned_plan_compares_with_the_matching_rows_only(adult_split) -> None:
    _, train, _ = adult_split
    weights = plan_weights([(300, {"sex": "Female", "income": ">50K"})], train)
    slice_ = train[(train["sex"] == "Female") & (train["income"] == ">50K")]
    assert reference(train, weights, seed=0).index.equals(slice_.index)
    assert support(train, weights).index.equals(slice_.index)


def test_a_mixed_plan_is_sampled_in_its_proportions_without_repeating_a_row(adult_split) -> None:
    _, train, _ = adult_split
    weights = plan_weights([(1_000, {}), (1_000, {"sex": "Female"})], train)
    mixed = reference(train, weights, seed=0)
    female = float((train["sex"] == "Female").mean())
    asked = (1_000 * female + 1_000) / 2_000  # the plan's share of women
    assert float((mixed["sex"] == "Female").mean()) == pytest.approx(asked, abs=0.02)
    assert (
        mixed.index.is_unique
        and (mixed["sex"] == "Female").sum() == (train["sex"] == "Female").sum()
    )
    assert len(support(train, weights)) == len(train)


def test_a_conditioned_honest_sample_passes_against_its_slice_not_the_whole_table(
    adult_split,
) -> None:
    contract, train, holdout = adult_split
    plan = [(1_500, {"sex": "Female"})]
    # unseen real women: what a faithful engine asked for women should look like
    honest = holdout[holdout["sex"] == "Female"].reset_index(drop=True)
    real = reference(train, plan_weights(plan, train), seed=0)
    test = reference(holdout, plan_weights(plan, holdout), seed=1)

    whole = detection.check(train, honest, None, contract=contract, thresholds=DetectionChecks())
    matched = detection.check(real, honest, None, contract=contract, thresholds=DetectionChecks())
    assert not whole.passed and matched.passed and matched.metrics["roc_auc"] < 0.6

    shapes = quality.check(real, honest, None, contract=contract, thresholds=QualityChecks())
    assert shapes.passed, shapes.reasons
    assert {d["column"]: d["score"] for d in shapes.details}["sex"] == 1.0

    # one slice of the holdout is both the honest sample and the test set: use the other half
    half = len(honest) // 2
    scored = utility.check(
        real, honest.iloc[:half], test.iloc[half:], contract=contract, thresholds=UtilityChecks()
    )
    assert scored.passed and 0.9 <= scored.metrics["ratio"] <= 1.1, scored.metrics


def test_a_plan_fixing_the_target_skips_utility_instead_of_failing(adult_split) -> None:
    contract, train, holdout = adult_split
    plan = [(200, {"income": ">50K"})]
    real = reference(train, plan_weights(plan, train), seed=0)
    test = reference(holdout, plan_weights(plan, holdout), seed=1)
    synthetic = real.sample(200, random_state=2)
    result = utility.check(real, synthetic, test, contract=contract, thresholds=UtilityChecks())
    assert result.passed and "skipped" in result.metrics


def test_reference_is_seeded(adult_split) -> None:
    _, train, _ = adult_split
    weights = plan_weights([(1_000, {}), (1_000, {"race": "Black"})], train)
    first, again = reference(train, weights, seed=4), reference(train, weights, seed=4)
    assert first.index.equals(again.index)
    assert isinstance(first, pd.DataFrame)
