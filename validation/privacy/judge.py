"""The privacy check: every measure, each judged beyond sampling noise against the holdout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from schemas.contract import Contract
from schemas.spec import PrivacyChecks
from validation.privacy.disclosure import anonymeter_attacks, identifiers, rare_combinations
from validation.privacy.distances import copies_and_distances, membership_attack
from validation.privacy.samples import People, Samples
from validation.privacy.verdicts import Encoded, Verdicts
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "privacy"


def check(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    contract: Contract,
    thresholds: PrivacyChecks,
    seed: int = 0,
    real_identifiers: pd.DataFrame | None = None,
    filtered: dict[str, Any] | None = None,
    anonymeter: Callable[[Samples], dict[str, Any]] | None = None,
    subject: str | None = None,
) -> CheckResult:
    """Run every privacy measure; `real_identifiers` holds the real values of faked columns,
    `filtered` the privacy filter's counts, `anonymeter` runs anonymeter on the samples, and
    `subject` (the split's `by`) makes the real samples whole subjects. `real` are the training
    rows: every measure asks whether the synthetic rows sit closer to them than to the holdout."""
    train = real
    if holdout is None or len(holdout) < 2 or len(train) < 2:
        # a plan conditioned on a combination that unseen rows never hold cannot be told apart
        # from copying: without holdout rows to compare with, nothing is published
        reason = (
            f"privacy cannot be judged: the real rows the plan asks for number {len(train)} "
            f"training and {0 if holdout is None else len(holdout)} holdout rows (2 of each needed)"
        )
        return CheckResult(NAME, False, {}, (reason,))
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    samples = Samples.draw(train, holdout, synthetic, thresholds.rows, seed, subject)
    points = Encoded.of(samples, train, contract)
    lap("encode")
    verdicts = Verdicts(thresholds.significance)
    metrics: dict[str, Any] = {"rows": len(samples.train)}
    charts: dict[str, Any] = {}
    people = People.of(samples, train, holdout, subject)
    copies_and_distances(
        points, train, holdout, contract, thresholds, verdicts, metrics, charts, lap, people
    )
    membership_attack(points, synthetic, contract, thresholds, verdicts, metrics, charts, seed)
    lap("membership attack")
    charts["rare"] = rare_combinations(train, holdout, synthetic, contract, thresholds, verdicts)
    lap("rare combinations")
    charts["identifiers"] = identifiers(
        synthetic, train, contract, real_identifiers, thresholds, verdicts
    )
    lap("identifiers")
    if anonymeter is not None:
        charts["anonymeter"] = anonymeter_attacks(anonymeter, samples, thresholds, verdicts)
        lap("anonymeter")
    if filtered:
        metrics["filter_replaced"] = filtered.get("replaced", 0)
        charts["filter"] = filtered
        if filtered.get("shortfall"):
            verdicts.reasons.append(
                f"privacy filter: {filtered['shortfall']} rows could not be replaced by rows far "
                f"enough from training after {filtered['max_rounds']} rounds"
            )
    charts["seconds"] = seconds
    reasons = tuple(verdicts.reasons)
    return CheckResult(NAME, not reasons, metrics, reasons, tuple(verdicts.rows), charts)
