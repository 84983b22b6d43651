"""What a kind of data must provide for the one `synthesize` flow to run it: a modality.

The flow (flows/synthesize.py) runs every job the same way: read, prepare (contract, split, plan:
everything that can refuse the input before a fit), fit, sample (staged Parquet parts), the checks
of `validation.registry` for this modality, the gate, metrics, publish or quarantine. A modality
says how each step is done for its data; the flow owns the shared end of a run once.

A modality is picked once, from the spec's `kind`, through `MODALITIES`: a new kind of data (linked
tables, event sequences) adds a package under `synth/modalities/` and one line here, and touches
neither the flow nor the other modalities.

This is the one layer in `synth/` that imports `validation/`: a modality composes the engines and
readers below it with the checks beside them. Nothing under it imports `flows/` or Prefect; the
flow hands it an `Execute` for work it may fan out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from schemas.errors import SpecError
from synth.io.publish import StagedParts
from validation.result import CheckResult

__all__ = [
    "MODALITIES",
    "CheckInputs",
    "Execute",
    "Modality",
    "Sampled",
    "modality_for",
]

# kind -> "module:class"; imported on first use, so `synth --help` never loads torch
MODALITIES: dict[str, str] = {
    "table": "synth.modalities.table:TableModality",
    "images": "synth.modalities.images:ImageModality",
    "linked": "synth.modalities.linked:LinkedModality",
}

# The flow's way to run a step's units of work (a table's partitions): in order here, or on a
# cluster. `execute(function, items)` returns one result per item, in order.
Execute = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


@dataclass(frozen=True)
class CheckInputs:
    """What one registered check is called with: `check(real, synthetic, holdout, *,
    contract=..., thresholds=..., **keywords)`."""

    real: Any
    synthetic: Any
    holdout: Any
    contract: Any
    thresholds: Any
    keywords: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Sampled:
    """The staged output of a run and what the sampling step already judged (expectations over
    every row, the privacy filter, the training monitor). `evidence` is the modality's own: what
    its checks compare (rows or images kept in memory, never in Prefect's result store)."""

    staged: StagedParts
    results: list[CheckResult]
    evidence: Any


class Modality(Protocol):
    """One kind of data. Every method is a plain function of its inputs (no Prefect), so the flow
    can wrap each as a task and tests can call them directly."""

    kind: ClassVar[str]  # the spec's `kind`
    unit: ClassVar[str]  # what a row of the output is, for people: "rows", "images"

    def preflight(self, spec: Any) -> None:
        """Raise the SynthError a run would stop on before fitting (a bad file, a missing tool):
        the CLI calls it before Prefect starts."""

    def describe(self, spec: Any) -> str:
        """A few words on what the spec holds, for `synth validate-spec`."""

    def read(self, spec: Any) -> Any:
        """Ingest the source."""

    def prepare(self, source: Any, spec: Any) -> Any:
        """Contract, split, protection and sample plan: everything before the fit."""

    def fit(self, prepared: Any, spec: Any, *, retrain: bool) -> Any:
        """A model for the training part (from the model store where the modality keeps one)."""

    def sample(
        self, fitted: Any, prepared: Any, spec: Any, *, staging: Path, execute: Execute, run_id: str
    ) -> Sampled:
        """Sample the plan into Parquet parts under `staging` (the run's private staging folder)."""

    def check_inputs(
        self,
        name: str,
        prepared: Any,
        fitted: Any,
        sampled: Sampled,
        spec: Any,
        done: Mapping[str, CheckResult],
    ) -> CheckInputs | None:
        """The inputs of the registered check `name`, or None when the spec turns it off.
        `done` holds the results of the checks that ran before it."""

    def run_info(
        self, source: Any, prepared: Any, fitted: Any, sampled: Sampled, spec: Any
    ) -> dict[str, Any]:
        """The modality's part of metrics.json: its `run` keys (at least those of
        `synth.runinfo.MODALITY_RUN_KEYS`) and sections of its own (charts, training curves,
        sample images), aggregates only."""

    def partition_by(self, spec: Any) -> list[str]:
        """The columns the published Parquet is foldered by (Hive style), if any."""

    def render(self, metrics: Mapping[str, Any]) -> str:
        """The self-contained HTML report of a run's metrics.json."""


def modality_for(spec_or_kind: Any) -> Modality:
    """The modality that runs a spec (or a metrics.json's `run.kind`)."""
    kind = spec_or_kind if isinstance(spec_or_kind, str) else spec_or_kind.kind
    try:
        module, name = MODALITIES[kind].split(":")
    except KeyError:
        raise SpecError(f"kind: {kind!r} is not one of {', '.join(MODALITIES)}") from None
    return getattr(importlib.import_module(module), name)()
