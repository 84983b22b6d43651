"""The gate: every check must pass for a run to publish; the verdict names each failure."""

from __future__ import annotations

from collections.abc import Iterable

from validation.result import CheckResult, Verdict

__all__ = ["fold"]


def fold(results: Iterable[CheckResult]) -> Verdict:
    results = tuple(results)
    if not results:
        return Verdict(False, ("no check ran: nothing is published unchecked",), results)
    reasons = tuple(
        f"{r.name}: {reason}"
        for r in results
        if not r.passed
        for reason in (r.reasons or ("failed",))
    )
    return Verdict(all(r.passed for r in results), reasons, results)
