"""Per-column real-vs-synthetic distributions for the report: shares per bin, never values.

Categories seen fewer than `min_count` times in the real data are folded into 'other', and numeric
axes are cut at quantiles that leave at least `min_count` real rows outside them, so no single
person's value (a rare category, an extreme income) can be read off a chart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import ColumnType
from validation.frames import features

__all__ = ["distributions"]

_BINS = 20
_TOP = 20


def distributions(
    real: pd.DataFrame, synthetic: pd.DataFrame, contract: Contract, *, min_count: int
) -> list[dict[str, Any]]:
    real_t, synthetic_t = features(real, contract), features(synthetic, contract)
    out = []
    for c in contract.modelled:
        r, s = real_t[c.name], synthetic_t[c.name]
        if isinstance(r.dtype, pd.CategoricalDtype):
            out.append(_categorical(c.name, r, s, min_count))
        else:
            out.append(_numeric(c.name, r, s, min_count, dates=c.type is ColumnType.datetime))
    return out


def _categorical(name: str, real: pd.Series, synthetic: pd.Series, k: int) -> dict[str, Any]:
    counts = real.value_counts(dropna=True)
    counts = counts[counts > 0]
    shown = [str(v) for v, n in counts.items() if n >= k][:_TOP]
    real_key, synthetic_key = _fold(real, shown), _fold(synthetic, shown)
    labels = [*shown, "other", "missing"]
    return {
        "column": name,
        "kind": "categorical",
        "labels": labels,
        "real": _shares(real_key, labels),
        "synthetic": _shares(synthetic_key, labels),
        "hidden_categories": int(len(counts) - len(shown)),
    }


def _fold(values: pd.Series, shown: list[str]) -> pd.Series:
    text = values.astype(object)
    return text.where(text.isin(shown), "other").where(values.notna(), "missing")


def _numeric(
    name: str, real: pd.Series, synthetic: pd.Series, k: int, *, dates: bool
) -> dict[str, Any]:
    present = real.dropna().to_numpy(dtype="float64")
    labels = ["below", *[f"bin {i + 1}" for i in range(_BINS)], "above", "missing"]
    if len(present) < 2 * k:
        return {"column": name, "kind": "numeric", "labels": [], "real": [], "synthetic": []}
    q = max(0.01, k / len(present))
    low, high = np.quantile(present, [q, 1 - q])
    edges = np.linspace(low, high, _BINS + 1) if high > low else np.array([low, low])
    return {
        "column": name,
        "kind": "numeric",
        "labels": labels if high > low else ["below", "at", "above", "missing"],
        "axis": [_label(low, dates), _label(high, dates)],
        "real": _binned(real, edges),
        "synthetic": _binned(synthetic, edges),
    }


def _binned(values: pd.Series, edges: np.ndarray) -> list[float]:
    numbers = values.to_numpy(dtype="float64")
    missing = np.isnan(numbers)
    present = numbers[~missing]
    inner = (
        np.histogram(present, bins=edges)[0] if len(edges) > 2 else [np.sum(present == edges[0])]
    )
    counts = [np.sum(present < edges[0]), *inner, np.sum(present > edges[-1]), missing.sum()]
    total = max(len(numbers), 1)
    return [round(float(n) / total, 4) for n in counts]


def _shares(keys: pd.Series, labels: list[str]) -> list[float]:
    counts = keys.value_counts()
    total = max(len(keys), 1)
    return [round(float(counts.get(label, 0)) / total, 4) for label in labels]


def _label(value: float, dates: bool) -> str:
    if dates:
        return str(pd.Timestamp(value, unit="s").date())
    return f"{value:.4g}"
