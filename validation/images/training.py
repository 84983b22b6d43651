"""The training check: a run whose generator diverged, or collapsed where the spec says collapse
fails, does not publish. It reads the training result, not the images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from validation.images.sides import ImageContract
from validation.result import CheckResult

if TYPE_CHECKING:
    from synth.image.train import TrainResult

__all__ = ["NAME", "check"]

NAME = "training"


def check(
    real: Any,
    synthetic: Any,
    holdout: Any,
    *,
    contract: ImageContract | None,
    thresholds: bool,
    training: TrainResult,
) -> CheckResult:
    """`thresholds` is the spec's `checks.collapse`: whether a collapsed run fails; a diverged run
    always does. The sides and the contract are not read (they keep the checks' one signature)."""
    reasons = []
    if training.diverged:
        reasons.append(f"training diverged: {training.reason}")
    if training.collapsed and thresholds:
        reasons.append(training.reason or "mode collapse")
    last = training.history[-1] if training.history else {}
    metrics = {
        "best_epoch": training.best_epoch,
        "epochs": len(training.history),
        "stopped_early": training.stopped_early,
        "collapsed": training.collapsed,
        "diverged": training.diverged,
        "images_per_s": last.get("images_per_s"),
    }
    return CheckResult(NAME, not reasons, metrics, tuple(reasons))
