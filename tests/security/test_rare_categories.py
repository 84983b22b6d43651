"""Issue 18, item 4: a category held by fewer than min_count real rows is never named.

The attack: give the target a class, and a sensitive column a group, that only three people have,
and let the synthetic rows hold that group (an engine with value protection off could). Before the
fix the default positive class was the rarest target class, so the three people's outcome was
printed in the bias metrics, the downstream chart and gate reasons, and parity rates were keyed by
every synthetic group, the three-row one included.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from schemas.spec import BiasChecks, DatasetSchema, SampleSpec
from synth.fairness import RARE_CLASS, fair_cells, outcome_name, positive_class
from synth.io import build_contract
from validation import bias
from validation.gate import fold
from validation.profile import distributions

RARE_OUTCOME = "Zqxrare-outcome"  # held by three real rows
RARE_GROUP = "Zqxrare-group"  # held by three real rows
SCHEMA = {
    "sex": {"type": "categorical", "role": "sensitive"},
    "group": {"type": "categorical", "role": "sensitive"},
    "outcome": {"type": "categorical", "role": "target"},
    "x": {"type": "numerical"},
}


def _people(rows: int, seed: int, *, rare_rows: int) -> pd.DataFrame:
    """sex and group, an outcome that depends on both; `rare_rows` rows of the rare group and of
    the rare outcome."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], rows, p=[0.4, 0.6])
    group = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    rate = 0.2 + 0.2 * (sex == "M") + 0.1 * (group == "a")
    outcome = np.where(rng.random(rows) < rate, "yes", "no").astype(object)
    group = group.astype(object)
    group[:rare_rows] = RARE_GROUP
    outcome[rare_rows : 2 * rare_rows] = RARE_OUTCOME
    return pd.DataFrame(
        {"sex": sex, "group": group, "outcome": outcome, "x": rng.normal(size=rows)}
    )


@pytest.fixture(scope="module")
def tables():
    real = _people(3000, 0, rare_rows=3)
    contract, typed = build_contract(
        real, DatasetSchema.model_validate({"columns": SCHEMA}), label="people"
    )
    train, holdout = typed.iloc[:2400], typed.iloc[2400:].reset_index(drop=True)
    # an engine that emits the rare group on many rows, and the rare outcome a few times
    synthetic = _people(2400, 1, rare_rows=40)
    return contract, train, holdout, synthetic


def _named_anywhere(*things: object) -> str:
    return json.dumps(things, default=str)


def test_a_rare_target_class_or_group_is_named_nowhere_in_the_bias_check(tables) -> None:
    contract, train, holdout, synthetic = tables
    assert (train["group"] == RARE_GROUP).sum() == 3  # the attack's premise
    assert (train["outcome"] == RARE_OUTCOME).sum() < 30
    plan = SampleSpec.model_validate({"parity": {"column": "group"}})
    _, fair = fair_cells(plan, train, contract, 2400, min_count=30)
    result = bias.check(
        train, synthetic, holdout, contract=contract, thresholds=BiasChecks(min_count=30), fair=fair
    )
    verdict = fold([result])
    text = _named_anywhere(result.to_dict(), fair.to_dict(), verdict.to_dict())
    assert RARE_OUTCOME not in text and RARE_GROUP not in text
    # still judged: the positive class is the rarer class held by enough rows, named as such
    assert fair.positive == "yes" and result.charts["downstream"]["positive"] == "yes"
    parity = result.charts["plan"]["parity"]
    assert set(parity["rates"]) == {"a", "b", "c"} and parity["rare groups (not named)"] == 1


def test_a_rare_positive_class_is_judged_under_a_placeholder(tables) -> None:
    contract, train, holdout, synthetic = tables
    plan = SampleSpec.model_validate({"parity": {"column": "sex", "positive": RARE_OUTCOME}})
    _, fair = fair_cells(plan, train, contract, 2400, min_count=30)
    assert fair.positive == RARE_OUTCOME and fair.positive_name == RARE_CLASS
    result = bias.check(
        train, synthetic, holdout, contract=contract, thresholds=BiasChecks(min_count=30), fair=fair
    )
    assert RARE_OUTCOME not in _named_anywhere(result.to_dict(), fair.to_dict())
    assert result.charts["plan"]["parity"]["positive"] == RARE_CLASS


def test_the_default_positive_class_of_a_binary_target_with_a_rare_minority_is_the_other() -> None:
    values = pd.Series(["no"] * 200 + [RARE_OUTCOME] * 3)
    assert positive_class(values, min_count=10) == "no"
    assert positive_class(values) == RARE_OUTCOME  # without a floor: the minority, as before
    assert outcome_name(values, RARE_OUTCOME, min_count=10) == RARE_CLASS
    assert outcome_name(values, "no", min_count=10) == "no"


def test_the_profile_folds_rare_groups_and_classes_into_other(tables) -> None:
    contract, train, _, synthetic = tables
    charts = distributions(train, synthetic, contract, min_count=10)
    assert RARE_GROUP not in _named_anywhere(charts) and RARE_OUTCOME not in _named_anywhere(charts)
    (group,) = [c for c in charts if c["column"] == "group"]
    assert group["hidden_categories"] == 1
