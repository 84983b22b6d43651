"""What each check of a table run compares: the real rows the sample plan asks for.

The statistical checks see a seeded sample of the synthetic rows (expectations ran on every row,
partition by partition, as they were written). Each compares with the real rows the plan asks for:
all of them for an unconditioned run, the matching ones for conditions or rebalanced cells
(`validation.reference`): a Poisson sample in the plan's proportions for the distribution checks,
every row the plan could have drawn on for privacy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas import Contract, JobSpec
from synth.fairness import FairPlan, plan_weights
from synth.modalities import CheckInputs
from synth.sampling import Batch
from validation import anonymeter_run
from validation.reference import reference, support

__all__ = ["TableEvidence", "check_inputs", "evidence"]

_log = logging.getLogger("synth.checks")


@dataclass(frozen=True)
class TableEvidence:
    """The frames the checks compare (in memory only) and what the plan asked for."""

    synthetic: pd.DataFrame  # the seeded sample of the written rows
    real: pd.DataFrame  # every typed real row (its faked columns' real values, for privacy)
    train: pd.DataFrame
    holdout: pd.DataFrame
    real_train: pd.DataFrame  # in the plan's proportions
    real_holdout: pd.DataFrame
    private_train: pd.DataFrame  # every row the plan could draw on
    private_holdout: pd.DataFrame
    weights: np.ndarray | None
    fair: FairPlan | None
    filtered: dict[str, Any] | None  # the privacy filter's tally


def evidence(
    synthetic: pd.DataFrame,
    *,
    real: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    batches: list[Batch],
    weights: np.ndarray | None,
    fair: FairPlan | None,
    filtered: dict[str, Any] | None,
    seed: int,
) -> TableEvidence:
    groups = [(b.rows, b.conditions) for b in batches]
    train_w, holdout_w = plan_weights(groups, train), plan_weights(groups, holdout)
    real_train = reference(train, train_w, seed=seed)
    real_holdout = reference(holdout, holdout_w, seed=seed + 1)
    private_train, private_holdout = support(train, train_w), support(holdout, holdout_w)
    if real_train is not train:
        _log.info(
            "checks compare with the real rows the plan asks for: %d training and %d holdout "
            "rows (%d and %d for privacy)",
            len(real_train),
            len(real_holdout),
            len(private_train),
            len(private_holdout),
        )
    return TableEvidence(
        synthetic,
        real,
        train,
        holdout,
        real_train,
        real_holdout,
        private_train,
        private_holdout,
        weights,
        fair,
        filtered,
    )


def check_inputs(
    name: str, seen: TableEvidence, contract: Contract, spec: JobSpec
) -> CheckInputs | None:
    """The inputs of the table check `name` (validation.registry), or None when it is off."""
    settings = getattr(spec.checks, name)
    if not settings.enabled:
        return None
    return _INPUTS[name](seen, contract, spec, settings)


def _distribution(seen: TableEvidence, contract: Contract, spec: JobSpec, settings: Any):
    """Quality and utility: the plan's mix of real rows, training and holdout."""
    keywords = {"seed": spec.sample.seed}
    return CheckInputs(
        seen.real_train, seen.synthetic, seen.real_holdout, contract, settings, keywords
    )


def _detection(seen: TableEvidence, contract: Contract, spec: JobSpec, settings: Any):
    """A classifier of real against synthetic rows (it needs no holdout)."""
    keywords = {"seed": spec.sample.seed}
    return CheckInputs(seen.real_train, seen.synthetic, None, contract, settings, keywords)


def _privacy(seen: TableEvidence, contract: Contract, spec: JobSpec, settings: Any):
    """Every real row the plan could have drawn on, the faked columns' real values, the
    privacy filter's tally and anonymeter."""
    seed = spec.sample.seed
    keywords = {
        "seed": seed,
        "real_identifiers": seen.real[[c.name for c in contract.columns if c.is_faked]],
        "filtered": seen.filtered,
        "anonymeter": anonymeter_run.runner(contract, settings, seed=seed),
        "subject": spec.split.by,
    }
    return CheckInputs(
        seen.private_train, seen.synthetic, seen.private_holdout, contract, settings, keywords
    )


def _bias(seen: TableEvidence, contract: Contract, spec: JobSpec, settings: Any):
    """Every training row, with the weights that say what the plan asked of each group."""
    keywords: Mapping[str, Any] = {"weights": seen.weights, "fair": seen.fair}
    return CheckInputs(
        seen.train, seen.synthetic, seen.holdout, contract, _bias_settings(spec), keywords
    )


def _text(seen: TableEvidence, contract: Contract, spec: JobSpec, settings: Any):
    """Written text against the holdout's texts: every training and holdout row (the plan's
    mix is a table notion; a text is judged against the texts it could have copied)."""
    keywords = {"seed": spec.sample.seed, "min_count": spec.report.min_count}
    return CheckInputs(seen.train, seen.synthetic, seen.holdout, contract, settings, keywords)


_INPUTS = {
    "quality": _distribution,
    "utility": _distribution,
    "detection": _detection,
    "privacy": _privacy,
    "bias": _bias,
    "text": _text,
}


def _bias_settings(spec: JobSpec) -> Any:
    """Groups rarer than the report's k-anonymity floor are neither judged nor named, and
    categories that value protection took out of training cannot be expected back."""
    settings = spec.checks.bias
    protection = spec.model.value_protection
    floor = max(settings.min_count, spec.report.min_count)
    if protection.enabled:
        floor = max(floor, protection.min_count)
    return settings.model_copy(update={"min_count": floor})
