"""A self-contained report.html (no scripts, fonts or styles from the network), aggregates only."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2430}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde2ea;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #eef1f5;text-align:left}
th{background:#f6f8fa}.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}
.verdict{display:inline-block;padding:.4rem 1rem;border-radius:.4rem;font-size:1.2rem}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #dde2ea;border-radius:.4rem;padding:.6rem 1rem;min-width:10rem}
.card b{display:block;font-size:1.2rem}code{background:#f6f8fa;padding:0 .2rem}
"""


def render(metrics: dict[str, Any]) -> str:
    """Render the report from a run's metrics (the same dict written as metrics.json)."""
    verdict = metrics["verdict"]
    status = verdict["status"]
    run = metrics["run"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>synth report: {escape(run['job'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>synth report: {escape(run['job'])}</h1>",
        f"<p><span class='verdict {status}'>{'PUBLISHED' if status == 'pass' else 'QUARANTINED'}: "
        f"gate {status}</span></p>",
        _cards(metrics),
    ]
    if verdict["reasons"]:
        parts.append("<h2>Why the gate failed</h2><ul>")
        parts += [f"<li>{escape(r)}</li>" for r in verdict["reasons"]]
        parts.append("</ul>")
    for check in verdict["checks"]:
        parts.append(
            f"<h2>Check: {escape(check['name'])} "
            f"<span class='{'pass' if check['passed'] else 'fail'}'>"
            f"{'pass' if check['passed'] else 'fail'}</span></h2>"
        )
        parts.append(_table(check["details"]) if check["details"] else _table([check["metrics"]]))
    parts.append("<h2>Contract</h2>")
    parts += [f"<p>{escape(note)}</p>" for note in metrics.get("contract_notes", [])]
    parts.append(_table(metrics["contract"]))
    parts.append("<h2>Run</h2>")
    parts.append(_table([{"field": k, "value": v} for k, v in run.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _cards(metrics: dict[str, Any]) -> str:
    run = metrics["run"]
    cards = {
        "rows written": run["rows"],
        "engine": run["engine"],
        "train / holdout rows": f"{run['train_rows']} / {run['holdout_rows']}",
        "fit seconds": run["fit_seconds"],
        "checks passed": f"{sum(c['passed'] for c in metrics['verdict']['checks'])} / "
        f"{len(metrics['verdict']['checks'])}",
    }
    body = "".join(
        f"<div class=card>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards.items()
    )
    return f"<div class=cards>{body}</div>"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row.values()) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if value is True:
        return "<span class=pass>yes</span>"
    if value is False:
        return "<span class=fail>no</span>"
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    return escape(str(value))
