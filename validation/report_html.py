"""HTML pieces the reports share, for values read back from a metrics.json nobody vouches for.

`synth report RUN_DIR` re-renders a report from the metrics.json in a run folder, which anyone who
can write that folder can edit. So every value is treated as hostile: text is escaped wherever it
lands (element text and quoted attributes alike), and a value drawn as a number must be a number,
never a string that would reach an f-string format or an SVG attribute unescaped.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["cell", "escape", "number", "status", "table"]


def escape(value: Any) -> str:
    """Any value as escaped HTML text (quotes too: safe inside a quoted attribute)."""
    return html.escape(str(value), quote=True)


def number(value: Any) -> float:
    """A number from the metrics; anything else is refused (TypeError, a bad metrics file)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def status(value: Any) -> str:
    """'pass' or 'fail', the only two words a verdict's status may put into a class attribute."""
    return "pass" if value == "pass" else "fail"


def table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a table: the first row's keys head it, every key and value escaped."""
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row.values()) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if value is True:
        return "<span class=pass>yes</span>"
    if value is False:
        return "<span class=fail>no</span>"
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    return escape(value)
