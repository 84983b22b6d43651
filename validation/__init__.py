"""Checks on synthetic data (expectations today; quality, privacy and bias next), the gate and the report."""

from validation.gate import fold
from validation.result import CheckResult, Verdict

__all__ = ["CheckResult", "Verdict", "fold"]
