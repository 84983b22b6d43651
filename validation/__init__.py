"""Checks on synthetic data (expectations, quality, utility, detection), the gate and the report."""

from validation.gate import fold
from validation.result import CheckResult, Verdict

__all__ = ["CheckResult", "Verdict", "fold"]
