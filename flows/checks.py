"""The check steps of a table run: each a thin task over one check in validation/, and
`run_checks`, which picks the real rows each compares with and runs the enabled ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger

from flows.steps import step
from schemas import Contract, JobSpec
from synth.fairness import FairPlan, plan_weights
from synth.sampling import Batch
from validation import CheckResult, anonymeter_run, bias, detection, privacy, quality, utility
from validation.expectations import judge
from validation.profile import distributions
from validation.reference import reference, support

__all__ = ["judge_expectations", "run_checks"]


@step("expectations")
def judge_expectations(counts: list[Any], planned_rows: int) -> CheckResult:
    return judge(counts, expected_rows=planned_rows)


@step("quality")
def check_quality(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    spec: JobSpec,
) -> CheckResult:
    return quality.check(
        real, synthetic, holdout, contract, spec.checks.quality, seed=spec.sample.seed
    )


@step("utility")
def check_utility(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    spec: JobSpec,
) -> CheckResult:
    return utility.check(
        real, synthetic, holdout, contract, spec.checks.utility, seed=spec.sample.seed
    )


@step("detection")
def check_detection(
    real: pd.DataFrame, synthetic: pd.DataFrame, contract: Contract, spec: JobSpec
) -> CheckResult:
    return detection.check(
        real, synthetic, None, contract, spec.checks.detection, seed=spec.sample.seed
    )


@step("privacy")
def check_privacy(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    real: pd.DataFrame,
    contract: Contract,
    spec: JobSpec,
    filtered: dict[str, Any] | None,
) -> CheckResult:
    settings = spec.checks.privacy
    run_anonymeter = anonymeter_run.runner(contract, settings, seed=spec.sample.seed)
    return privacy.check(
        train,
        holdout,
        synthetic,
        contract,
        settings,
        seed=spec.sample.seed,
        real_identifiers=real[[c.name for c in contract.columns if c.is_faked]],
        filtered=filtered,
        anonymeter=run_anonymeter,
        subject=spec.split.by,
    )


@step("bias")
def check_bias(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    contract: Contract,
    spec: JobSpec,
    weights: np.ndarray | None,
    fair: FairPlan | None,
) -> CheckResult:
    # groups rarer than the report's k-anonymity floor are neither judged nor named, and
    # categories that value protection took out of training cannot be expected back
    settings = spec.checks.bias
    protection = spec.model.value_protection
    floor = max(settings.min_count, spec.report.min_count)
    if protection.enabled:
        floor = max(floor, protection.min_count)
    settings = settings.model_copy(update={"min_count": floor})
    return bias.check(train, holdout, synthetic, contract, settings, weights=weights, fair=fair)


@step("profile")
def profile(
    real: pd.DataFrame, synthetic: pd.DataFrame, contract: Contract, spec: JobSpec
) -> list[dict[str, Any]]:
    return distributions(real, synthetic, contract, min_count=spec.report.min_count)


def run_checks(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    real: pd.DataFrame,
    contract: Contract,
    spec: JobSpec,
    filtered: dict[str, Any] | None = None,
    weights: np.ndarray | None = None,
    fair: FairPlan | None = None,
    batches: list[Batch] | None = None,
) -> tuple[list[CheckResult], list[dict[str, Any]]]:
    """The statistical checks over the seeded sample of the rows (expectations ran on every row,
    partition by partition, as they were written). Each compares with the real rows the plan
    (`batches`) asks for: all of them for an unconditioned run, the matching ones for conditions."""
    checks, seed = spec.checks, spec.sample.seed
    real_train, real_holdout, private_train, private_holdout = train, holdout, train, holdout
    if batches is not None:
        groups = [(b.rows, b.conditions) for b in batches]
        train_w, holdout_w = plan_weights(groups, train), plan_weights(groups, holdout)
        real_train = reference(train, train_w, seed=seed)
        real_holdout = reference(holdout, holdout_w, seed=seed + 1)
        private_train, private_holdout = support(train, train_w), support(holdout, holdout_w)
        if real_train is not train:
            get_run_logger().info(
                "checks compare with the real rows the plan asks for: %d training and %d holdout "
                "rows (%d and %d for privacy)",
                len(real_train),
                len(real_holdout),
                len(private_train),
                len(private_holdout),
            )
    results = []
    if checks.quality.enabled:
        results.append(check_quality(real_train, synthetic, real_holdout, contract, spec))
    if checks.utility.enabled:
        results.append(check_utility(real_train, synthetic, real_holdout, contract, spec))
    if checks.detection.enabled:
        results.append(check_detection(real_train, synthetic, contract, spec))
    if checks.privacy.enabled:
        results.append(
            check_privacy(private_train, private_holdout, synthetic, real, contract, spec, filtered)
        )
    if checks.bias.enabled:
        results.append(check_bias(train, holdout, synthetic, contract, spec, weights, fair))
    return results, profile(real_train, synthetic, contract, spec)
