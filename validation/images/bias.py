"""Image bias: per-class counts against the asked or real shares and the spread of per-class
accuracy; per group of the sensitive per-image columns, counts, and whether the generator served a
group worse than the others (accuracy against the holdout's rate on that group)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from schemas.image_spec import ImageBiasChecks
from synth.image.cells import MISSING
from validation import noise
from validation.images.sides import ImageContract, ImageSide
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "image_bias"


def check(
    real: ImageSide,
    synthetic: ImageSide,
    holdout: ImageSide,
    *,
    contract: ImageContract,
    thresholds: ImageBiasChecks,
    quality: CheckResult | None = None,
    asked: Mapping[int, float] | None = None,
) -> CheckResult:
    """Per class: the synthetic share against the asked shares (`asked`, by class index; default:
    the real training shares) and the spread of per-class accuracy (the image quality check's
    `per_class_accuracy` chart); per group of a sensitive column with at least `min_count`
    training images: the share against the real share, and (from the quality check's `per_group`
    rows) whether the generator served it worse than the others: its accuracy shortfall against
    the holdout's on the group, beyond the best-served group's. The holdout is read only through
    the quality result."""
    cfg, classes, k = thresholds, list(contract.classes), len(contract.classes)
    charts_in = quality.charts if quality is not None else {}
    per_class_quality = charts_in.get("per_class_accuracy", {})
    per_group: Sequence[Mapping[str, Any]] = charts_in.get("per_group", [])
    real_counts = np.bincount(real.labels.cpu().numpy(), minlength=k)[:k].astype(float)
    synth = np.bincount(synthetic.labels.cpu().numpy(), minlength=k)[:k]
    want = np.array([asked.get(c, 0.0) for c in range(k)]) if asked else real_counts
    expected = want / max(want.sum(), 1e-12)
    reasons: list[str] = []
    rows = _shares(classes, real_counts, synth, expected, cfg, reasons, "class")
    accuracy = [_lookup(per_class_quality, c, name) for c, name in enumerate(classes)]
    for row, q in zip(rows, accuracy, strict=True):
        row["accuracy"] = None if q is None else round(q, 4)
    ratios = [r["share ratio"] for r in rows if r["share ratio"] is not None]
    metrics: dict[str, Any] = {
        "classes": k,
        "classes_missing": int(((synth == 0) & (expected > 0)).sum()),
        "lowest_class_ratio": min(ratios, default=None),
        "images": int(synth.sum()),
    }
    judged = {c: q for c, q in enumerate(accuracy) if q is not None and synth[c]}
    if len(judged) > 1:
        best, worst = max(judged, key=judged.__getitem__), min(judged, key=judged.__getitem__)
        spread = judged[best] - judged[worst]
        metrics["accuracy_spread"] = round(spread, 4)
        se = noise.se_shares(judged[best], synth[best], judged[worst], synth[worst])
        if noise.beyond_above(spread, cfg.max_accuracy_spread, se, cfg.significance):
            reasons.append(
                f"per-class accuracy spreads {spread:.3f} from {classes[best]!r} "
                f"({judged[best]:.3f}) to {classes[worst]!r} ({judged[worst]:.3f}) "
                f"(> max_accuracy_spread {cfg.max_accuracy_spread})"
            )
    extra_real, extra_synth = real.groups, synthetic.groups
    if extra_real is not None and extra_synth is not None:
        for column in (c for c in contract.sensitive if c in extra_real and c in extra_synth):
            r, s = (
                f[column].astype("string").fillna(MISSING).value_counts()
                for f in (extra_real, extra_synth)
            )
            kept = [g for g in r.index if r[g] >= cfg.min_count]
            counts = r[kept].to_numpy(float)
            names = [f"{column} = {g}" for g in kept]
            found = s.reindex(kept, fill_value=0).to_numpy()
            rows += _shares(names, counts, found, counts / r.sum(), cfg, reasons, "group")
    gaps = _group_gaps(per_group, cfg, reasons)
    if gaps:
        metrics["largest_group_quality_gap"] = max(gaps.values())
    charts = {"per_group_quality": list(per_group)} if per_group else {}
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(rows), charts)


def _group_gaps(
    per_group: Sequence[Mapping[str, Any]], cfg: ImageBiasChecks, reasons: list[str]
) -> dict[str, float]:
    """Per sensitive column: each group's shortfall (holdout accuracy minus synthetic accuracy)
    beyond the smallest shortfall among that column's groups; a group fails past
    `max_group_quality_gap` beyond noise. Real groups that differ in difficulty do not count: each
    group is measured against the holdout's accuracy on that same group."""
    largest: dict[str, float] = {}
    judged = [r for r in per_group if r.get("accuracy") is not None and r.get("holdout accuracy")]
    for column in dict.fromkeys(r["column"] for r in judged):
        mine = [r for r in judged if r["column"] == column]
        if len(mine) < 2:
            continue
        short = {r["group"]: r["holdout accuracy"] - r["accuracy"] for r in mine}
        best = min(mine, key=lambda r: short[r["group"]])
        for r in mine:
            gap = short[r["group"]] - short[best["group"]]
            largest[column] = max(largest.get(column, 0.0), round(gap, 4))
            se = noise.se_shares(
                r["accuracy"], r["synthetic images"], best["accuracy"], best["synthetic images"]
            )
            limit = cfg.max_group_quality_gap
            if r is not best and noise.beyond_above(gap, limit, se, cfg.significance):
                reasons.append(
                    f"group {column} = {r['group']!r}: synthetic images recognised {gap:.3f} less "
                    f"often (against the holdout's rate on the group) than for {best['group']!r} "
                    f"(> max_group_quality_gap {cfg.max_group_quality_gap})"
                )
    return largest


def _lookup(values: Mapping[int | str, float | None], index: int, name: str) -> float | None:
    value = values.get(index, values.get(name))
    return None if value is None or np.isnan(value) else float(value)


def _shares(
    names: list[str],
    real: np.ndarray,
    synth: np.ndarray,
    expected: np.ndarray,
    cfg: ImageBiasChecks,
    reasons: list[str],
    kind: str,
) -> list[dict[str, Any]]:
    """One row per class or group; vanished, shrunk (ratio) and off (share diff, groups) fail."""
    n = int(synth.sum())
    rows = []
    for name, r, s, e in zip(names, real, synth, expected, strict=True):
        share = s / n if n else 0.0
        se = noise.se_share(e, n)
        rows.append(
            {
                kind: name,
                "real images": int(r),
                "synthetic images": int(s),
                "expected share": round(float(e), 4),
                "share": round(float(share), 4),
                "share ratio": round(float(share / e), 3) if e > 0 else None,
            }
        )
        if e > 0 and s == 0:
            reasons.append(f"{kind} {name!r} has no synthetic images ({e:.1%} expected)")
        elif (
            e > 0
            and share / e < cfg.min_class_ratio
            and noise.beyond_above(e - share, 0.0, se, cfg.significance)
        ):
            reasons.append(
                f"{kind} {name!r} shrank to {share / e:.2f} of its expected share {e:.1%} "
                f"(min_class_ratio {cfg.min_class_ratio})"
            )
        elif kind == "group" and noise.beyond_above(
            abs(share - e), cfg.max_share_diff, se, cfg.significance
        ):
            reasons.append(
                f"{kind} {name!r}: {share:.1%} of synthetic images against {e:.1%} expected "
                f"(more than {cfg.max_share_diff:.0%} off)"
            )
    return rows
