"""The `synthesize` flow: one job run, one task per step. Tasks are thin wrappers over plain functions.

Data never passes through Prefect's result store: every task that touches rows has persistence off
and no cache policy, and flow parameters are references (paths, names, numbers), never data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.checks import judge_expectations, run_checks
from flows.partitions import combined, plan_work, run_partitions
from flows.steps import step, synth_logs_to
from schemas import Contract, GateFailed, JobSpec, load_spec
from schemas.load import flag_overrides
from schemas.spec import SampleSpec
from synth.fairness import FairPlan, fair_cells, plan_weights
from synth.io import build_contract, read_source, source_fingerprint, split_holdout
from synth.io.model_store import ModelStore, model_key, store_root
from synth.io.publish import RunFolders, StagedParts, check_partitioning, publish
from synth.io.readers import source_label
from synth.io.split import subject_codes
from synth.runinfo import build_metrics, new_run_id, parquet_metadata
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
from validation import (
    CheckResult,
    Verdict,
    fold,
    privacy,
)
from validation.report import render


@step("ingest", retries=2)
def ingest(spec: JobSpec) -> tuple[pd.DataFrame, str]:
    frame = read_source(spec.source)
    return frame, source_fingerprint(spec.source, frame)


@step("contract")
def check_contract(
    frame: pd.DataFrame, spec: JobSpec, fingerprint: str
) -> tuple[Contract, pd.DataFrame, SampleSpec]:
    label = source_label(spec.source)
    contract, typed = build_contract(frame, spec.dataset, label=label, fingerprint=fingerprint)
    check_partitioning(contract, spec.output.partition_by)
    return contract, typed, typed_conditions(spec.sample, contract)


@step("split")
def split(frame: pd.DataFrame, spec: JobSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    return split_holdout(frame, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by)


@step("plan")
def plan_sample(
    plan: SampleSpec, train: pd.DataFrame, contract: Contract, min_count: int
) -> tuple[list[Batch], np.ndarray, FairPlan | None]:
    """Seeded batches; with rebalance or parity the unconditioned rows become conditioned cells.
    Also the weights on the training rows that say what each group should look like."""
    cells, fair = None, None
    if plan.rebalance or plan.parity:
        rows = unconditioned_rows(plan, default_rows=contract.rows)
        cells, fair = fair_cells(plan, train, contract, rows, min_count=min_count)
        get_run_logger().info("fair sampling: %d conditioned cells", len(cells))
    groups = plan_groups(plan, default_rows=contract.rows, cells=cells)
    batches = plan_batches(plan, default_rows=contract.rows, cells=cells)
    return batches, plan_weights(groups, train), fair


@step("value protection")
def protect(train: pd.DataFrame, contract: Contract, spec: JobSpec, plan: SampleSpec) -> Protection:
    """The training rows with rare values replaced, before anything is planned or fitted on them;
    a plan that asks for a protected category is a SpecError naming the column."""
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
        get_run_logger().info(
            "value protection: %d rare values replaced and %d + %d numbers clipped in %d "
            "training rows",
            done["protected_values"],
            done["clipped_low"],
            done["clipped_high"],
            done["rows_changed"],
        )
    return protection


@step("fit")
def fit(
    train: pd.DataFrame, contract: Contract, spec: JobSpec, fingerprint: str, retrain: bool
) -> tuple[Engine, dict[str, Any]]:
    """The stored model for this source, spec and code if there is one (and not `retrain`), else
    a freshly fitted one, which is then stored. Returns it and how it was got."""
    logger = get_run_logger()
    store, key = None, None
    if spec.model.cache:
        with synth_logs_to(logger):  # the store's warnings (a lost key, a bad signature)
            store, key = ModelStore.open(store_root(spec)), model_key(spec, fingerprint)
            engine = None if retrain else store.get(key, spec.model.engine)
        if engine is not None:
            logger.info("reusing stored %s model %s", engine.name, key[:12])
            return engine, {"model_cache": "reused", "model_key": key}
    engine = make_engine(spec.model.engine, spec.model.engine_params())
    logger.info(
        "fitting %s on %d rows x %d modelled columns",
        engine.name,
        len(train),
        len(contract.modelled),
    )
    with synth_logs_to(logger):  # the engine's progress (epochs), if it logs any
        engine.fit(
            train[[c.name for c in contract.modelled]],
            contract,
            seed=spec.sample.seed,
            subjects=subject_codes(train, spec.split.by),
        )
    if store is None:
        return engine, {"model_cache": "off"}
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.put(key, engine, replace=retrain, job=spec.name, created=created)
    return engine, {"model_cache": "retrained" if retrain else "stored", "model_key": key}


@step("privacy filter")
def privacy_filter(train: pd.DataFrame, holdout: pd.DataFrame, contract: Contract, spec: JobSpec):
    """The distance floor below which a sampled row is replaced (the holdout's low tail)."""
    settings = spec.sample.privacy_filter
    guard = privacy.DistanceGuard.fit(train, holdout, contract, settings.quantile)
    get_run_logger().info(
        "privacy filter: rows closer to training than the holdout's %.0f%% quantile (%.4f) are "
        "replaced",
        100 * settings.quantile,
        guard.threshold,
    )
    return RowFilter(guard.keep, max_rounds=settings.max_rounds), guard.threshold


def sample(
    engine: Engine,
    contract: Contract,
    real: pd.DataFrame,
    batches: list[Batch],
    spec: JobSpec,
    folders: RunFolders,
    row_filter: RowFilter | None = None,
) -> tuple[StagedParts, CheckResult | None, pd.DataFrame, dict[str, Any]]:
    """Sample, write and count expectations partition by partition (here or on Dask); returns the
    staged parts, the expectations' verdict, the seeded rows for the statistical checks and the
    privacy filter's tally."""
    identifiers = Identifiers.for_run(contract, real, seed=spec.sample.seed)
    planned = sum(b.rows for b in batches)
    partitions = plan_work(spec, contract, identifiers, batches, folders.staged_parts, row_filter)
    get_run_logger().info("sampling %d rows in %d partitions", planned, len(partitions))
    results = run_partitions(partitions, engine, dask_address=spec.scale.dask_address)
    staged = StagedParts(tuple(r.path for r in results), sum(r.rows for r in results))
    verdict = None
    if spec.checks.expectations.enabled:
        verdict = judge_expectations([r.expectations for r in results], planned)
    check_rows = pd.concat([r.check_rows for r in results], ignore_index=True)
    return staged, verdict, check_rows, combined(results)


@step("gate")
def gate(results: list[CheckResult]) -> Verdict:
    return fold(results)


@step("publish", retries=1)
def publish_run(
    folders: RunFolders, staged: StagedParts, verdict: Verdict, metrics: dict, spec: JobSpec
) -> str:
    documents = {
        "metrics.json": json.dumps(metrics, indent=2, default=str),
        "report.html": render(metrics),
    }
    target = publish(
        folders,
        staged,
        passed=verdict.passed,
        metadata=parquet_metadata(metrics, verdict.headline()),
        documents=documents,
        compression=spec.output.compression,
        partition_by=spec.output.partition_by,
        keep_quarantined_rows=spec.output.keep_quarantined_rows,
    )
    return str(target)


@flow(name="synthesize", persist_result=False, validate_parameters=True)
def synthesize(
    spec_path: str,
    source: str | None = None,
    out: str | None = None,
    engine: str | None = None,
    rows: int | None = None,
    seed: int | None = None,
    retrain: bool = False,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Run one job: ingest, contract, split, fit (or reuse the stored model unless `retrain`),
    sample, check, gate, publish (or quarantine)."""
    spec = load_spec(
        spec_path,
        overrides=flag_overrides(
            source=source, out=out, engine=engine, rows=rows, seed=seed, dask_address=dask_address
        ),
    )
    folders = RunFolders.new(spec.output.path, spec.name, new_run_id())
    frame, fingerprint = ingest(spec)
    contract, typed, plan = check_contract(frame, spec, fingerprint)
    train, holdout = split(typed, spec)
    protected = protect(train, contract, spec, plan)  # checks still compare with the real rows
    group_floor = max(spec.checks.bias.min_count, spec.report.min_count)
    batches, weights, fair = plan_sample(plan, protected.train, contract, group_floor)
    try:
        folders.begin()  # sweeps dead runs' staging; ours is private and names its owner
        model, cache = fit(protected.train, contract, spec, fingerprint, retrain)
        row_filter, floor = None, None
        if spec.sample.privacy_filter.enabled:
            row_filter, floor = privacy_filter(train, holdout, contract, spec)
        staged, expected, synthetic, tally = sample(
            model, contract, typed, batches, spec, folders, row_filter
        )
        filtered = None
        if row_filter is not None:
            filtered = {
                **tally,
                "max_rounds": row_filter.max_rounds,
                "quantile": spec.sample.privacy_filter.quantile,
                "distance_floor": round(floor, 4),
            }
            get_run_logger().info(
                "privacy filter replaced %d rows (%d could not be replaced)",
                tally["replaced"],
                tally["shortfall"],
            )
        results, charts = run_checks(
            synthetic, train, holdout, typed, contract, spec, filtered, weights, fair, batches
        )
        verdict = gate([*([expected] if expected is not None else []), *results])
        metrics = build_metrics(
            spec=spec,
            run_id=folders.run_id,
            contract=contract,
            engine_info={**model.info(), **cache, "value_protection": protected.report()},
            rows=staged.rows,
            train_rows=len(train),
            holdout_rows=len(holdout),
            verdict=verdict.to_dict(),
            distributions=charts,
            min_count=spec.report.min_count,
        )
        target = publish_run(folders, staged, verdict, metrics, spec)
    finally:
        folders.discard_staging()
    summary = run_summary(spec, folders, target, verdict, staged.rows)
    create_markdown_artifact(
        key=f"synth-{spec.name.replace('_', '-')}",
        markdown=_markdown(summary, verdict),
        description=f"synth run {folders.run_id}",
    )
    if not verdict.passed:
        raise GateFailed(
            f"gate failed, run quarantined at {target}: {'; '.join(verdict.reasons)}", summary
        )
    return summary


def run_summary(
    spec: JobSpec, folders: RunFolders, target: str, verdict: Verdict, rows: int
) -> dict[str, Any]:
    """What `synth run --json` prints, also left as the run's `synth-summary-<job>` artifact so
    `synth request` can report a run a served deployment made: paths and headline aggregates."""
    summary = {
        "status": "published" if verdict.passed else "quarantined",
        "exit_code": 0 if verdict.passed else 1,
        "job": spec.name,
        "run_id": folders.run_id,
        "output": target,
        "data": f"{target}/data" if (Path(target) / "data").is_dir() else None,
        "report": f"{target}/report.html",
        "latest": str(folders.latest) if verdict.passed else None,
        "rows": rows,
        "reasons": list(verdict.reasons),
        "metrics": verdict.headline(),
    }
    create_markdown_artifact(
        key=f"synth-summary-{spec.name.replace('_', '-')}",
        markdown="```json\n" + json.dumps(summary, default=str) + "\n```",
        description="synth run summary (paths and headline metrics)",
    )
    return summary


def _markdown(summary: dict[str, Any], verdict: Verdict) -> str:
    lines = [
        f"# synth: {summary['job']} ({summary['status']})",
        "",
        f"- run: `{summary['run_id']}`",
        f"- rows: {summary['rows']}",
        f"- report: [{summary['report']}]({Path(summary['report']).as_uri()})",
        "",
        "| check | passed | metrics |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.passed} | {json.dumps(r.metrics)} |" for r in verdict.results]
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines)
