"""The report's linked-tables section: the tables and how they hang together, subjects per side,
each sequence measure against its limit and what unseen subjects score, privacy by subject, and
the links' integrity. Aggregates only (counts, scores, shares), read from a run's metrics.

Rendered from metrics.json, which anyone who can write the run folder can edit: every value goes
through validation.report_html (escaped as text wherever it lands), and a malformed entry is
skipped, never trusted.
"""

from __future__ import annotations

from typing import Any

from validation.report_html import escape, section
from validation.report_html import table as _table

__all__ = ["linked_section"]

_TABLE_FIELDS = (
    "table",
    "parent",
    "key",
    "foreign_key",
    "order_by",
    "columns",
    "train_rows",
    "holdout_rows",
    "synthetic_rows",
    "orphans_dropped",
)
_SEQUENCE_FIELDS = ("table", "measure", "value", "limit", "holdout", "noise bound", "passed")
_PRIVACY_FIELDS = (
    ("subjects", "subjects sampled per real side"),
    ("synthetic_subjects", "synthetic subjects sampled"),
    ("dcr_share", "DCR share by subject (0.5 ideal)"),
    ("exact_copies", "synthetic histories equal to a training subject's"),
    ("exact_copies_holdout", "... equal to a holdout subject's"),
    ("copied_subjects", "copied subjects (2+ events)"),
    ("copied_subjects_expected", "... expected by chance"),
    ("attack_auc", "membership attack ROC AUC (0.5 ideal)"),
    ("attack_tpr_at_1pct_fpr", "membership attack TPR at 1% FPR"),
)


def linked_section(metrics: dict[str, Any]) -> str:
    """HTML for the linked-tables section of report.html, from a run's metrics."""
    checks = _checks(metrics)
    parts = ["<h2>Linked tables</h2>"]
    parts.append(_tables(metrics))
    parts.append(_subjects(metrics))
    parts.append(_sequences(checks.get("sequences")))
    parts.append(_privacy(checks.get("privacy")))
    parts.append(_integrity(checks.get("expectations")))
    parts.append(_quality(checks.get("quality")))
    return "\n".join(p for p in parts if p)


def _checks(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    verdict = metrics.get("verdict")
    found = verdict.get("checks", []) if isinstance(verdict, dict) else []
    return {
        str(c.get("name")): c
        for c in found
        if isinstance(c, dict) and isinstance(c.get("metrics", {}), dict)
    }


def _rows(items: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Dict rows with exactly `fields` (missing ones empty); anything but a dict skipped."""
    if not isinstance(items, list | tuple):
        return []
    return [{f: item.get(f) for f in fields} for item in items if isinstance(item, dict)]


def _tables(metrics: dict[str, Any]) -> str:
    linked = metrics.get("linked")
    rows = _rows(linked.get("tables") if isinstance(linked, dict) else None, _TABLE_FIELDS)
    if not rows:
        return ""
    note = (
        "<p>Each table's rows hang under one parent row; the root's rows are the subjects. "
        "Keys are generated, never copied; every synthetic child names a synthetic parent.</p>"
    )
    return "<h3>Tables</h3>" + note + _table(rows)


def _subjects(metrics: dict[str, Any]) -> str:
    run = metrics.get("run")
    subjects = run.get("subjects") if isinstance(run, dict) else None
    if not isinstance(subjects, dict):
        return ""
    row = {side: subjects.get(side) for side in ("train", "holdout", "synthetic")}
    return (
        "<h3>Subjects</h3><p>Split by subject: a holdout subject's rows, in every table, were "
        "never seen in training.</p>" + _table([row])
    )


def _sequences(check: dict[str, Any] | None) -> str:
    parts = [
        section("Sequences: lengths, gaps, consistency, transitions, child-parent pairs", check)
    ]
    if check is None:
        return parts[0]
    parts.append(
        "<p>Per child table, against unseen real subjects (the holdout): a measure past its "
        "limit fails only when it is also past what re-splits of the real subjects score, "
        "beyond sampling noise.</p>"
    )
    rows = _rows(check.get("details"), _SEQUENCE_FIELDS)
    parts.append(_table(rows) if rows else "<p class=muted>no child table to measure</p>")
    return "\n".join(parts)


def _privacy(check: dict[str, Any] | None) -> str:
    if check is None:
        return ""
    metrics = check.get("metrics", {})
    rows = [
        {"measure": label, "value": metrics.get(key)}
        for key, label in _PRIVACY_FIELDS
        if key in metrics
    ]
    state = "pass" if check.get("passed") is True else "fail"
    head = f"<h3>Privacy by subject <span class={state}>{state}</span></h3>"
    note = (
        "<p>Each subject's whole history (its row and every row under it) is compared with "
        "training and holdout subjects'; an honest generator looks like the holdout.</p>"
    )
    return head + note + (_table(rows) if rows else "<p>none</p>")


def _integrity(check: dict[str, Any] | None) -> str:
    if check is None:
        return ""
    details = check.get("details")
    rows = [
        {k: d.get(k) for k in ("table", "expectation", "column", "unexpected_count", "passed")}
        for d in (details if isinstance(details, list | tuple) else [])
        if isinstance(d, dict) and str(d.get("expectation", "")).startswith(("foreign", "primary"))
    ]
    broken = check.get("metrics", {}).get("broken_links")
    line = f"<p>Rows whose foreign key names no parent row: {escape(broken)}.</p>"
    return "<h3>Referential integrity</h3>" + line + (_table(rows) if rows else "")


def _quality(check: dict[str, Any] | None) -> str:
    if check is None:
        return ""
    tables = check.get("charts", {}).get("tables")
    if not isinstance(tables, dict):
        return ""
    rows = [
        {"table": name, **{k: values.get(k) for k in ("score", "column_shapes", "pair_trends")}}
        for name, values in tables.items()
        if isinstance(values, dict)
    ]
    return "<h3>Quality per table</h3>" + _table(rows)
