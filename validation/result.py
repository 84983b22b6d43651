"""What every check returns, and the verdict the gate folds them into. Aggregates only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    details: tuple[dict[str, Any], ...] = ()  # per-item rows for the report (counts, never values)
    charts: dict[str, Any] = field(default_factory=dict)  # aggregates the report draws

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]
    results: tuple[CheckResult, ...]

    @property
    def status(self) -> str:
        return "pass" if self.passed else "fail"

    def headline(self) -> dict[str, Any]:
        """The few numbers worth printing: each check's pass flag and headline metrics."""
        return {r.name: {"passed": r.passed, **r.metrics} for r in self.results}

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "checks": [r.to_dict() for r in self.results],
        }
