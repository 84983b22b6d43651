"""Every check, by modality, in the order the gate reports them: one flow iterates the checks of
its modality and calls each the same way.

A check is `check(real, synthetic, holdout, *, contract, thresholds, **keywords) -> CheckResult`:
`real` is the real data the synthetic data is judged against (the training rows or images),
`holdout` the real data no engine saw (None where a check runs without it), `contract` what the run
knows of its data (schemas.Contract for tables, validation.images.ImageContract for images) and
`thresholds` the check's section of the spec. The keywords after them differ by check (`seed`,
`weights`, `quality`, `training`, ...) and all have defaults, except the training check's
`training`.
"""

from __future__ import annotations

from typing import Any, Protocol

from validation import bias, detection, privacy, quality, text, utility
from validation.images import bias as image_bias
from validation.images import privacy as image_privacy
from validation.images import quality as image_quality
from validation.images import training
from validation.linked import integrity as linked_integrity
from validation.linked import privacy as linked_privacy
from validation.linked import quality as linked_quality
from validation.linked import sequences as linked_sequences
from validation.linked import text as linked_text
from validation.result import CheckResult

__all__ = ["CHECKS", "Check", "checks_for"]


class Check(Protocol):
    """The signature every registered check shares (each may take more keywords after these)."""

    def __call__(
        self, real: Any, synthetic: Any, holdout: Any, /, *, contract: Any, thresholds: Any
    ) -> CheckResult: ...


CHECKS: dict[str, dict[str, Check]] = {
    "table": {
        "quality": quality.check,
        "utility": utility.check,
        "detection": detection.check,
        "privacy": privacy.check,
        "bias": bias.check,
        "text": text.check,
    },
    "images": {
        "training": training.check,
        "quality": image_quality.check,
        "privacy": image_privacy.check,
        "bias": image_bias.check,
    },
    "linked": {
        "expectations": linked_integrity.check,
        "quality": linked_quality.check,
        "sequences": linked_sequences.check,
        "privacy": linked_privacy.check,
        "text": linked_text.check,
    },
}


def checks_for(modality: str) -> dict[str, Check]:
    """The checks of `modality` ("table", "images" or "linked"), by name, in the gate's order."""
    try:
        return CHECKS[modality]
    except KeyError:
        known = ", ".join(sorted(CHECKS))
        raise KeyError(
            f"no checks are registered for modality {modality!r} (known: {known})"
        ) from None
