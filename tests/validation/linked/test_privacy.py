"""Privacy by subject on households of real Adult rows: fresh real households pass; a generator
that copies training households' whole histories is caught, even one copy among honest ones."""

from __future__ import annotations

import pytest

from schemas.linked_spec import LinkedPrivacyChecks
from tests.validation.linked.households import households, split, with_copies
from validation.linked.history import Histories, Layout
from validation.linked.privacy import check, subject_dcr_share


@pytest.fixture(scope="module")
def sides() -> tuple:
    tables, relations = households(1600)
    train, holdout, fresh = split(tables, relations)
    return train, holdout, fresh, relations


def test_fresh_real_households_pass(sides) -> None:
    train, holdout, fresh, relations = sides
    result = check(train, fresh, holdout, contract=relations, thresholds=LinkedPrivacyChecks())
    assert result.passed, result.reasons
    assert result.metrics["copied_subjects"] == 0
    assert 0.4 < result.metrics["dcr_share"] < 0.6
    assert result.metrics["attack_auc"] < 0.58
    assert {row["measure"].split(":")[0] for row in result.details} >= {
        "copied histories",
        "copied subjects",
    }


def test_one_copied_household_among_honest_ones_fails(sides) -> None:
    train, holdout, fresh, relations = sides
    leaky = with_copies(fresh, train, relations, 1)
    result = check(train, leaky, holdout, contract=relations, thresholds=LinkedPrivacyChecks())
    assert not result.passed
    assert result.metrics["copied_subjects"] == 1
    assert len(result.reasons) == 1 and "whole history" in result.reasons[0]
    # the distances alone cannot see one subject in 400: the count rule is what catches it
    off = LinkedPrivacyChecks(max_copied_subjects=None)
    assert check(train, leaky, holdout, contract=relations, thresholds=off).passed


def test_a_generator_copying_many_histories_fails_every_measure(sides) -> None:
    train, holdout, fresh, relations = sides
    leaky = with_copies(fresh, train, relations, 300)
    result = check(train, leaky, holdout, contract=relations, thresholds=LinkedPrivacyChecks())
    assert not result.passed
    failed = {row["measure"].split(" ")[0] for row in result.details if not row["passed"]}
    assert failed >= {"copied", "DCR", "membership"}
    assert subject_dcr_share(train, leaky, holdout, relations) > 0.6
    assert 0.4 < subject_dcr_share(train, fresh, holdout, relations) < 0.6


def test_a_history_hash_sees_one_changed_event(sides) -> None:
    train, _, _, relations = sides
    layout = Layout.fit(train, relations)
    before = Histories.of(train, relations, layout)
    people = train["people"].copy()
    people.loc[len(people) - 1, "hours-per-week"] += 1
    after = Histories.of({**train, "people": people}, relations, layout)
    assert (before.hashes != after.hashes).sum() == 1
    reordered = {k: v.sample(frac=1, random_state=0) for k, v in train.items()}
    again = Histories.of(reordered, relations, layout)
    assert sorted(again.hashes) == sorted(before.hashes)


def test_without_holdout_subjects_privacy_cannot_pass(sides) -> None:
    train, _, fresh, relations = sides
    result = check(train, fresh, None, contract=relations, thresholds=LinkedPrivacyChecks())
    assert not result.passed and "cannot be judged" in result.reasons[0]
