"""The check registry: every check of every modality shares the one contract signature."""

import inspect

import pytest

from validation.registry import CHECKS, checks_for

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD = inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize(
    ("modality", "name"), [(m, n) for m, checks in CHECKS.items() for n in checks]
)
def test_every_registered_check_has_the_contract_signature(modality: str, name: str) -> None:
    parameters = list(inspect.signature(CHECKS[modality][name]).parameters.values())
    assert [(p.name, p.kind) for p in parameters[:5]] == [
        ("real", POSITIONAL),
        ("synthetic", POSITIONAL),
        ("holdout", POSITIONAL),
        ("contract", KEYWORD),
        ("thresholds", KEYWORD),
    ]
    assert all(p.kind is KEYWORD for p in parameters[5:])


def test_checks_come_in_the_order_the_gate_reports_them() -> None:
    assert list(checks_for("table")) == [
        "quality",
        "utility",
        "detection",
        "privacy",
        "bias",
        "text",
    ]
    assert list(checks_for("images")) == ["training", "quality", "privacy", "bias"]
    assert list(checks_for("linked")) == [
        "expectations",
        "quality",
        "sequences",
        "privacy",
        "text",
    ]


def test_an_unknown_modality_is_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="'audio'"):
        checks_for("audio")
