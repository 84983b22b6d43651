"""Three levels (households -> people -> money): every check follows rows down the chain, and a
copied household is caught with its grandchildren."""

from __future__ import annotations

import pytest

from schemas.checks import ExpectationChecks, QualityChecks
from schemas.linked_spec import LinkedPrivacyChecks, SequenceChecks
from tests.validation.linked.households import households, split, with_copies
from validation.linked import integrity, privacy, quality, sequences
from validation.linked.history import Histories, Layout
from validation.linked.tree import subject_rows


@pytest.fixture(scope="module")
def sides() -> tuple:
    tables, relations = households(1000, levels=3)
    train, holdout, fresh = split(tables, relations)
    return train, holdout, fresh, relations


def test_grandchildren_follow_their_subject_into_every_split(sides) -> None:
    train, holdout, _, relations = sides
    assert relations.names == ["households", "people", "money"]
    for tables in (train, holdout):
        codes = subject_rows(tables, relations)
        assert (codes["money"] >= 0).all() and (codes["people"] >= 0).all()


def test_fresh_real_households_pass_every_check_on_three_levels(sides) -> None:
    train, holdout, fresh, relations = sides
    for module, thresholds in (
        (sequences, SequenceChecks()),
        (privacy, LinkedPrivacyChecks()),
        (integrity, ExpectationChecks()),
        (quality, QualityChecks()),
    ):
        result = module.check(train, fresh, holdout, contract=relations, thresholds=thresholds)
        assert result.passed, (module.__name__, result.reasons)
    judged = sequences.check(train, fresh, holdout, contract=relations, thresholds=SequenceChecks())
    assert "money.length_distance" in judged.metrics and "money.pair_similarity" in judged.metrics


def test_a_copied_household_is_caught_with_its_grandchildren(sides) -> None:
    train, holdout, fresh, relations = sides
    leaky = with_copies(fresh, train, relations, 1)
    assert len(leaky["money"]) > len(fresh["money"])
    result = privacy.check(
        train, leaky, holdout, contract=relations, thresholds=LinkedPrivacyChecks()
    )
    assert not result.passed and result.metrics["copied_subjects"] == 1
    assert integrity.check(
        train, leaky, holdout, contract=relations, thresholds=ExpectationChecks()
    ).passed


def test_a_grandchild_changed_changes_one_history(sides) -> None:
    train, _, _, relations = sides
    layout = Layout.fit(train, relations)
    before = Histories.of(train, relations, layout).hashes
    money = train["money"].copy()
    money.loc[0, "amount"] += 1
    after = Histories.of({**train, "money": money}, relations, layout).hashes
    assert (before != after).sum() == 1
