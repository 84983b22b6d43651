"""The `synthesize` flow: one job run of any modality, one task per step. Composition only.

The spec's `kind` picks the modality once (synth/modalities); it says how to read, prepare, fit and
sample its data and what its registered checks (validation/registry.py) compare. This flow owns
the shared end of every run: the gate, metrics.json, the Parquet metadata, publish or quarantine,
and the summary artifacts.

Data never passes through Prefect's result store: every task that touches rows has persistence off
and no cache policy, and flow parameters are references (paths, names, numbers), never data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.progress import track
from flows.scale import executor
from flows.steps import sanitized, step, synth_logs_to
from schemas import GateFailed
from schemas.held import resolve_spec
from schemas.load import flag_overrides
from synth.io.publish import RunFolders, publish
from synth.modalities import CheckInputs, Modality, Sampled, modality_for
from synth.runinfo import build_metrics, new_run_id, parquet_metadata
from validation import CheckResult, Verdict, fold
from validation.registry import Check, checks_for

__all__ = ["run_summary", "synthesize"]


@step("ingest", retries=2)
def ingest(modality: Modality, spec: Any) -> Any:
    return modality.read(spec)


@step("prepare")
def prepare(modality: Modality, source: Any, spec: Any) -> Any:
    return modality.prepare(source, spec)


@step("fit")
def fit(modality: Modality, prepared: Any, spec: Any, retrain: bool) -> Any:
    return modality.fit(prepared, spec, retrain=retrain)


@step("check")
def check(run: Check, inputs: CheckInputs) -> CheckResult:
    return run(
        inputs.real,
        inputs.synthetic,
        inputs.holdout,
        contract=inputs.contract,
        thresholds=inputs.thresholds,
        **inputs.keywords,
    )


@step("metrics")
def measure(
    modality: Modality,
    made: tuple[Any, Any, Any, Sampled],
    spec: Any,
    folders: RunFolders,
    verdict: Verdict,
) -> dict[str, Any]:
    """metrics.json: the run's identity, the verdict and the modality's sections (its charts
    read the data: a step, so an error is sanitised like any other)."""
    data, prepared, fitted, sampled = made
    return build_metrics(
        spec=spec,
        run_id=folders.run_id,
        kind=modality.kind,
        rows=sampled.staged.rows,
        verdict=verdict.to_dict(),
        info=modality.run_info(data, prepared, fitted, sampled, spec),
    )


@step("gate")
def gate(results: list[CheckResult]) -> Verdict:
    return fold(results)


@step("publish", retries=1)
def publish_run(
    modality: Modality,
    folders: RunFolders,
    sampled: Sampled,
    verdict: Verdict,
    metrics: dict[str, Any],
    spec: Any,
) -> str:
    documents = {
        "metrics.json": json.dumps(metrics, indent=2, default=str),
        "report.html": modality.render(metrics),
    }
    target = publish(
        folders,
        sampled.staged,
        passed=verdict.passed,
        metadata=parquet_metadata(metrics, verdict.headline()),
        documents=documents,
        compression=spec.output.compression,
        partition_by=modality.partition_by(spec),
        keep_quarantined_rows=spec.output.keep_quarantined_rows,
    )
    return str(target)


def run_checks(
    modality: Modality, prepared: Any, fitted: Any, sampled: Sampled, spec: Any
) -> list[CheckResult]:
    """What sampling judged already, then every registered check of the modality the spec
    leaves on, in the registry's order, each its own task."""
    done: dict[str, CheckResult] = {}
    for name, registered in checks_for(modality.kind).items():
        with sanitized(name):  # choosing the inputs reads the data too
            inputs = modality.check_inputs(name, prepared, fitted, sampled, spec, done)
        if inputs is not None:
            done[name] = check.with_options(name=name)(registered, inputs)
    return [*sampled.results, *done.values()]


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
    """Run one job: ingest, prepare, fit (or reuse the stored model unless `retrain`), sample,
    check, gate, publish (or quarantine)."""
    overrides = flag_overrides(
        source=source, out=out, engine=engine, rows=rows, seed=seed, dask_address=dask_address
    )
    spec = resolve_spec(spec_path, overrides)  # a file, or a spec a notebook holds (synth.api)
    modality = modality_for(spec)
    folders = RunFolders.new(spec.output.path, spec.name, new_run_id())
    data = ingest(modality, spec)
    prepared = prepare(modality, data, spec)
    try:
        folders.begin()  # sweeps dead runs' staging; ours is private and names its owner
        fitted, sampled = _fit_and_sample(modality, prepared, spec, folders, retrain)
        verdict = gate(run_checks(modality, prepared, fitted, sampled, spec))
        metrics = measure(modality, (data, prepared, fitted, sampled), spec, folders, verdict)
        target = publish_run(modality, folders, sampled, verdict, metrics, spec)
    finally:
        folders.discard_staging()
    return _finish(spec, folders, target, verdict, sampled.staged.rows)


def _fit_and_sample(
    modality: Modality, prepared: Any, spec: Any, folders: RunFolders, retrain: bool
) -> tuple[Any, Sampled]:
    """Fit, then sample into the run's staging folder; both report progress (epochs, rows)."""
    logger = get_run_logger()
    with track(logger, key_prefix=spec.name, unit=modality.unit):
        fitted = fit(modality, prepared, spec, retrain)
        # not a task: its partitions are (here or on Dask)
        with sanitized("sample"), synth_logs_to(logger):
            sampled = modality.sample(
                fitted,
                prepared,
                spec,
                staging=folders.staged_parts,
                execute=executor(_dask_address(spec)),
                run_id=folders.run_id,
            )
    return fitted, sampled


def _finish(
    spec: Any, folders: RunFolders, target: str, verdict: Verdict, rows: int
) -> dict[str, Any]:
    """The run's summary and markdown artifacts; a failed gate raises with the summary."""
    summary = run_summary(spec, folders, target, verdict, rows)
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


def _dask_address(spec: Any) -> str | None:
    scale = getattr(spec, "scale", None)  # only modalities that fan out have a scale section
    return scale.dask_address if scale is not None else None


def run_summary(
    spec: Any, folders: RunFolders, target: str, verdict: Verdict, rows: int
) -> dict[str, Any]:
    """What `synth run --json` prints, also left as the run's `synth-summary-<job>` artifact so
    `synth request` can report a run a served deployment made: paths and headline aggregates."""
    summary = {
        "status": "published" if verdict.passed else "quarantined",
        "exit_code": 0 if verdict.passed else 1,
        "kind": spec.kind,
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


def _markdown(summary: Mapping[str, Any], verdict: Verdict) -> str:
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
