"""HTML pieces the reports share, for values read back from a metrics.json nobody vouches for.

`synth report RUN_DIR` re-renders a report from the metrics.json in a run folder, which anyone who
can write that folder can edit. So every value is treated as hostile: text is escaped wherever it
lands (element text and quoted attributes alike), and a value drawn as a number must be a number,
never a string that would reach an f-string format or an SVG attribute unescaped.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["cell", "escape", "head", "number", "reasons", "section", "status", "table"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #eef1f5;text-align:left}
th{background:#f6f8fa}.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}.muted{color:#667085}
.verdict{display:inline-block;padding:.4rem 1rem;border-radius:.4rem;font-size:1.2rem}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #dde2ea;border-radius:.4rem;padding:.6rem 1rem;min-width:9rem}.card.fail{border-color:#b42318}
.card b{display:block;font-size:1.2rem}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(21rem,1fr));gap:1rem}
figure{margin:0;border:1px solid #eef1f5;border-radius:.4rem;padding:.5rem}figcaption{font-weight:600}
.heat td{width:1.6rem;height:1.6rem;padding:0;text-align:center;font-size:10px}.heat th{font-weight:400;font-size:11px}
.key{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 .8rem;vertical-align:middle}
"""


def escape(value: Any) -> str:
    """Any value as escaped HTML text on one line (quotes too: safe inside a quoted attribute).
    Line breaks of every kind (\\n, \\r, U+2028, ...) become spaces: a value read from a file
    (a contract note naming a column) never puts a line of its own into the report."""
    return html.escape(" ".join(str(value).split()), quote=True)


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


def head(run: dict[str, Any], verdict: dict[str, Any], *, title: str = "", style: str = "") -> str:
    """The document head and the verdict banner, shared by the table and the image report."""
    state, job = status(verdict["status"]), escape(run["job"])
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>synth report: {job}</title><style>{_STYLE}{style}</style></head><body>"
        f"<h1>synth report: {job}{escape(title)}</h1>"
        f"<p><span class='verdict {state}'>{'PUBLISHED' if state == 'pass' else 'QUARANTINED'}: "
        f"gate {state}</span> <span class=muted>run {escape(run['run_id'])}</span></p>"
    )


def reasons(verdict: dict[str, Any]) -> str:
    """Why the gate failed, one item per reason (nothing when it passed)."""
    if not verdict["reasons"]:
        return ""
    items = "".join(f"<li>{escape(r)}</li>" for r in verdict["reasons"])
    return f"<h2>Why the gate failed</h2><ul>{items}</ul>"


def section(title: str, check: dict[str, Any] | None) -> str:
    """A check's heading with its pass or fail, and its reasons (or 'not run')."""
    if check is None:
        return f"<h2>{escape(title)} <span class=muted>not run</span></h2>"
    state = "pass" if check["passed"] else "fail"
    title_row = f"<h2>{escape(title)} <span class={state}>{state}</span></h2>"
    why = "".join(f"<p class=fail>{escape(r)}</p>" for r in check["reasons"])
    return title_row + why
