"""The table modality: a CSV, Parquet file or SQL query in, synthetic rows out.

read -> contract (declared schema + what the data shows) -> train/holdout split (by subject where
the spec names one) -> value protection -> sample plan -> fit (or the stored model) -> partitions
of seeded batches (privacy filter, expectations over every row) -> the checks' evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from schemas import Contract, JobSpec
from schemas.spec import SampleSpec
from synth.fairness import FairPlan, fair_cells, plan_weights
from synth.io import build_contract, read_source, source_fingerprint, split_holdout
from synth.io.model_store import ModelStore, model_key, store_root
from synth.io.publish import StagedParts, check_partitioning
from synth.io.readers import source_label
from synth.io.split import subject_codes
from synth.modalities import CheckInputs, Execute, Sampled
from synth.modalities.table.evidence import TableEvidence, check_inputs, evidence
from synth.modalities.table.partitions import combined, plan_work, run_partition
from synth.modalities.table.preflight import preflight
from synth.sampling import (
    Batch,
    Identifiers,
    RowFilter,
    plan_batches,
    plan_groups,
    typed_conditions,
    unconditioned_rows,
)
from synth.tabular import Engine, make_engine
from synth.tabular.protection import DISCRETE_UP_TO, Protection, protect_values
from validation import CheckResult, privacy
from validation.expectations import judge
from validation.profile import distributions

__all__ = ["TableModality"]

_log = logging.getLogger("synth.table")


@dataclass(frozen=True)
class TableSource:
    frame: pd.DataFrame
    fingerprint: str


@dataclass(frozen=True)
class TablePrepared:
    """Everything the fit and the sampling need, decided before either runs."""

    contract: Contract
    typed: pd.DataFrame  # every real row, typed by the contract
    train: pd.DataFrame
    holdout: pd.DataFrame
    protection: Protection  # the training rows the engine sees (rare values replaced)
    batches: list[Batch]
    weights: np.ndarray  # what each training row stands for in the plan
    fair: FairPlan | None
    row_filter: RowFilter | None  # the privacy filter, or None
    floor: float | None  # its distance floor


@dataclass(frozen=True)
class TableFitted:
    engine: Engine
    info: dict[str, Any]  # how it was got (model cache) and for how long


class TableModality:
    kind: ClassVar[str] = "table"
    unit: ClassVar[str] = "rows"

    def preflight(self, spec: JobSpec) -> None:
        preflight(spec)

    def describe(self, spec: JobSpec) -> str:
        return f"{len(spec.dataset.columns)} columns"

    def read(self, spec: JobSpec) -> TableSource:
        frame = read_source(spec.source)
        return TableSource(frame, source_fingerprint(spec.source, frame))

    def prepare(self, source: TableSource, spec: JobSpec) -> TablePrepared:
        label = source_label(spec.source)
        contract, typed = build_contract(
            source.frame,
            spec.dataset,
            label=label,
            fingerprint=source.fingerprint,
            written=spec.written_text(),
        )
        check_partitioning(contract, spec.output.partition_by)
        plan = typed_conditions(spec.sample, contract)
        train, holdout = split_holdout(
            typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
        )
        protection = _protect(train, contract, spec, plan)  # checks still see the real rows
        group_floor = max(spec.checks.bias.min_count, spec.report.min_count)
        batches, weights, fair = _plan(plan, protection.train, contract, group_floor)
        row_filter, floor = None, None
        if spec.sample.privacy_filter.enabled:
            row_filter, floor = _privacy_filter(train, holdout, contract, spec)
        return TablePrepared(
            contract,
            typed,
            train,
            holdout,
            protection,
            batches,
            weights,
            fair,
            row_filter,
            floor,
        )

    def fit(self, prepared: TablePrepared, spec: JobSpec, *, retrain: bool) -> TableFitted:
        """The stored model for this source, spec and code if there is one (and not `retrain`),
        else a freshly fitted one, which is then stored."""
        store, key = None, None
        if spec.model.cache:
            store, key = (
                ModelStore.open(store_root(spec)),
                model_key(spec, prepared.contract.fingerprint),
            )
            engine = None if retrain else store.get(key, spec.model.engine)
            if engine is not None:
                _log.info("reusing stored %s model %s", engine.name, key[:12])
                return TableFitted(engine, {"model_cache": "reused", "model_key": key})
        engine = make_engine(spec.model.engine, spec.model.engine_params())
        contract, train = prepared.contract, prepared.protection.train
        _log.info(
            "fitting %s on %d rows x %d modelled columns",
            engine.name,
            len(train),
            len(contract.modelled),
        )
        if contract.written:
            _log.info("and a language model for each of %d text column(s)", len(contract.written))
        engine.fit(
            train[[c.name for c in (*contract.modelled, *contract.written)]],
            contract,
            seed=spec.sample.seed,
            subjects=subject_codes(train, spec.split.by),
        )
        if store is None:
            return TableFitted(engine, {"model_cache": "off"})
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        store.put(key, engine, replace=retrain, job=spec.name, created=created)
        how = "retrained" if retrain else "stored"
        return TableFitted(engine, {"model_cache": how, "model_key": key})

    def sample(
        self,
        fitted: TableFitted,
        prepared: TablePrepared,
        spec: JobSpec,
        *,
        staging: Path,
        execute: Execute,
        run_id: str,
    ) -> Sampled:
        """Sample, write and count expectations partition by partition (`execute` runs them
        here or on a cluster); keep the seeded rows the statistical checks compare."""
        contract, batches = prepared.contract, prepared.batches
        identifiers = Identifiers.for_run(contract, prepared.typed, seed=spec.sample.seed)
        planned = sum(b.rows for b in batches)
        partitions = plan_work(spec, contract, identifiers, batches, staging, prepared.row_filter)
        _log.info("sampling %d rows in %d partitions", planned, len(partitions))
        done = execute(partial(run_partition, engine=fitted.engine), partitions)
        staged = StagedParts(tuple(r.path for r in done), sum(r.rows for r in done))
        results: list[CheckResult] = []
        if spec.checks.expectations.enabled:
            results.append(judge([r.expectations for r in done], expected_rows=planned))
        filtered = _filtered(combined(done), prepared, spec)
        seen = evidence(
            pd.concat([r.check_rows for r in done], ignore_index=True),
            real=prepared.typed,
            train=prepared.train,
            holdout=prepared.holdout,
            batches=batches,
            weights=prepared.weights,
            fair=prepared.fair,
            filtered=filtered,
            seed=spec.sample.seed,
        )
        return Sampled(staged, results, seen)

    def check_inputs(
        self,
        name: str,
        prepared: TablePrepared,
        fitted: TableFitted,
        sampled: Sampled,
        spec: JobSpec,
        done: Mapping[str, CheckResult],
    ) -> CheckInputs | None:
        return check_inputs(name, sampled.evidence, prepared.contract, spec)

    def run_info(
        self,
        source: TableSource,
        prepared: TablePrepared,
        fitted: TableFitted,
        sampled: Sampled,
        spec: JobSpec,
    ) -> dict[str, Any]:
        engine = fitted.engine.info()
        seen: TableEvidence = sampled.evidence
        charts = distributions(
            seen.real_train, seen.synthetic, prepared.contract, min_count=spec.report.min_count
        )
        return {
            "run": {
                "source_fingerprint": prepared.contract.fingerprint,
                "engine": engine.get("engine", spec.model.engine),
                "engine_params": engine.get("params", {}),
                "fit_seconds": engine.get("fit_seconds"),
                "model_cache": fitted.info.get("model_cache"),
                "differential_privacy": engine.get("differential_privacy"),
                # per written text column: epochs, validation loss, texts cut at max_length,
                # what stopped the fit, seconds (numbers only)
                "text_models": engine.get("text"),
                "value_protection": prepared.protection.report(),
                "train_rows": len(prepared.train),
                "holdout_rows": len(prepared.holdout),
            },
            "contract": prepared.contract.summary(),
            "contract_notes": list(prepared.contract.notes),
            "distributions": charts,
            "report": {"min_count": spec.report.min_count},
        }

    def render(self, metrics: Mapping[str, Any]) -> str:
        from validation.report import render

        return render(dict(metrics))

    def partition_by(self, spec: JobSpec) -> list[str]:
        return list(spec.output.partition_by)


def _protect(train: pd.DataFrame, contract: Contract, spec: JobSpec, plan: SampleSpec):
    """The training rows with rare values replaced, before anything is planned or fitted on
    them; a plan that asks for a protected category is a SpecError naming the column."""
    settings = spec.model.value_protection
    exact = spec.model.params.get("exact_up_to")  # numbers our codec keeps exactly: categories
    protection = protect_values(
        train,
        contract,
        min_count=settings.min_count,
        seed=spec.sample.seed,
        enabled=settings.enabled,
        discrete_up_to=max(exact, DISCRETE_UP_TO) if isinstance(exact, int) else DISCRETE_UP_TO,
    )
    protection.check_plan(plan, contract)
    done = protection.report()
    if done["enabled"]:
        _log.info(
            "value protection: %d rare values replaced and %d + %d numbers clipped in %d "
            "training rows",
            done["protected_values"],
            done["clipped_low"],
            done["clipped_high"],
            done["rows_changed"],
        )
    return protection


def _plan(
    plan: SampleSpec, train: pd.DataFrame, contract: Contract, min_count: int
) -> tuple[list[Batch], np.ndarray, FairPlan | None]:
    """Seeded batches; with rebalance or parity the unconditioned rows become conditioned cells.
    Also the weights on the training rows that say what each group should look like."""
    cells, fair = None, None
    if plan.rebalance or plan.parity:
        rows = unconditioned_rows(plan, default_rows=contract.rows)
        cells, fair = fair_cells(plan, train, contract, rows, min_count=min_count)
        _log.info("fair sampling: %d conditioned cells", len(cells))
    groups = plan_groups(plan, default_rows=contract.rows, cells=cells)
    batches = plan_batches(plan, default_rows=contract.rows, cells=cells)
    return batches, plan_weights(groups, train), fair


def _privacy_filter(
    train: pd.DataFrame, holdout: pd.DataFrame, contract: Contract, spec: JobSpec
) -> tuple[RowFilter, float]:
    """The distance floor below which a sampled row is replaced (the holdout's low tail)."""
    settings = spec.sample.privacy_filter
    guard = privacy.DistanceGuard.fit(train, holdout, contract, settings.quantile)
    _log.info(
        "privacy filter: rows closer to training than the holdout's %.0f%% quantile (%.4f) are "
        "replaced",
        100 * settings.quantile,
        guard.threshold,
    )
    return RowFilter(guard.keep, max_rounds=settings.max_rounds), guard.threshold


def _filtered(
    tally: dict[str, Any], prepared: TablePrepared, spec: JobSpec
) -> dict[str, Any] | None:
    if prepared.row_filter is None or prepared.floor is None:
        return None
    _log.info(
        "privacy filter replaced %d rows (%d could not be replaced)",
        tally["replaced"],
        tally["shortfall"],
    )
    return {
        **tally,
        "max_rounds": prepared.row_filter.max_rounds,
        "quantile": spec.sample.privacy_filter.quantile,
        "distance_floor": round(prepared.floor, 4),
    }
