"""report.html for an image run: verdict, a grid of synthetic samples per class, the training curves,
and every check. Self-contained like the table report (inline CSS, SVG and PNG data URIs, no script).

Only synthetic images are ever embedded; real images never leave the run.
"""

from __future__ import annotations

import re
from typing import Any

from validation.report_html import escape, head, number, reasons, section
from validation.report_html import table as _table

__all__ = ["render"]

_COLOURS = ("#3b6fb6", "#e07b39", "#2a9d8f", "#9b5de5", "#d62828", "#6a994e")
# a sample image as the flow writes it: base64 characters only, so it cannot leave its attribute
_PNG_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]*={0,2}")


def render(metrics: dict[str, Any]) -> str:
    verdict, run = metrics["verdict"], metrics["run"]
    checks = {c["name"]: c for c in verdict["checks"]}
    style = (
        ".grid img{image-rendering:pixelated;margin:1px;border:1px solid #eef1f5}"
        ".grid th{text-align:right;padding-right:.6rem}"
    )
    parts = [
        head(run, verdict, title=" (images)", style=style),
        _cards(run, checks),
        reasons(verdict),
    ]
    parts.append(_grid(metrics.get("samples", {})))
    parts.append(_curves(metrics.get("training", {})))
    titles = {
        "image_quality": "Quality: recognisable, faithful and diverse?",
        "image_privacy": "Privacy: are training images memorised?",
        "image_bias": "Bias: every class and group served?",
        "training": "Training monitor: collapse and divergence",
        "privacy_filter": "Privacy filter: images too close to a training image, replaced",
    }
    for name, title in titles.items():
        parts.append(_check(title, checks.get(name)))
    parts.append("<h2>Run</h2>")
    parts.append(_table([{"field": k, "value": v} for k, v in run.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _cards(run: dict[str, Any], checks: dict[str, dict[str, Any]]) -> str:
    cards: list[tuple[str, Any, bool | None]] = [
        ("images written", run["rows"], None),
        ("engine", run["engine"], None),
    ]
    for name, label, key in (
        ("image_quality", "conditional accuracy", "conditional_accuracy"),
        ("image_quality", "coverage", "coverage"),
        ("image_privacy", "memorised share", "memorised_share"),
        ("image_bias", "classes", "classes"),
        ("training", "best epoch", "best_epoch"),
    ):
        check = checks.get(name)
        value = "not run" if check is None else check["metrics"].get(key, "-")
        cards.append((label, value, None if check is None else check["passed"]))
    body = "".join(
        f"<div class='card{' fail' if ok is False else ''}'>{escape(label)}<b>{escape(v)}</b></div>"
        for label, v, ok in cards
    )
    return f"<div class=cards>{body}</div>"


def _grid(samples: dict[str, list[str]]) -> str:
    if not samples:
        return ""
    rows = []
    for name, images in samples.items():
        cells = "".join(
            f"<img alt='synthetic {escape(name)}' width=48 height=48 src='{uri}'>"
            for uri in images
            if isinstance(uri, str) and _PNG_URI.fullmatch(uri)
        )
        rows.append(f"<tr><th>{escape(name)}</th><td>{cells}</td></tr>")
    return "<h2>Synthetic samples per class</h2><table class=grid>" + "".join(rows) + "</table>"


def _curves(training: dict[str, Any]) -> str:
    history = training.get("history") or []
    if not history:
        return ""
    keys = [
        k
        for k, v in history[0].items()
        if k not in ("epoch",) and isinstance(v, int | float) and not isinstance(v, bool)
    ]
    figures = [_line(k, [row.get(k) for row in history], training.get("best_epoch")) for k in keys]
    return (
        "<h2>Training curves</h2><div class=charts>" + "".join(f for f in figures if f) + "</div>"
    )


def _line(name: str, values: list[Any], best: int | None) -> str:
    points = [(i, float(v)) for i, v in enumerate(values) if isinstance(v, int | float)]
    if len(points) < 2:
        return ""
    width, height = 320, 110
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    span = high - low or 1.0
    step = width / (len(values) - 1)
    path = " ".join(f"{i * step:.1f},{height - (v - low) / span * height:.1f}" for i, v in points)
    marker = ""
    if best is not None and 1 <= number(best) <= len(values):
        x = (number(best) - 1) * step
        marker = f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{height}' stroke='#98a2b3' stroke-dasharray='3'/>"
    svg = (
        f"<svg role=img viewBox='0 -4 {width} {height + 20}' width='100%' "
        f"xmlns='http://www.w3.org/2000/svg'>{marker}<polyline fill='none' stroke='{_COLOURS[0]}' "
        f"stroke-width='2' points='{path}'/><text x='0' y='{height + 14}' font-size='10'>"
        f"{low:.3g} .. {high:.3g}</text></svg>"
    )
    return f"<figure><figcaption>{escape(name)}</figcaption>{svg}</figure>"


def _check(title: str, check: dict[str, Any] | None) -> str:
    parts = [section(title, check)]
    if check is not None:
        flat = {k: v for k, v in check["metrics"].items() if not isinstance(v, dict | list)}
        parts.append(_table([flat]))
        if check["details"]:
            parts.append(_table(list(check["details"])))
        charts = check.get("charts") or {}
        if charts.get("measures"):
            parts.append("<h3>Measures against their limits</h3>" + _table(charts["measures"]))
        if charts.get("per_group_quality"):
            parts.append(
                "<h3>Quality per sensitive group</h3>" + _table(charts["per_group_quality"])
            )
    return "\n".join(parts)
