"""Issue 18, item 13: `synth report` renders a metrics.json anyone who can write the run folder can
edit, so no field of it may put markup into report.html.

The attack: every string of a complete metrics.json (check names, reasons, job, engine, versions,
chart labels, dict keys) carries script and attribute-breaking payloads, and, one at a time, every
number is replaced by one. The rendered page must contain only the tags and attributes the renderer
writes itself; a number that is not a number is a bad metrics file (exit 2), never markup.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from flows.cli import main
from validation import image_report, report

PAYLOAD = "<script>alert(1)</script>'\"><img src=x onerror=alert(2)><svg onload=alert(3)>"
PNG = "data:image/png;base64,iVBORw0KGgo="
# every tag the renderers write; anything else in the page came from the metrics
TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "div", "b",
    "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "figure", "figcaption", "svg", "rect",
    "line", "text", "polyline", "img",
}  # fmt: skip
ATTRIBUTES = {
    "lang", "charset", "class", "style", "title", "role", "viewbox", "width", "height", "xmlns",
    "x", "y", "x1", "y1", "x2", "y2", "fill", "stroke", "stroke-width", "stroke-dasharray",
    "font-size", "text-anchor", "transform", "points", "alt", "src",
}  # fmt: skip


def _check(name: str, metrics: dict, details: list, charts: dict) -> dict[str, Any]:
    return {
        "name": name,
        "passed": False,
        "metrics": metrics,
        "reasons": ["too far off"],
        "details": details,
        "charts": charts,
    }


def table_metrics() -> dict[str, Any]:
    """A table run's metrics with every section the report draws."""
    rate = {"value": 0.1, "error": 0.02}
    attack = {"risk": {"value": 0.1, "ci": [0.0, 0.2]}, "attack_rate": rate, "n_attacks": 300}
    checks = [
        _check(
            "quality",
            {"score": 0.8, "column_shapes": 0.9},
            [{"column": "age", "metric": "KSComplement", "score": 0.9}],
            {
                "limits": {"column_shapes": 0.6},
                "diagnostic": {"validity": 1.0},
                "association": {
                    "columns": ["age", "sex"],
                    "real": [[1, 0.2], [0.2, 1]],
                    "synthetic": [[1, 0.1], [0.1, 1]],
                },
            },
        ),
        _check("utility", {"ratio": 0.9, "target": "income"}, [], {}),
        _check("detection", {"roc_auc": 0.55}, [], {}),
        _check("expectations", {"failed": 0}, [{"expectation": "domain", "column": "sex"}], {}),
        _check(
            "privacy",
            {"dcr_share": 0.5},
            [{"measure": "dcr", "value": 0.5}],
            {
                "dcr": {"edges": [0.0, 0.5, 1.0], "holdout": [0.5, 0.5], "synthetic": [0.4, 0.6]},
                "anonymeter": {"evaluators": {"linkability": attack, "inference": {"sex": attack}}},
                "identifiers": [{"data": "synthetic", "column": "email", "matches": 0}],
                "rare": {"synthetic": 0.01, "holdout": 0.01},
                "filter": {"replaced": 3},
                "seconds": {"encode": 0.1},
            },
        ),
        _check(
            "bias",
            {"groups": 2},
            [{"group": "sex = F", "share": 0.3}],
            {
                "plan": {
                    "rebalance": [{"column": "sex", "category": "F", "asked share": 0.5}],
                    "parity": {"column": "sex", "positive": ">50K", "rates": {"F": 0.2}},
                },
                "vanished_categories": [{"column": "race", "category": "Other"}],
                "downstream": {
                    "target": "income",
                    "positive": ">50K",
                    "columns": [{"column": "sex", "accuracy by group real": {"F": 0.8}}],
                },
            },
        ),
        _check("custom", {"value": 1}, [{"item": "x"}], {}),
    ]
    return {
        "run": {
            "job": "adult",
            "run_id": "20240101T000000Z",
            "rows": 100,
            "engine": "ctgan",
            "train_rows": 80,
            "holdout_rows": 20,
            "versions": {"synth": "1.0"},
            "differential_privacy": {"epsilon_spent": 1.0, "epsilon_budget": 3.0, "delta": 1e-5},
            "value_protection": {
                "enabled": True,
                "min_count": 5,
                "protected_values": 2,
                "clipped_low": 1,
                "clipped_high": 1,
                "rows_changed": 4,
                "columns": {"age": {"rows_changed": 4}},
            },
        },
        "verdict": {"status": "fail", "reasons": ["bias: too far off"], "checks": checks},
        "distributions": [
            {
                "column": "sex",
                "kind": "categorical",
                "labels": ["F", "other", "missing"],
                "real": [0.3, 0.6, 0.1],
                "synthetic": [0.3, 0.6, 0.1],
                "hidden_categories": 2,
            },
            {
                "column": "age",
                "kind": "numeric",
                "labels": ["below", "bin 1", "above", "missing"],
                "axis": ["17", "90"],
                "real": [0.1, 0.8, 0.1, 0.0],
                "synthetic": [0.1, 0.8, 0.1, 0],
            },
        ],
        "contract": [{"column": "age", "type": "numerical", "roles": ["quasi_identifier"]}],
        "contract_notes": ["age: read as numbers"],
        "report": {"min_count": 10},
    }


def image_metrics() -> dict[str, Any]:
    """An image run's metrics with every section its report draws."""
    return {
        "run": {
            "job": "digits",
            "run_id": "20240101T000000Z",
            "rows": 10,
            "engine": "cvae",
            "kind": "images",
        },
        "verdict": {
            "status": "pass",
            "reasons": [],
            "checks": [
                _check(
                    "image_quality",
                    {"coverage": 0.9},
                    [{"class": "3", "accuracy": 0.9}],
                    {
                        "measures": [{"measure": "fid", "value": 3.0}],
                        "per_group_quality": [{"group": "heavy", "accuracy": 0.9}],
                    },
                ),
                _check("training", {"best_epoch": 2}, [], {}),
            ],
        },
        "samples": {"3": [PNG, PNG]},
        "training": {
            "history": [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}],
            "best_epoch": 2,
        },
    }


def poisoned(value: Any) -> Any:
    """Every string with the payload appended, and every dict with one more key holding it (its
    value a poisoned copy of the dict's first value, so the structure still renders)."""
    if isinstance(value, str):
        return value + PAYLOAD
    if isinstance(value, list):
        return [poisoned(v) for v in value]
    if isinstance(value, dict):
        out = {k: poisoned(v) for k, v in value.items()}
        if value:
            out[PAYLOAD] = poisoned(next(iter(value.values())))
        return out
    return value


def numbers(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every number in `value`."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numbers(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numbers(v, (*path, i))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path


class _Markup(HTMLParser):
    """Every tag and attribute the page holds, and where an image points."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.sources += [v or "" for name, v in attrs if name == "src"]


def assert_no_foreign_markup(html: str) -> None:
    markup = _Markup()
    markup.feed(html)
    assert markup.tags <= TAGS, markup.tags - TAGS
    assert markup.attributes <= ATTRIBUTES, markup.attributes - ATTRIBUTES
    assert all(s == PNG for s in markup.sources), markup.sources
    assert "<script" not in html.lower()  # the parser above would see it; belt and braces


@pytest.mark.parametrize("build", [table_metrics, image_metrics])
def test_payloads_in_every_string_and_key_of_metrics_json_render_as_text(
    build, tmp_path: Path
) -> None:
    metrics = poisoned(build())
    metrics["run"]["kind"] = build()["run"].get("kind", "table")  # picks the renderer
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert PAYLOAD.replace("<", "&lt;").replace(">", "&gt;")[:30] in html  # shown, as text
    assert_no_foreign_markup(html)


@pytest.mark.parametrize(
    ("build", "render"), [(table_metrics, report.render), (image_metrics, image_report.render)]
)
def test_a_payload_in_place_of_any_number_is_refused_or_rendered_as_text(build, render) -> None:
    base = build()
    for path in numbers(base):
        metrics = copy.deepcopy(base)
        parent = metrics
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = PAYLOAD
        try:
            html = render(metrics)
        except (KeyError, TypeError, AttributeError):
            continue  # what `synth report` turns into "not a synth metrics file" (exit 2)
        assert_no_foreign_markup(html)


def test_the_cli_refuses_a_metrics_file_with_a_string_for_a_number(tmp_path: Path, capsys) -> None:
    metrics = table_metrics()
    metrics["distributions"][0]["real"][0] = PAYLOAD
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert main(["report", str(tmp_path)]) == 2
    assert "not a synth metrics file" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
