"""The `synthesize-images` flow: a labelled image set in, synthetic images per class out, gated.

ingest -> stratified split -> a judge classifier on the training images -> fit (a conditional GAN or
VAE, watched every epoch for collapse and divergence) -> sample per class -> quality, privacy, bias
and training checks -> gate -> Parquet with Hugging Face image structs + report, atomically.

Like the table flow, no task persists images through Prefect; parameters are paths and numbers.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.steps import step
from flows.synthesize import run_summary
from schemas import GateFailed, load_spec
from schemas.errors import SpecError
from schemas.image_spec import ImageJobSpec
from schemas.load import flag_overrides
from synth.image import data as image_data
from synth.image import output as image_output
from synth.image import train as trainer
from synth.image.cells import Cells, conditioning_cells
from synth.io.lineage import source_fingerprint_of
from synth.io.publish import RunFolders, StagedParts, publish
from synth.runinfo import new_run_id, package_versions
from validation import CheckResult, Verdict, fold, image_metrics
from validation import images as checks
from validation.image_report import render

__all__ = ["synthesize_images"]

_GRID = 8  # synthetic samples per class in the report


@step("ingest", retries=2)
def ingest(spec: ImageJobSpec) -> image_data.ImageSet:
    source, settings = spec.source, spec.images
    if source.kind == "builtin":
        return image_data.builtin(source.name, size=settings.size, channels=settings.channels)
    if source.kind == "image_folder":
        return image_data.read_image_folder(
            source.path,
            size=settings.size,
            channels=settings.channels,
            on_error=settings.on_error,
            extra_csv=source.extra_csv,
            extra_key=source.extra_key,
        )
    return image_data.read_image_parquet(
        source.path,
        image_column=source.image_column,
        label_column=source.label_column,
        size=settings.size,
        channels=settings.channels,
        on_error=settings.on_error,
        extra_columns=source.extra_columns,
    )


@step("split")
def split(cells: Cells, images: image_data.ImageSet, spec: ImageJobSpec):
    """Seeded, stratified by conditioning cell (class x sensitive groups) where every cell has two
    images or more, else by class: every class is in both parts."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(images.labels))
    by_cell = np.bincount(cells.index).min() >= 2
    train, holdout = train_test_split(
        index,
        test_size=spec.split.holdout,
        random_state=spec.split.seed,
        stratify=cells.index if by_cell else images.labels,
    )
    return np.sort(train), np.sort(holdout)


@step("judge")
def judge(x, y, hx, hy, classes: int, spec: ImageJobSpec):
    """The classifier every image check (and the training monitor) looks through."""
    return image_metrics.fit_classifier(
        x, y, classes, seed=spec.split.seed, holdout_images=hx, holdout_labels=hy
    )


@step("fit")
def fit(x, cell_y, cell_labels, spec: ImageJobSpec, clf) -> trainer.TrainResult:
    """Train on conditioning cells (`cell_y`, whose classes are `cell_labels`)."""
    from synth.image.models import GANConfig, VAEConfig

    kind = spec.model.engine
    config_type = GANConfig if kind == "cgan" else VAEConfig
    try:
        config = config_type(
            image_size=spec.images.size,
            channels=spec.images.channels,
            classes=len(cell_labels),
            **spec.model.params,
        )
    except TypeError as exc:
        raise SpecError(f"model.params: {exc}") from None
    settings = trainer.TrainSettings(
        epochs=spec.model.epochs,
        batch_size=spec.model.batch_size,
        lr=spec.model.lr or (2e-4 if kind == "cgan" else 1e-3),
        seed=spec.sample.seed,
        device=spec.model.device,
        patience=spec.model.patience,
        progress=False,
    )
    logger = get_run_logger()
    monitor = _monitor(clf, x, cell_y, cell_labels, seed=spec.sample.seed)

    def logged(model, epoch: int) -> dict[str, Any]:
        scores = monitor(model, epoch)
        logger.info(
            "epoch %d: %s",
            epoch,
            ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float)),
        )
        return scores

    return trainer.train(kind, x, cell_y, config, settings, monitor=logged)


def _monitor(clf, x, cell_y, cell_labels, *, seed: int):
    """Each epoch: 32 samples per cell; conditional accuracy and class coverage through the judge,
    within-cell diversity against the real images in the judge's features; collapse when any cell
    stops varying."""
    import torch

    from synth.image.models import ConditionalVAE

    diversity = trainer.diversity_monitor(
        x, cell_y, per_class=32, seed=seed, features=lambda batch: image_metrics.embed(clf, batch)
    )
    asked = torch.arange(len(cell_labels)).repeat_interleave(32)
    wanted = torch.as_tensor(cell_labels)[asked]
    classes = len(np.unique(cell_labels))

    def watch(model, epoch: int) -> dict[str, Any]:
        scores = diversity(model, epoch)
        fake = trainer.sample(model, asked, seed=seed + 1)
        with torch.no_grad():
            predicted = clf(fake).argmax(1)
        accuracy = float((predicted == wanted).float().mean())
        coverage = float(len(torch.unique(predicted)) / classes)
        spread = min(1.0, float(scores.get("diversity", 1.0)))
        # a VAE keeps its held-out loss as the score (a sound, low-noise selection signal); a GAN's
        # losses are not one, so its score is what the judge sees: accuracy times spread
        score = scores["score"] if isinstance(model, ConditionalVAE) else accuracy * spread
        return {
            **scores,
            "conditional_accuracy": accuracy,
            "class_coverage": coverage,
            "score": score,
        }

    return watch


@step("sample")
def sample(result: trainer.TrainResult, counts: dict[int, int], seed: int):
    """Images for `counts` per conditioning cell, and the cell of each."""
    import torch

    cells = torch.cat([torch.full((n,), c, dtype=torch.long) for c, n in sorted(counts.items())])
    return trainer.sample(result.model, cells, seed=seed), cells


@step("privacy filter")
def privacy_filter(result: trainer.TrainResult, made, fake, x, hx, spec: ImageJobSpec):
    """Replace synthetic images closer to a training image than the holdout's `quantile` of
    nearest-training distances (or equal to one) with fresh draws for the same cell, seeded by
    round, for up to `max_rounds` rounds. Images still too close stay, and fail the gate."""
    settings = spec.sample.privacy_filter
    guard = image_metrics.DistanceGuard(x, hx, quantile=settings.quantile)
    fake, replaced, left = trainer.redraw(
        result.model, made, fake, guard.keep, seed=spec.sample.seed, rounds=settings.max_rounds
    )
    get_run_logger().info(
        "privacy filter: %d images closer to training than the holdout's %.0f%% quantile "
        "replaced, %d could not be",
        replaced,
        100 * settings.quantile,
        left,
    )
    reasons = (
        (
            f"privacy filter: {left} images stayed closer to a training image than the holdout's "
            f"{settings.quantile:.0%} quantile after {settings.max_rounds} rounds",
        )
        if left
        else ()
    )
    metrics = {
        "threshold": round(guard.threshold, 4),
        "quantile": settings.quantile,
        "replaced": replaced,
        "not_replaced": left,
    }
    return fake, CheckResult("privacy_filter", not left, metrics, reasons)


def _counts(spec: ImageJobSpec, images: image_data.ImageSet, train: np.ndarray) -> dict[int, int]:
    real = np.bincount(images.labels[train], minlength=len(images.classes))
    counts = {c: int(spec.sample.per_class or real[c]) for c in range(len(images.classes))}
    for name, n in spec.sample.counts.items():
        if name not in images.classes:
            raise SpecError(f"sample.counts: class {name!r} is not in the data")
        counts[images.classes.index(name)] = n
    return counts


def _training_check(result: trainer.TrainResult, collapse_fails: bool) -> CheckResult:
    reasons = []
    if result.diverged:
        reasons.append(f"training diverged: {result.reason}")
    if result.collapsed and collapse_fails:
        reasons.append(result.reason or "mode collapse")
    last = result.history[-1] if result.history else {}
    metrics = {
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "stopped_early": result.stopped_early,
        "collapsed": result.collapsed,
        "diverged": result.diverged,
        "images_per_s": last.get("images_per_s"),
    }
    return CheckResult("training", not reasons, metrics, tuple(reasons))


@step("gate")
def gate(results: list[CheckResult]) -> Verdict:
    return fold(results)


@step("publish", retries=1)
def publish_run(folders: RunFolders, fake, labels, groups, classes, verdict, metrics, spec) -> str:
    staged = folders.staged_parts / "part-00000.parquet"
    staged.parent.mkdir(parents=True, exist_ok=True)
    text = {"synthetic": "true", "synth:job": spec.name, "synth:run_id": folders.run_id}
    image_output.write_image_parquet(
        staged,
        image_data.from_tensor(fake),
        labels.numpy(),
        classes,
        text=text,
        extra=groups,
        compression="none",
    )
    documents = {
        "metrics.json": json.dumps(metrics, indent=2, default=str),
        "report.html": render(metrics),
    }
    meta = {
        **{k: metrics["run"][k] for k in ("job", "run_id", "spec_hash", "engine", "seed")},
        "verdict": verdict.status,
        "metrics": verdict.headline(),
        "versions": metrics["run"]["versions"],
    }
    target = publish(
        folders,
        StagedParts((staged,), len(labels)),
        passed=verdict.passed,
        metadata=meta,
        documents=documents,
        compression=spec.output.compression,
        keep_quarantined_rows=spec.output.keep_quarantined_rows,
    )
    return str(target)


@flow(name="synthesize-images", persist_result=False, validate_parameters=True)
def synthesize_images(
    spec_path: str,
    source: str | None = None,
    out: str | None = None,
    engine: str | None = None,
    rows: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Run one image job: ingest, split, judge, fit, sample, check, gate, publish (or quarantine)."""
    spec = load_spec(
        spec_path,
        overrides=flag_overrides(source=source, out=out, engine=engine, rows=rows, seed=seed),
    )
    folders = RunFolders.new(spec.output.path, spec.name, new_run_id())
    images = ingest(spec)
    sensitive = list(spec.images.sensitive)
    cells = conditioning_cells(images, sensitive)
    train, holdout = split(cells, images, spec)
    x, y = image_data.to_tensor(images.images[train]), _long(images.labels[train])
    hx, hy = image_data.to_tensor(images.images[holdout]), _long(images.labels[holdout])
    classes = len(images.classes)
    clf, judge_info = judge(x, y, hx, hy, classes, spec)
    # a bad class name fails before minutes of training
    counts = cells.allot(_counts(spec, images, train), train)
    started = time.perf_counter()
    result = fit(x, _long(cells.index[train]), cells.labels, spec, clf)
    fit_seconds = time.perf_counter() - started
    fake, made = sample(result, counts, spec.sample.seed)
    labels = _long(cells.labels[made.numpy()])
    filtered = None
    if spec.sample.privacy_filter.enabled:
        fake, filtered = privacy_filter(result, made, fake, x, hx, spec)
    groups = cells.groups.iloc[made.numpy()].reset_index(drop=True)
    real_groups = {
        part: images.extra.iloc[rows][sensitive].reset_index(drop=True) if sensitive else None
        for part, rows in (("train", train), ("holdout", holdout))
    }
    results = [_training_check(result, spec.checks.collapse)]
    if filtered is not None:
        results.append(filtered)
    names = list(images.classes)
    quality = None
    if spec.checks.quality.enabled or spec.checks.bias.enabled:  # bias reads per-class quality
        quality = checks.quality_check(
            x,
            y,
            hx,
            hy,
            fake,
            labels,
            names,
            clf,
            spec.checks.quality,
            holdout_groups=real_groups["holdout"],
            synthetic_groups=groups if sensitive else None,
        )
    if spec.checks.quality.enabled:
        results.append(quality)
    if spec.checks.privacy.enabled:
        results.append(checks.privacy_check(x, hx, fake, spec.checks.privacy))
    if spec.checks.bias.enabled:
        results.append(
            checks.bias_check(
                labels,
                y,
                names,
                quality.charts.get("per_class_accuracy", {}),
                real_groups["train"],
                groups if sensitive else None,
                sensitive,
                spec.checks.bias,
                per_group=quality.charts.get("per_group", []),
            )
        )
    verdict = gate(results)
    metrics = {
        "run": {
            "job": spec.name,
            "run_id": folders.run_id,
            "kind": "images",
            "spec_hash": spec.fingerprint(),
            "source_fingerprint": source_fingerprint_of(spec),
            "source": getattr(spec.source, "name", None) or str(getattr(spec.source, "path", "")),
            "engine": spec.model.engine,
            "engine_params": dict(spec.model.params),
            "seed": spec.sample.seed,
            "rows": len(labels),
            "sensitive": sensitive,
            "conditioning_cells": len(cells),
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "skipped_images": images.skipped,
            "fit_seconds": round(fit_seconds, 2),
            "judge": judge_info,
            "versions": package_versions(),
        },
        "verdict": verdict.to_dict(),
        "training": {"history": result.history, "best_epoch": result.best_epoch},
        "samples": _samples(fake, labels, images.classes),
    }
    try:
        folders.begin()  # sweeps dead runs' staging; ours is private and names its owner
        target = publish_run(folders, fake, labels, groups, images.classes, verdict, metrics, spec)
    finally:
        folders.discard_staging()
    summary = run_summary(spec, folders, target, verdict, len(labels))
    create_markdown_artifact(
        key=f"synth-{spec.name.replace('_', '-')}",
        markdown=f"# synth images: {spec.name} ({summary['status']})\n\n"
        + "\n".join(f"- {r.name}: {json.dumps(r.metrics)}" for r in verdict.results)
        + f"\n\n[report]({Path(summary['report']).as_uri()})",
        description=f"synth run {folders.run_id}",
    )
    if not verdict.passed:
        raise GateFailed(
            f"gate failed, run quarantined at {target}: {'; '.join(verdict.reasons)}", summary
        )
    return summary


def _long(values: np.ndarray):
    import torch

    return torch.as_tensor(values, dtype=torch.long)


def _samples(fake, labels, classes: tuple[str, ...]) -> dict[str, list[str]]:
    """The first few synthetic images of each class as PNG data URIs for the report."""
    images = image_data.from_tensor(fake)
    out: dict[str, list[str]] = {}
    for c, name in enumerate(classes):
        picked = np.flatnonzero(labels.numpy() == c)[:_GRID]
        out[name] = [
            "data:image/png;base64,"
            + base64.b64encode(
                image_output.png_bytes(images[i], text={"synthetic": "true"})
            ).decode()
            for i in picked
        ]
    return out
