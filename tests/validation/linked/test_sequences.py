"""The sequences check on households of real Adult rows: fresh real households pass, and each
kind of damage moves its own measure (order, gaps, lengths, constant columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.linked_spec import SequenceChecks
from tests.validation.linked.households import households, split
from validation.linked import measures
from validation.linked.sequences import check

# every limit at its extreme: only the noise bound from unseen real subjects decides
STRICT = SequenceChecks(
    max_length_distance=0.0,
    max_gap_distance=0.0,
    min_consistency=1.0,
    min_transition_similarity=1.0,
    min_pair_similarity=1.0,
)


@pytest.fixture(scope="module")
def sides() -> tuple:
    tables, relations = households(1200)
    train, holdout, fresh = split(tables, relations)
    return train, holdout, fresh, relations


def _people(fresh: dict, people: pd.DataFrame) -> dict:
    return {**fresh, "people": people}


def _measure(name: str, train: dict, other: dict, relations) -> float:
    value = getattr(measures, name)(train, other, relations, "people")
    assert value is not None
    return value


def test_fresh_real_households_pass_even_at_extreme_limits(sides) -> None:
    train, holdout, fresh, relations = sides
    result = check(train, fresh, holdout, contract=relations, thresholds=SequenceChecks())
    assert result.passed, result.reasons
    assert result.metrics["people.consistency"] == 1.0
    strict = check(train, fresh, holdout, contract=relations, thresholds=STRICT)
    assert strict.passed, strict.reasons
    judged = {d["measure"] for d in strict.details if d["noise bound"] is not None}
    assert len(judged) == 4  # consistency is 1.0, never past its limit


def test_events_out_of_order_lower_transition_similarity(sides) -> None:
    train, holdout, fresh, relations = sides
    people = fresh["people"].copy()
    people["joined"] = people.groupby("hh_id")["joined"].transform(
        lambda s: s.sample(frac=1, random_state=1).to_numpy()
    )
    shuffled = _people(fresh, people)
    honest = _measure("transition_similarity", train, fresh, relations)
    broken = _measure("transition_similarity", train, shuffled, relations)
    assert broken < honest - 0.05
    thresholds = SequenceChecks(min_transition_similarity=honest - 0.01)
    assert check(train, fresh, holdout, contract=relations, thresholds=thresholds).passed
    result = check(train, shuffled, holdout, contract=relations, thresholds=thresholds)
    assert not result.passed
    assert "transition similarity" in result.reasons[0]


def test_times_drawn_across_parents_fail_gap_distance(sides) -> None:
    train, holdout, fresh, relations = sides
    people = fresh["people"].copy()
    people["joined"] = people["joined"].sample(frac=1, random_state=2).to_numpy()
    result = check(
        train, _people(fresh, people), holdout, contract=relations, thresholds=SequenceChecks()
    )
    assert not result.passed
    assert result.metrics["people.gap_distance"] > 0.5
    assert any("gap distance" in r for r in result.reasons)


def test_constant_columns_made_to_vary_fail_consistency(sides) -> None:
    train, holdout, fresh, relations = sides
    assert measures.constant_columns(train, relations, "people") == ["race"]
    people = fresh["people"].copy()
    people["race"] = people["race"].sample(frac=1, random_state=3).to_numpy()
    result = check(
        train, _people(fresh, people), holdout, contract=relations, thresholds=SequenceChecks()
    )
    assert not result.passed
    assert result.metrics["people.consistency"] < 0.8
    assert any("consistency" in r for r in result.reasons)


def test_one_child_per_parent_fails_length_distance(sides) -> None:
    train, holdout, fresh, relations = sides
    people = fresh["people"].groupby("hh_id").head(1).reset_index(drop=True)
    result = check(
        train, _people(fresh, people), holdout, contract=relations, thresholds=SequenceChecks()
    )
    assert not result.passed
    assert result.metrics["people.length_distance"] > 0.5


def test_children_given_other_parents_lower_pair_similarity(sides) -> None:
    """Only the race pair depends on the parent here; the mean over all 24 pairs (SDMetrics'
    way) moves a little, deterministically."""
    train, _, fresh, relations = sides
    people = fresh["people"].copy()
    parents = fresh["households"].copy()
    parents["native-country"] = parents["native-country"].sample(frac=1, random_state=4).to_numpy()
    parents["weight"] = parents["weight"].sample(frac=1, random_state=5).to_numpy()
    parents["race"] = parents["race"].sample(frac=1, random_state=6).to_numpy()
    moved = {"households": parents, "people": people}
    honest = _measure("pair_similarity", train, fresh, relations)
    assert _measure("pair_similarity", train, moved, relations) < honest - 0.003


def test_measures_say_none_where_nothing_is_measured(sides) -> None:
    train, _, fresh, relations = sides
    assert measures.length_distance(train, fresh, relations, "households") is None
    from dataclasses import replace

    from schemas.relations import Relations

    unordered = Relations((relations.root, replace(relations["people"], order_by=None)))
    assert measures.gap_distance(train, fresh, unordered, "people") is None
    assert measures.transition_similarity(train, fresh, unordered, "people") is None
    assert measures.length_distance(train, fresh, unordered, "people") is not None


def test_measures_are_deterministic_and_keys_do_not_matter(sides) -> None:
    train, _, fresh, relations = sides
    relabelled = {
        "households": fresh["households"].assign(hh_id=fresh["households"]["hh_id"] + 10**6),
        "people": fresh["people"].assign(hh_id=fresh["people"]["hh_id"] + 10**6),
    }
    for name in measures.__all__:
        if name == "constant_columns":
            continue
        a = getattr(measures, name)(train, fresh, relations, "people")
        b = getattr(measures, name)(train, relabelled, relations, "people")
        assert a == pytest.approx(b), name
    assert np.isfinite(_measure("gap_distance", train, fresh, relations))
