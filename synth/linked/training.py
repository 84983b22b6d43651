"""Training a linked table's network: early stopping, or DP-SGD per subject, and the privacy
budget split evenly over the tables' models (sequential composition)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from schemas.relations import Relations
from synth.linked.table_model import TableModel
from synth.tabular.autoregressive.engine import ONE_THREAD_BELOW, _threads

__all__ = ["budget", "privacy_total", "train_table"]


def budget(p: dict[str, Any], flats: dict[str, Any], relations: Relations) -> dict[str, float]:
    """Each model's share of (epsilon, delta): an even split over the tables with a model and
    the written text columns (a language model each)."""
    if p["epsilon"] is None:
        return {}
    modelled = [n for n, f in flats.items() if f.own.shape[1] > 0]
    models = len(modelled) + sum(len(t.contract.written) for t in relations.tables)
    subjects = len(flats[relations.root.name].own)
    delta = p["delta"] or 1.0 / subjects**1.1
    return {"epsilon": p["epsilon"] / models, "delta": delta / models}


def train_table(
    model: TableModel,
    tokens: Any,
    subjects: np.ndarray | None,
    p: dict[str, Any],
    budget: dict[str, float],
    *,
    seed: int,
) -> dict[str, Any]:
    """Train one table's network (early stopping, or DP-SGD per subject); its fit stats."""
    from synth.tabular.autoregressive.subject_dp import train_subject_dp
    from synth.tabular.autoregressive.train import train_dp, train_early_stopping

    started = time.perf_counter()
    stats: dict[str, Any] = {"rows": len(tokens), "columns": len(model.codecs)}
    if model.net is None or len(tokens) < 2:
        return {**stats, "epochs": 0, "fit_seconds": 0.0}
    net, params = model.net, {**p, **budget}
    with _threads(1 if len(tokens) < ONE_THREAD_BELOW else None):
        if not budget:
            report = train_early_stopping(
                net, tokens, p, seed=seed, subjects=subjects, given=model.given
            )
        elif subjects is None:
            report = train_dp(net, tokens, params, seed=seed)
            report.privacy = {**(report.privacy or {}), "unit": "subject"}
        else:
            report = train_subject_dp(net, tokens, subjects, params, seed=seed, given=model.given)
    net.eval()
    stats.update(
        epochs=report.epochs,
        best_validation_loss=report.best_validation_loss,
        fit_seconds=round(time.perf_counter() - started, 3),
        parameters=sum(t.numel() for t in net.parameters()),
    )
    if report.privacy is not None:
        stats["differential_privacy"] = report.privacy
    return stats


def privacy_total(
    per_table: dict[str, Any],
    texts: dict[str, dict[str, Any]],
    budget: dict[str, float],
    epsilon: float,
) -> dict[str, Any]:
    """The subjects' DP over every model: each table's and each text column's spend, summed."""
    spent = {
        n: s["differential_privacy"]["epsilon_spent"]
        for n, s in per_table.items()
        if "differential_privacy" in s
    }
    written = {
        f"{table}.{column}": r["privacy"]["epsilon_spent"]
        for table, columns in texts.items()
        for column, r in columns.items()
    }
    return {
        "unit": "subject",
        "epsilon_budget": epsilon,
        "epsilon_spent": round(sum(spent.values()) + sum(written.values()), 4),
        "delta": budget["delta"] * (len(spent) + len(written)),
        "per_table": spent,
        **({"per_text": written} if written else {}),
        "composition": "sequential (sum over the tables' and the text columns' models)",
    }
