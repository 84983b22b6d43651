"""A real panel (the wage panel: 595 people over seven years), read and split by the linked data
layer, under a virtual root of its subjects: unseen people pass every linked check; a generator
that hands back one training person's seven years is caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.checks import ExpectationChecks, QualityChecks
from schemas.linked_spec import LinkedJobSpec, LinkedPrivacyChecks, SequenceChecks
from synth.linked.data import link, read_linked, split_subjects
from tests.builders import REPO
from validation.linked import integrity, privacy, quality, sequences
from validation.linked.measures import constant_columns
from validation.linked.tree import take_subjects

FLAGS = ("bluecol", "south", "smsa", "married", "union", "ind", "black")


@pytest.fixture(scope="module")
def panel() -> tuple:
    columns = {
        "id": {"type": "id"},
        "year": {"type": "numerical"},
        **{c: {"type": "numerical"} for c in ("exp", "wks", "ed", "lwage")},
        **{c: {"type": "boolean"} for c in FLAGS},
        "sex": {"type": "categorical"},
    }
    path = REPO / "examples" / "data" / "linked" / "wages.parquet"
    spec = LinkedJobSpec.model_validate(
        {
            "config_version": 1,
            "kind": "linked",
            "name": "wages",
            "tables": [
                {
                    "name": "wages",
                    "source": {"kind": "parquet", "path": str(path)},
                    "schema": {"columns": columns},
                    "subject": "id",
                    "order_by": "year",
                }
            ],
        }
    )
    data = link(read_linked(spec), spec)
    train, rest = split_subjects(data, share=0.4, seed=0)
    half = np.arange(len(rest["wages_subjects"])) % 2 == 0
    fresh = take_subjects(rest, data.relations, half)
    holdout = take_subjects(rest, data.relations, ~half)
    return train, holdout, fresh, data.relations


def test_unseen_people_pass_every_linked_check(panel) -> None:
    train, holdout, fresh, relations = panel
    assert relations.root.virtual and relations.names == ["wages_subjects", "wages"]
    assert sorted(constant_columns(train, relations, "wages")) == ["black", "ed", "sex"]
    for module, thresholds in (
        (sequences, SequenceChecks()),
        (privacy, LinkedPrivacyChecks()),
        (integrity, ExpectationChecks()),
        (quality, QualityChecks()),
    ):
        result = module.check(train, fresh, holdout, contract=relations, thresholds=thresholds)
        assert result.passed, (module.__name__, result.reasons)


def test_one_persons_copied_years_fail_privacy(panel) -> None:
    train, holdout, fresh, relations = panel
    person = train["wages"]["id"].iloc[0]
    years = train["wages"][train["wages"]["id"] == person].assign(id=10**6)
    leaky = {
        "wages_subjects": pd.concat(
            [fresh["wages_subjects"], pd.DataFrame({"id": [10**6]})], ignore_index=True
        ),
        "wages": pd.concat([fresh["wages"], years], ignore_index=True),
    }
    result = privacy.check(
        train, leaky, holdout, contract=relations, thresholds=LinkedPrivacyChecks()
    )
    assert not result.passed
    assert result.metrics["copied_subjects"] == 1
