"""One exception hierarchy for the whole pipeline; the CLI maps it to exit codes in one place."""

from __future__ import annotations

__all__ = ["DataError", "GateFailed", "InternalError", "OutputError", "SpecError", "SynthError"]


class SynthError(Exception):
    """Base of every error synth raises on purpose. Messages are one line and never carry values."""

    exit_code = 3


class SpecError(SynthError):
    """The job spec (or a command-line override) is invalid."""

    exit_code = 2


class DataError(SynthError):
    """The source data cannot be read or does not match its declared contract."""

    exit_code = 2


class OutputError(SynthError):
    """Where synth would write is unfit: a file, a link it did not make, a place it cannot write."""

    exit_code = 2


class GateFailed(SynthError):
    """A check failed; the run was quarantined. `summary` says where and why (aggregates only)."""

    exit_code = 1

    def __init__(self, message: str, summary: dict | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class InternalError(SynthError):
    """An unexpected failure inside a step, re-raised without the original message (which may
    quote data). `retryable` marks transient I/O failures that a retry may cure."""

    exit_code = 3

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
