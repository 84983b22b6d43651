"""A self-contained report.html: inline CSS and SVG, no script, font or style from the network.

Rendered from a run's metrics (the dict written as metrics.json), so `synth report RUN_DIR` can
re-render it. Everything shown is an aggregate: scores, counts, shares per bin. That file may have
been edited by anyone who can write the run folder: every value goes through validation.report_html
(escaped as text, or refused unless it is a number where a number is drawn).
"""

from __future__ import annotations

import itertools
from typing import Any

from validation.report_html import escape, head, number, reasons, section
from validation.report_html import table as _table

__all__ = ["render"]

_REAL, _SYNTHETIC = "#3b6fb6", "#e07b39"
_ORDER = ("expectations", "quality", "utility", "detection", "privacy", "bias")
# checks a modality's own section draws (`extra`): not drawn again as a generic section
_OWN_SECTION = ("sequences",)


def render(metrics: dict[str, Any], *, extra: str = "") -> str:
    """Render the report from a run's metrics (the same dict written as metrics.json); `extra`
    is a modality's own section (HTML, escaped by its maker), placed before the contract."""
    verdict = metrics["verdict"]
    run = metrics["run"]
    checks = {c["name"]: c for c in verdict["checks"]}
    parts = [head(run, verdict), _cards(metrics, checks), reasons(verdict)]
    parts.append(_fidelity(metrics, checks.get("quality")))
    parts.append(_check("Utility: train on synthetic, test on real", checks.get("utility")))
    parts.append(
        _check(
            "Detection: can a classifier tell synthetic rows from real ones?",
            checks.get("detection"),
            "ROC AUC 0.5: indistinguishable; 1.0: always told apart.",
        )
    )
    parts.append(_check("Expectations (Great Expectations)", checks.get("expectations")))
    parts.append(_privacy(checks.get("privacy")))
    parts.append(_bias(checks.get("bias")))
    for name, check in checks.items():
        if name not in _ORDER and name not in _OWN_SECTION:
            parts.append(_check(name.capitalize(), check))
        if name == "text":
            parts.append(_text_samples(check))
    parts.append(extra)
    parts.append("<h2>Contract</h2>")
    parts += [f"<p>{escape(note)}</p>" for note in metrics.get("contract_notes", [])]
    parts.append(_table(metrics["contract"]))
    parts.append(_protection(run.get("value_protection")))
    parts.append("<h2>Run</h2>")
    shown = {k: v for k, v in run.items() if k != "value_protection"}
    parts.append(_table([{"field": k, "value": v} for k, v in shown.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _protection(done: dict[str, Any] | None) -> str:
    """What value protection changed in the training rows: counts per column, never values."""
    if not done:
        return ""
    if not done.get("enabled"):
        return "<h2>Value protection</h2><p class=fail>off: rare values may leave</p>"
    line = (
        f"Values held by fewer than {done['min_count']} training rows never leave: "
        f"{done['protected_values']} rare values replaced, {done['clipped_low']} + "
        f"{done['clipped_high']} numbers clipped (low + high), {done['rows_changed']} training "
        "rows changed."
    )
    rows = [{"column": name, **counts} for name, counts in done["columns"].items()]
    return f"<h2>Value protection</h2><p>{escape(line)}</p>" + (_table(rows) if rows else "")


def _cards(metrics: dict[str, Any], checks: dict[str, dict[str, Any]]) -> str:
    run = metrics["run"]
    cards: list[tuple[str, Any, bool | None]] = [
        ("rows written", run["rows"], None),
        ("engine", run["engine"], None),
    ]
    headline = {
        "expectations": ("expectations failed", "failed"),
        "quality": ("quality score", "score"),
        "utility": ("utility TSTR/TRTR", "ratio"),
        "detection": ("detection ROC AUC", "roc_auc"),
        "privacy": ("privacy DCR share", "dcr_share"),
        "bias": ("bias: groups judged", "groups"),
    }
    for name, (label, key) in headline.items():
        check = checks.get(name)
        if check is None:
            cards.append((label, "not run", None))
        else:
            value = check["metrics"].get(key) if key else ("pass" if check["passed"] else "fail")
            cards.append((label, "skipped" if value is None else value, check["passed"]))
    cards.append(("train / holdout rows", f"{run['train_rows']} / {run['holdout_rows']}", None))
    dp = run.get("differential_privacy")
    if dp:
        spent = f"{dp['epsilon_spent']} of {dp['epsilon_budget']} (delta {number(dp['delta']):.2g})"
        cards.append(("DP epsilon spent", spent, None))
    body = "".join(
        f"<div class='card{' fail' if ok is False else ''}'>{escape(label)}<b>{escape(value)}</b></div>"
        for label, value, ok in cards
    )
    return f"<div class=cards>{body}</div>"


def _fidelity(metrics: dict[str, Any], check: dict[str, Any] | None) -> str:
    parts = [section("Fidelity (SDMetrics quality and diagnostic reports)", check)]
    if check is not None:
        m, limits = check["metrics"], check["charts"].get("limits", {})
        rows = [
            {"measure": k.replace("_", " "), "score": m.get(k), "minimum": limits.get(k)}
            for k in ("column_shapes", "pair_trends", "pair_dependence", "diagnostic")
        ]
        parts.append(_table(rows))
        diagnostic = check["charts"].get("diagnostic", {})
        if diagnostic:
            parts.append(
                _table([{"diagnostic property": k, "score": v} for k, v in diagnostic.items()])
            )
        parts.append(_heatmap(check["charts"].get("association")))
    shapes = {d["column"]: d["score"] for d in (check or {}).get("details", [])}
    charts = metrics.get("distributions", [])
    if charts:
        k = escape(metrics.get("report", {}).get("min_count", 10))
        parts.append(
            "<h2>Distributions: real vs synthetic</h2><p>"
            f"<span class=key style='background:{_REAL}'></span>real (training rows)"
            f"<span class=key style='background:{_SYNTHETIC}'></span>synthetic. Shares of rows; "
            f"categories seen fewer than {k} times in the real data are folded into 'other', and "
            "numeric axes stop where fewer than that many real rows lie beyond.</p><div class=charts>"
        )
        parts += [_bars(chart, shapes.get(chart["column"])) for chart in charts]
        parts.append("</div>")
    return "\n".join(parts)


def _bars(chart: dict[str, Any], shape: float | None) -> str:
    labels = chart["labels"]
    real, synthetic = [number(v) for v in chart["real"]], [number(v) for v in chart["synthetic"]]
    caption = escape(chart["column"]) + (
        f" <span class=muted>shape score {escape(shape)}</span>" if shape is not None else ""
    )
    if not labels:
        return f"<figure><figcaption>{caption}</figcaption><p class=muted>too few rows to chart</p></figure>"
    width, height, top = 340, 110, max(max(real), max(synthetic), 1e-9)
    step = width / len(labels)
    bars = []
    for i, label in enumerate(labels):
        for j, (share, colour) in enumerate(((real[i], _REAL), (synthetic[i], _SYNTHETIC))):
            h = height * share / top
            x = i * step + j * step / 2 + 0.5
            bars.append(
                f"<rect x='{x:.1f}' y='{height - h:.1f}' width='{max(step / 2 - 1, 0.5):.1f}' "
                f"height='{h:.1f}' fill='{colour}'><title>{escape(label)}: "
                f"{'real' if j == 0 else 'synthetic'} {share:.2%}</title></rect>"
            )
    if chart["kind"] == "numeric":
        low, high = chart.get("axis", ["", ""])
        axis = (
            f"<text x='{step:.1f}' y='{height + 14}' font-size='10'>{escape(low)}</text>"
            f"<text x='{width - step:.1f}' y='{height + 14}' font-size='10' text-anchor='end'>{escape(high)}</text>"
        )
    else:
        axis = "".join(
            f"<text x='{i * step + step / 2:.1f}' y='{height + 4}' font-size='9' "
            f"transform='rotate(40 {i * step + step / 2:.1f} {height + 4})'>{escape(str(label)[:14])}</text>"
            for i, label in enumerate(labels)
        )
    extra = 16 if chart["kind"] == "numeric" else 64
    svg = (
        f"<svg role=img viewBox='0 0 {width} {height + extra}' width='100%' "
        f"xmlns='http://www.w3.org/2000/svg'><line x1='0' y1='{height}' x2='{width}' y2='{height}' "
        f"stroke='#98a2b3'/>{''.join(bars)}{axis}</svg>"
    )
    hidden = chart.get("hidden_categories")
    note = f"<p class=muted>{escape(hidden)} rare categories not named</p>" if hidden else ""
    return f"<figure><figcaption>{caption}</figcaption>{svg}{note}</figure>"


def _heatmap(association: dict[str, Any] | None) -> str:
    if not association or not association.get("columns"):
        return ""
    names, real, synthetic = association["columns"], association["real"], association["synthetic"]
    head = "".join(f"<th title='{escape(n)}'>{escape(n[:3])}</th>" for n in names)
    rows = []
    for i, name in enumerate(names):
        cells = []
        for j in range(len(names)):
            diff = abs(number(real[i][j]) - number(synthetic[i][j]))
            shade = int(255 - min(diff, 0.5) / 0.5 * 200)
            cells.append(
                f"<td style='background:rgb(255,{shade},{shade})' title='{escape(name)} x "
                f"{escape(names[j])}: real {number(real[i][j]):.2f}, synthetic "
                f"{number(synthetic[i][j]):.2f}'>"
                f"{diff:.2f}</td>"
            )
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return (
        "<h3>Association difference</h3><p>|Cramer's V real - synthetic| for each pair of "
        "modelled columns (numbers binned at real deciles); white is equal, red is a difference of "
        "0.5 or more.</p>"
        f"<table class=heat><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _privacy(check: dict[str, Any] | None) -> str:
    """Each measure against its honest baseline (holdout rows the engine never saw)."""
    parts = [section("Privacy: does the synthetic data reveal the training rows?", check)]
    if check is None:
        return parts[0]
    charts = check["charts"]
    parts.append(
        "<p>Each measure is compared with what real rows the engine never saw (the holdout) score: "
        "an honest generator looks like the holdout.</p>"
    )
    parts.append(_table(list(check["details"])))
    dcr = charts.get("dcr")
    if dcr and dcr["edges"]:
        edges = [number(e) for e in dcr["edges"]]
        chart = {
            "column": "distance to the closest training row",
            "kind": "numeric",
            "labels": [f"{a:.3f}-{b:.3f}" for a, b in itertools.pairwise(edges)],
            "real": dcr["holdout"],
            "synthetic": dcr["synthetic"],
            "axis": [f"{edges[0]:.2f}", f"{edges[-1]:.2f}"],
        }
        parts.append(
            f"<div class=charts>{_bars(chart, None)}</div><p class=muted>"
            f"<span class=key style='background:{_REAL}'></span>holdout rows"
            f"<span class=key style='background:{_SYNTHETIC}'></span>synthetic rows. A spike at 0 "
            "on the synthetic side is copied rows.</p>"
        )
    anonymeter = charts.get("anonymeter")
    if anonymeter:
        parts.append("<h3>anonymeter attacks</h3>")
        parts.append(_table(_anonymeter_rows(anonymeter)))
    identifiers = charts.get("identifiers")
    if identifiers is not None:
        parts.append("<h3>Undeclared identifiers in modelled text columns</h3>")
        parts.append(_table(identifiers) if identifiers else "<p>none found</p>")
    rare = charts.get("rare")
    if rare:
        parts.append("<h3>Rare quasi-identifier combinations</h3>")
        parts.append(_table([rare]))
    if charts.get("filter"):
        parts.append("<h3>Privacy filter</h3>")
        parts.append(_table([charts["filter"]]))
    if charts.get("seconds"):
        parts.append(
            "<p class=muted>seconds: "
            + escape(", ".join(f"{k} {v}" for k, v in charts["seconds"].items()))
            + "</p>"
        )
    return "\n".join(parts)


def _bias(check: dict[str, Any] | None) -> str:
    """Groups of the sensitive columns, what the plan asked for, and fairness downstream."""
    parts = [section("Bias: what happened to each group?", check)]
    if check is None:
        return parts[0]
    charts = check["charts"]
    parts.append(_table([check["metrics"]]))
    plan = charts.get("plan")
    if plan:
        parts.append("<h3>Fairer generation: asked for and reached</h3>")
        if plan.get("rebalance"):
            parts.append(_table(plan["rebalance"]))
        if plan.get("parity"):
            parity = dict(plan["parity"])
            rates = parity.pop("rates")
            parts.append(_table([{**parity, **{f"rate: {k}": v for k, v in rates.items()}}]))
    parts.append(
        "<h3>Groups</h3><p>Each sensitive column and their crossings with enough real rows. "
        "Expected: the real training rows, weighted by what the sample plan asks for.</p>"
    )
    parts.append(_table(list(check["details"])))
    if charts.get("vanished_categories"):
        parts.append("<h3>Vanished categories</h3>")
        parts.append(_table(charts["vanished_categories"]))
    downstream = charts.get("downstream") or {}
    if downstream.get("columns"):
        parts.append(
            f"<h3>Fairness downstream (fairlearn)</h3><p>A model predicting "
            f"{escape(str(downstream['target']))} = {escape(str(downstream['positive']))}, trained "
            "on real rows and on synthetic rows, both scored on the holdout.</p>"
        )
        rows = []
        for row in downstream["columns"]:
            flat = {k: v for k, v in row.items() if not k.startswith("accuracy")}
            for name in ("real", "synthetic"):
                for group, accuracy in row.get(f"accuracy by group {name}", {}).items():
                    flat[f"accuracy {group} ({name})"] = accuracy
            rows.append(flat)
        parts += [_table([r]) for r in rows]
    return "\n".join(parts)


def _anonymeter_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    evaluators = result.get("evaluators", {})
    found = [
        (f"singling out ({mode})", evaluators.get(f"singling_out_{mode}"))
        for mode in ("univariate", "multivariate")
    ]
    found.append(("linkability", evaluators.get("linkability")))
    found += [(f"inference: {c}", r) for c, r in evaluators.get("inference", {}).items()]
    rows = []
    for name, r in found:
        if not r:
            continue
        risk = r.get("risk") or {}
        rows.append(
            {
                "attack": name,
                "risk": risk.get("value"),
                "95% CI": risk.get("ci"),
                "attack rate": _rate(r.get("attack_rate")),
                "baseline rate": _rate(r.get("baseline_rate")),
                "control rate": _rate(r.get("control_rate")),
                "attacks": r.get("n_attacks"),
                "seconds": r.get("wall_s"),
                "note": r.get("reason") or r.get("error") or ", ".join(r.get("flags", [])) or None,
            }
        )
    return rows


def _rate(rate: Any) -> Any:
    if isinstance(rate, dict):
        return f"{number(rate.get('value', 0)):.3f} ± {number(rate.get('error', 0)):.3f}"
    return rate


def _text_samples(check: dict[str, Any]) -> str:
    """A few written texts per column: synthetic only, none with a rare token or a real span."""
    samples = check.get("charts", {}).get("samples", {})
    parts = []
    for column, texts in samples.items():
        if texts:
            parts.append(f"<h3>{escape(column)}: generated samples</h3>")
            parts.append("<ul>" + "".join(f"<li>{escape(t)}</li>" for t in texts) + "</ul>")
    return "\n".join(parts)


def _check(title: str, check: dict[str, Any] | None, note: str = "") -> str:
    """A check's section: its verdict and reasons, its metrics, then its per-item details."""
    parts = [section(title, check)]
    if check is not None:
        parts.append(_table([check["metrics"]]))
        if check["details"]:
            parts.append(_table(list(check["details"])))
        if note:
            parts.append(f"<p class=muted>{escape(note)}</p>")
    return "\n".join(parts)
