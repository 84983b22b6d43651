"""Fidelity: SDMetrics' QualityReport and DiagnosticReport, and how much pairwise dependence survives.

SDMetrics' Column Pair Trends scores only some pairs and barely moves when an engine drops all
dependence (on Adult an independent-columns baseline scores 0.74 against GaussianCopula's 0.75), so
the check also measures association directly: Cramer's V of every pair of modelled columns (numbers
binned at the real deciles), real against synthetic. The heatmap in the report is built from it.
A wide categorical column (more than `_LEVELS` categories) keeps its most frequent real categories
and folds the rest into one, for SDMetrics' reports and for the association, as numbers are binned:
a ZIP code's tens of thousands of values, a few rows each, differ between two honest samples by
noise alone, would make any pair look associated by chance, and need a table per pair as large as
the product of two cardinalities. Cramer's V itself is summed over observed cells only.

Judged against the noise floor of real data itself. Two honest samples of a few hundred rows
score below 1 by noise alone (a KS distance between samples of n and m rows is about
sqrt((n + m) / (n m))), so a score below its minimum fails only when it is also below what unseen
real rows score: the training and holdout rows are pooled and re-split ten times into a side as
large as the training rows and a side as large as the holdout (or the synthetic sample, if
smaller), and each split is scored exactly as the synthetic rows are. The floor is the one-sided
prediction bound at `significance` for one more such score (mean - t * sd * sqrt(1 + 1/10)). The
unseen side is the holdout's size, smaller than the synthetic sample, so the floor is
conservative: it errs towards passing. It costs ten more reports, and only when a score is below
its minimum and there is a holdout; the re-splits read at most 6,000 rows. On Adult every score is
above its minimum and nothing changes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import QualityChecks
from validation import noise
from validation.frames import TABLE, codes, decile_edges, features, metadata, modelled
from validation.result import CheckResult

__all__ = ["association", "check"]

NAME = "quality"
_STRONG = 0.1  # pairs whose real association is weaker than this are not counted as dependence
_LEVELS = 64  # categories kept per column (Adult's widest has 42)
_RESPLITS = 10  # re-splits of the real rows behind a noise floor
_REFERENCE_ROWS = 6000  # rows (both sides) a re-split scores at most
_MIN_REFERENCE = 10  # holdout rows a noise floor needs
_OTHER = "\x1f<other>"  # the folded categories, as SDMetrics sees them (never reported)


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    contract: Contract,
    thresholds: QualityChecks,
    seed: int = 0,
) -> CheckResult:
    scored = _Scored.of(real, synthetic, contract)
    metrics = dict(scored.metrics)
    limits = {
        "column_shapes": thresholds.min_column_shapes,
        "pair_trends": thresholds.min_pair_trends,
        "pair_dependence": thresholds.min_pair_dependence,
        "diagnostic": thresholds.min_diagnostic,
    }
    below = [n for n, limit in limits.items() if metrics[n] is not None and metrics[n] < limit]
    floors: dict[str, dict[str, float]] = {}
    if below and holdout is not None and len(holdout) >= _MIN_REFERENCE:
        floors = _noise_floors(real, holdout, len(synthetic), contract, below, thresholds, seed)
    reasons = []
    for name in below:
        measure, value, floor = name.replace("_", " "), metrics[name], floors.get(name)
        if floor is None:
            reasons.append(f"{measure} {value:.3f} is below the minimum {limits[name]}")
            continue
        metrics[f"{name}_floor"] = floor["floor"]
        if value < floor["floor"]:
            reasons.append(
                f"{measure} {value:.3f} is below the minimum {limits[name]} and below what "
                f"unseen real rows score ({floor['reference']:.3f}) beyond sampling noise (at "
                f"least {floor['floor']:.3f} at significance {thresholds.significance})"
            )
    shapes = scored.quality.get_details("Column Shapes")
    details = tuple(
        {"column": row["Column"], "metric": row["Metric"], "score": _round(row["Score"])}
        for _, row in shapes.iterrows()
    )
    charts = {
        "association": {k: scored.association[k] for k in ("columns", "real", "synthetic")},
        "diagnostic": _scores(scored.diagnostic.get_properties()),
        "limits": limits,
        "noise_floor": floors,
    }
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), details, charts)


@dataclass(frozen=True)
class _Scored:
    """SDMetrics' reports and the association of one (real, other) pair of tables."""

    quality: Any
    diagnostic: Any
    association: dict[str, Any]
    metrics: dict[str, float | None]

    @classmethod
    def of(cls, real: pd.DataFrame, other: pd.DataFrame, contract: Contract) -> _Scored:
        from sdmetrics.reports import DiagnosticReport, QualityReport

        real_t, other_t = modelled(real, contract), modelled(other, contract)
        _fold_wide(real_t, other_t, contract)
        meta = metadata(contract)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quality = QualityReport()
            quality.generate({TABLE: real_t}, {TABLE: other_t}, meta, verbose=False)
            diagnostic = DiagnosticReport()
            diagnostic.generate({TABLE: real_t}, {TABLE: other_t}, meta, verbose=False)
        properties = _scores(quality.get_properties())
        assoc = association(real, other, contract)
        metrics = {
            "score": _round(quality.get_score()),
            "column_shapes": properties.get("Column Shapes"),
            "pair_trends": properties.get("Column Pair Trends"),
            "pair_dependence": assoc["retained"],
            "diagnostic": _round(diagnostic.get_score()),
        }
        return cls(quality, diagnostic, assoc, metrics)


def _measures(
    real: pd.DataFrame, other: pd.DataFrame, contract: Contract, names: list[str]
) -> dict[str, float | None]:
    """The named measures only, computed as `_Scored.of` computes them (and no report more)."""
    from sdmetrics.reports import DiagnosticReport, QualityReport

    out: dict[str, float | None] = {}
    if "pair_dependence" in names:
        out["pair_dependence"] = association(real, other, contract)["retained"]
    reports = [
        (kind, key)
        for kind, key in ((QualityReport, "column_shapes"), (QualityReport, "pair_trends"))
        if key in names
    ][:1] + ([(DiagnosticReport, "diagnostic")] if "diagnostic" in names else [])
    if not reports:
        return out
    real_t, other_t = modelled(real, contract), modelled(other, contract)
    _fold_wide(real_t, other_t, contract)
    for kind, _ in reports:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = kind()
            report.generate({TABLE: real_t}, {TABLE: other_t}, metadata(contract), verbose=False)
        if kind is DiagnosticReport:
            out["diagnostic"] = _round(report.get_score())
        else:
            properties = _scores(report.get_properties())
            out["column_shapes"] = properties.get("Column Shapes")
            out["pair_trends"] = properties.get("Column Pair Trends")
    return out


def _noise_floors(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic_rows: int,
    contract: Contract,
    names: list[str],
    thresholds: QualityChecks,
    seed: int,
) -> dict[str, dict[str, float]]:
    """What unseen real rows score on each named measure, and the lowest score such rows would
    get short of `significance`: the training and holdout rows are pooled and re-split
    `_RESPLITS` times into a real side as large as the training rows and an unseen side as large
    as the holdout (or the synthetic sample, if smaller), each scored like the synthetic rows.
    The unseen side is no larger than the synthetic sample, so it is noisier than a perfect
    generator's output would be: a conservative (lenient) floor. Capped at `_REFERENCE_ROWS`."""
    pool = pd.concat([train, holdout], ignore_index=True)
    unseen = min(len(holdout), synthetic_rows, _REFERENCE_ROWS // 5)
    seen = min(len(train), _REFERENCE_ROWS - unseen)
    rng = np.random.default_rng([seed, len(train), len(holdout)])
    draws: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(_RESPLITS):
        order = rng.permutation(len(pool))
        real_side = pool.iloc[np.sort(order[:seen])].reset_index(drop=True)
        unseen_side = pool.iloc[np.sort(order[seen : seen + unseen])].reset_index(drop=True)
        scores = _measures(real_side, unseen_side, contract, names)
        for name in names:
            if scores[name] is not None:
                draws[name].append(scores[name])
    floors = {}
    for name, values in draws.items():
        if len(values) >= 2:
            floor = noise.prediction_lower(np.array(values), thresholds.significance)
            floors[name] = {"reference": _round(np.mean(values)), "floor": _round(floor)}
    return floors


def association(real: pd.DataFrame, synthetic: pd.DataFrame, contract: Contract) -> dict[str, Any]:
    """Cramer's V matrices (real and synthetic) and the mean share of strong real associations kept."""
    names = [c.name for c in contract.modelled]
    real_table = features(real, contract)
    edges = decile_edges(real_table)
    real_codes = codes(real_table, edges)
    synthetic_codes = codes(features(synthetic, contract), edges)
    for name, values in real_table.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            keep = _top_codes(real_codes[name])
            real_codes[name] = np.where(np.isin(real_codes[name], keep), real_codes[name], -1)
            synthetic_codes[name] = np.where(
                np.isin(synthetic_codes[name], keep), synthetic_codes[name], -1
            )
    size = len(names)
    real_v, synthetic_v = np.eye(size), np.eye(size)
    kept = []
    for i in range(size):
        for j in range(i + 1, size):
            a, b = names[i], names[j]
            real_v[i, j] = real_v[j, i] = _cramers_v(real_codes[a], real_codes[b])
            synthetic_v[i, j] = synthetic_v[j, i] = _cramers_v(
                synthetic_codes[a], synthetic_codes[b]
            )
            if real_v[i, j] >= _STRONG:
                kept.append(max(0.0, 1.0 - abs(real_v[i, j] - synthetic_v[i, j]) / real_v[i, j]))
    return {
        "columns": names,
        "real": np.round(real_v, 3).tolist(),
        "synthetic": np.round(synthetic_v, 3).tolist(),
        "retained": _round(float(np.mean(kept))) if kept else None,
    }


def _fold_wide(real: pd.DataFrame, synthetic: pd.DataFrame, contract: Contract) -> None:
    """Wide categorical columns keep their `_LEVELS` - 1 most frequent real categories and fold
    the rest into one, in place: SDMetrics compares every category's share, and on a ZIP code's
    tens of thousands of values, a few rows each, two honest samples differ by sampling noise alone
    (column pair trends 0.35 for a fresh draw of the population)."""
    for c in contract.modelled:
        if c.categories is None or len(c.categories) <= _LEVELS:
            continue
        counts = real[c.name].value_counts(sort=False)
        order = np.lexsort((np.arange(len(counts)), -counts.to_numpy()))
        keep = set(counts.index[order[: _LEVELS - 1]])
        for frame in (real, synthetic):
            values = frame[c.name]
            frame[c.name] = values.where(values.isna() | values.isin(keep), _OTHER)


def _top_codes(values: np.ndarray) -> np.ndarray:
    """The `_LEVELS` - 1 most frequent codes (ties to the smaller code), or every code if fewer."""
    found, counts = np.unique(values, return_counts=True)
    if len(found) <= _LEVELS:
        return found
    return found[np.lexsort((found, -counts))[: _LEVELS - 1]]


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramer's V over the observed cells: chi2 = n * (sum of O^2 / (row total * column total) - 1),
    the usual sum over every cell, without building the table."""
    if len(a) == 0:
        return 0.0
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    rows, columns = np.bincount(a), np.bincount(b)
    cells, observed = np.unique(a.astype(np.int64) * len(columns) + b, return_counts=True)
    n = len(a)
    expected = rows[cells // len(columns)] * columns[cells % len(columns)].astype("float64")
    chi2 = max(0.0, n * (float(np.sum(observed.astype("float64") ** 2 / expected)) - 1.0))
    k = min(len(rows), len(columns)) - 1
    return 0.0 if k <= 0 else math.sqrt(chi2 / n / k)


def _scores(properties: pd.DataFrame) -> dict[str, float | None]:
    return {row["Property"]: _round(row["Score"]) for _, row in properties.iterrows()}


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
