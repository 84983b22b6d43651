"""The report's linked-tables section: aggregates from the checks, every value escaped, and a
malformed metrics file skipped rather than trusted."""

from __future__ import annotations

import pytest

from schemas.linked_spec import LinkedPrivacyChecks, SequenceChecks
from tests.validation.linked.households import households, split, with_copies
from validation.linked import privacy, sequences
from validation.linked_report import linked_section

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def metrics() -> dict:
    tables, relations = households(600)
    train, holdout, fresh = split(tables, relations)
    leaky = with_copies(fresh, train, relations, 1)
    checks = [
        sequences.check(train, leaky, holdout, contract=relations, thresholds=SequenceChecks()),
        privacy.check(train, leaky, holdout, contract=relations, thresholds=LinkedPrivacyChecks()),
    ]
    return {
        "verdict": {"status": "fail", "reasons": [], "checks": [c.to_dict() for c in checks]},
        "run": {"subjects": {"train": 300, "holdout": 150, "synthetic": 151}},
        "linked": {
            "tables": [
                {"table": "households", "parent": None, "key": "hh_id", "train_rows": 300},
                {"table": HOSTILE, "parent": "households", "order_by": "joined"},
            ]
        },
    }


def test_section_shows_tables_subjects_sequences_and_privacy(metrics: dict) -> None:
    html = linked_section(metrics)
    for text in ("Linked tables", "Subjects", "transition similarity", "Privacy by subject"):
        assert text in html
    assert "copied subjects (2+ events)" in html
    assert "<span class=fail>fail</span>" in html  # the one copied household


def test_every_value_is_escaped(metrics: dict) -> None:
    html = linked_section(metrics)
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html


def test_a_malformed_metrics_file_is_skipped_not_trusted() -> None:
    html = linked_section(
        {
            "verdict": {"checks": [None, {"name": "sequences", "passed": True, "reasons": []}]},
            "run": "oops",
            "linked": {"tables": [1, HOSTILE]},
        }
    )
    assert HOSTILE not in html and "Linked tables" in html


def test_the_table_report_renders_linked_results_with_the_section(metrics: dict) -> None:
    from schemas.checks import ExpectationChecks, QualityChecks
    from validation.linked import integrity, quality
    from validation.report import render

    tables, relations = households(600)
    train, holdout, fresh = split(tables, relations)
    more = [
        integrity.check(train, fresh, holdout, contract=relations, thresholds=ExpectationChecks()),
        quality.check(train, fresh, holdout, contract=relations, thresholds=QualityChecks()),
    ]
    full = {
        **metrics,
        "verdict": {
            **metrics["verdict"],
            "checks": metrics["verdict"]["checks"] + [c.to_dict() for c in more],
        },
        "run": {
            **metrics["run"],
            "job": "households",
            "run_id": "r1",
            "rows": 1,
            "engine": "autoregressive",
            "train_rows": 1,
            "holdout_rows": 1,
        },
        "contract": [],
    }
    html = render(full, extra=linked_section(full))
    assert "Referential integrity" in html and "Quality per table" in html
    assert "distance to the closest training row" in html  # the privacy chart, by subject
    assert HOSTILE not in html
