"""The sequences check: fidelity across tables, per child table, judged against unseen subjects.

For every table under a parent: children per parent (length distance), time between consecutive
events (gap distance), columns every real parent keeps constant (consistency), consecutive events'
value pairs (transition similarity) and child-parent column pairs (pair similarity); the measures
are in validation.linked.measures, pure functions the benchmark reuses.

Judged as validation.quality judges a table: two honest samples of a few hundred subjects differ
by noise alone, so a measure past its limit fails only when it is also past what unseen real
subjects score beyond sampling noise. The training and holdout subjects (whole, with every row
under them) are pooled and re-split `_RESPLITS` times into a side as large as training and an
unseen side as large as the holdout (or the synthetic subjects, if fewer), each scored like the
synthetic tables; the bound is the one-sided prediction bound at `significance` for one more such
score, at `significance` divided by the number of measures so tested (Bonferroni: five measures
per child table would otherwise fail an honest generator about five times as often). The unseen
side is no larger than the synthetic one, so the bound errs towards passing.
Without a holdout of `_MIN_REFERENCE` subjects a measure is judged by its limit alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from schemas.linked_spec import SequenceChecks
from schemas.relations import Relations
from validation import noise
from validation.linked.measures import (
    consistency,
    gap_distance,
    length_distance,
    pair_similarity,
    transition_similarity,
)
from validation.linked.tree import Tables, complete, pool, take_subjects
from validation.result import CheckResult

__all__ = ["MEASURES", "NAME", "check"]

NAME = "sequences"
_RESPLITS = 10
_MIN_REFERENCE = 10  # holdout subjects a noise bound needs
_REFERENCE_SUBJECTS = 20_000  # subjects a re-split's real side holds at most

Measure = Callable[[Tables, Tables, Relations, str], float | None]
# name: (measure, the threshold's field, whether the limit is a maximum)
MEASURES: dict[str, tuple[Measure, str, bool]] = {
    "length_distance": (length_distance, "max_length_distance", True),
    "gap_distance": (gap_distance, "max_gap_distance", True),
    "consistency": (consistency, "min_consistency", False),
    "transition_similarity": (transition_similarity, "min_transition_similarity", False),
    "pair_similarity": (pair_similarity, "min_pair_similarity", False),
}


def check(
    real: Tables,
    synthetic: Tables,
    holdout: Tables | None,
    *,
    contract: Relations,
    thresholds: SequenceChecks,
    seed: int = 0,
    min_count: int = 10,
) -> CheckResult:
    """Every measure of every child table; `real` are the training tables. `min_count` comes
    with every linked check's keywords: only scores are reported, no value."""
    relations = contract
    real, synthetic = complete(real, relations), complete(synthetic, relations)
    holdout = None if holdout is None else complete(holdout, relations)
    children = [t.name for t in relations.tables if t.parent is not None]
    values = {
        (table, name): measure(real, synthetic, relations, table)
        for table in children
        for name, (measure, _, _) in MEASURES.items()
    }
    past = [
        key
        for key, value in values.items()
        if value is not None and _past(key[1], value, thresholds)
    ]
    root = relations.root.name
    bounds: dict[tuple[str, str], dict[str, Any]] = {}
    if past and holdout is not None and len(holdout[root]) >= _MIN_REFERENCE:
        bounds = _noise_bounds(
            real, holdout, len(synthetic[root]), relations, past, thresholds, seed
        )
    metrics: dict[str, Any] = {"tables": len(children)}
    details, reasons = [], []
    for (table, name), value in values.items():
        if value is None:
            continue
        limit, upper = _limit(name, thresholds)
        metrics[f"{table}.{name}"] = round(value, 4)
        bound = bounds.get((table, name))
        failed = (table, name) in past and (
            bound is None or (value > bound["bound"] if upper else value < bound["bound"])
        )
        details.append(
            {
                "table": table,
                "measure": name.replace("_", " "),
                "value": round(value, 4),
                "limit": f"{'at most' if upper else 'at least'} {limit}",
                "holdout": None if bound is None else bound["reference"],
                "noise bound": None if bound is None else bound["bound"],
                "passed": not failed,
            }
        )
        if failed:
            reasons.append(_reason(table, name, value, limit, upper, bound, thresholds))
    if not len(synthetic[root]):
        reasons.append("no synthetic subjects: nothing to compare")
    metrics["failed"] = len(reasons)
    limits = {name: _limit(name, thresholds)[0] for name in MEASURES}
    charts = {"limits": limits, "significance": thresholds.significance}
    return CheckResult(NAME, not reasons, metrics, tuple(reasons), tuple(details), charts)


def _limit(name: str, thresholds: SequenceChecks) -> tuple[float, bool]:
    _, field, upper = MEASURES[name]
    return float(getattr(thresholds, field)), upper


def _past(name: str, value: float, thresholds: SequenceChecks) -> bool:
    limit, upper = _limit(name, thresholds)
    return value > limit if upper else value < limit


def _reason(
    table: str,
    name: str,
    value: float,
    limit: float,
    upper: bool,
    bound: dict[str, Any] | None,
    thresholds: SequenceChecks,
) -> str:
    side = "above the maximum" if upper else "below the minimum"
    text = f"{table}: {name.replace('_', ' ')} {value:.3f} is {side} {limit}"
    if bound is None:
        return text
    return (
        f"{text} and {'above' if upper else 'below'} what unseen real subjects score "
        f"({bound['reference']:.3f}) beyond sampling noise (bound {bound['bound']:.3f} at "
        f"significance {thresholds.significance} over {bound['tested']} measures)"
    )


def _noise_bounds(
    train: Tables,
    holdout: Tables,
    synthetic_subjects: int,
    relations: Relations,
    wanted: list[tuple[str, str]],
    thresholds: SequenceChecks,
    seed: int,
) -> dict[tuple[str, str], dict[str, Any]]:
    """What unseen real subjects score on each wanted (table, measure), and the one-sided
    prediction bound for one more such score."""
    root = relations.root.name
    pooled = pool(train, holdout, relations)
    n_train, n_holdout = len(train[root]), len(holdout[root])
    unseen = max(1, min(n_holdout, synthetic_subjects))
    seen = min(n_train, _REFERENCE_SUBJECTS)
    rng = np.random.default_rng([seed, n_train, n_holdout])
    draws: dict[tuple[str, str], list[float]] = {key: [] for key in wanted}
    for _ in range(_RESPLITS):
        order = rng.permutation(n_train + n_holdout)
        seen_mask = np.zeros(n_train + n_holdout, dtype=bool)
        unseen_mask = seen_mask.copy()
        seen_mask[order[:seen]] = True
        unseen_mask[order[seen : seen + unseen]] = True
        real_side = take_subjects(pooled, relations, seen_mask)
        unseen_side = take_subjects(pooled, relations, unseen_mask)
        for table, name in wanted:
            score = MEASURES[name][0](real_side, unseen_side, relations, table)
            if score is not None:
                draws[(table, name)].append(score)
    bounds = {}
    for (table, name), scores in draws.items():
        if len(scores) < 2:
            continue
        scores_ = np.asarray(scores, dtype="float64")
        upper, level = MEASURES[name][2], thresholds.significance / len(wanted)
        if upper:
            bound = -noise.prediction_lower(-scores_, level)
        else:
            bound = noise.prediction_lower(scores_, level)
        bounds[(table, name)] = {
            "reference": round(float(np.mean(scores_)), 4),
            "bound": round(float(bound), 4),
            "tested": len(wanted),
        }
    return bounds
