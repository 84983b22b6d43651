"""The per-table checks of a linked job on households of real Adult rows: each table's quality
and expectations, and the links between tables as GX expectations."""

from __future__ import annotations

import pandas as pd
import pytest

from schemas.checks import ExpectationChecks, QualityChecks
from tests.validation.linked.households import households, split
from validation.linked import integrity, quality


@pytest.fixture(scope="module")
def sides() -> tuple:
    tables, relations = households(800)
    train, holdout, fresh = split(tables, relations)
    return train, holdout, fresh, relations


def _expect(sides, synthetic: dict) -> object:
    train, holdout, _, relations = sides
    return integrity.check(
        train, synthetic, holdout, contract=relations, thresholds=ExpectationChecks()
    )


def test_fresh_real_households_meet_every_expectation(sides) -> None:
    result = _expect(sides, sides[2])
    assert result.passed, result.reasons
    kinds = {(d["table"], d["expectation"]) for d in result.details}
    assert ("people", "foreign key in parent") in kinds
    assert ("households", "unique") in kinds  # the primary key, from the table's own suite
    assert result.metrics["broken_links"] == 0


def test_a_child_naming_no_parent_breaks_referential_integrity(sides) -> None:
    fresh = sides[2]
    people = fresh["people"].copy()
    people.loc[:2, "hh_id"] = 10**7
    result = _expect(sides, {**fresh, "people": people})
    assert not result.passed
    assert result.metrics["broken_links"] == 3
    assert any("referential integrity: 3 of" in r for r in result.reasons)


def test_a_repeated_primary_key_fails(sides) -> None:
    fresh = sides[2]
    parents = fresh["households"].copy()
    extra = parents.iloc[[0]]
    people = fresh["people"]
    result = _expect(sides, {"households": pd.concat([parents, extra]), "people": people})
    assert not result.passed
    assert any(r.startswith("households: unique of column 'hh_id'") for r in result.reasons)


def test_a_missing_foreign_key_fails(sides) -> None:
    fresh = sides[2]
    people = fresh["people"].copy()
    people.loc[0, "hh_id"] = pd.NA
    result = _expect(sides, {**fresh, "people": people})
    assert not result.passed
    assert any("foreign key not missing" in r for r in result.reasons)


def test_quality_is_judged_per_table_and_folded(sides) -> None:
    train, holdout, fresh, relations = sides
    result = quality.check(train, fresh, holdout, contract=relations, thresholds=QualityChecks())
    assert result.passed, result.reasons
    assert result.metrics["tables"] == 2
    assert result.metrics["column_shapes"] == min(
        result.metrics["households.column_shapes"], result.metrics["people.column_shapes"]
    )
    assert {d["column"].split(".")[0] for d in result.details} == {"households", "people"}
    empty = {**fresh, "people": fresh["people"].iloc[:0]}
    failed = quality.check(train, empty, holdout, contract=relations, thresholds=QualityChecks())
    assert not failed.passed and failed.reasons == ("people: the synthetic table has no rows",)
