"""Image quality: conditional accuracy (synthetic images recognised as the class they were asked
for), overall and per class, and FID / KID / PRDC in the judge's features, holdout against synthetic
images on equal-sized seeded samples (PRDC and FID depend on the sizes)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from schemas.image_spec import ImageQualityChecks
from synth.image.cells import MISSING
from validation import noise
from validation.image_metrics import embed, fid, kid, prdc
from validation.images.sides import ImageContract, ImageSide, Judge, Sample, pick
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "image_quality"


def check(
    real: ImageSide,
    synthetic: ImageSide,
    holdout: ImageSide,
    *,
    contract: ImageContract,
    thresholds: ImageQualityChecks,
    seed: int = 0,
) -> CheckResult:
    """Conditional accuracy (overall, per class) and FID / KID / PRDC in the classifier's features,
    holdout against synthetic images on equal-sized samples. `real` (the training images) against
    holdout images gives a reference, reported only: the classifier saw them. With sensitive
    groups (on the holdout and synthetic sides), accuracy and coverage per group go to
    `charts["per_group"]` for the bias check to judge."""
    cfg, clf = thresholds, contract.judge
    judge, start = Judge(cfg.significance), time.perf_counter()
    if min(len(holdout.images), len(synthetic.images), len(real.images)) <= cfg.k:
        return CheckResult(NAME, False, {}, ("too few images to compare",))
    rng = np.random.default_rng(seed)
    honest = Sample.of(clf, holdout.images, holdout.labels, cfg.max_images, rng)
    fake = Sample.of(clf, synthetic.images, synthetic.labels, cfg.max_images, rng)
    acc, acc_h = fake.accuracy(), honest.accuracy()
    limit = min(cfg.min_conditional_accuracy, acc_h)
    judge.floor(
        "conditional accuracy: synthetic images recognised as their asked class",
        acc,
        limit,
        noise.se_share(acc, len(fake.hit)),
        f"conditional accuracy {acc:.3f} < {limit:.3f} (min_conditional_accuracy, capped at the "
        f"holdout's {acc_h:.3f})",
    )
    n = min(len(honest.hit), len(fake.hit))
    r, f = honest.take(n, rng), fake.take(n, rng)
    found, fid_value = prdc(r, f, k=cfg.k), fid(r, f)
    kid_mean, kid_std = kid(r, f, seed=seed)
    for name in ("coverage", "precision", "recall"):
        value, floor = found[name], getattr(cfg, f"min_{name}")
        why = f"{name} {value:.3f} < {floor} (min_{name})"
        se = noise.se_share(value, n)
        judge.floor(f"PRDC {name} (k={cfg.k}, {n} images a side)", value, floor, se, why)
    judge.ceiling("FID", fid_value, cfg.max_fid, 0.0, f"FID {fid_value:.3f} > {cfg.max_fid}")
    judge.ceiling("KID", kid_mean, cfg.max_kid, kid_std, f"KID {kid_mean:.4f} > {cfg.max_kid}")
    details = [
        _class_row(c, name, honest, fake, cfg, judge, rng)
        for c, name in enumerate(contract.classes)
    ]
    t = embed(clf, real.images[pick(len(real.images), n, rng)])
    reference = {"fid": fid(t, r), **prdc(t, r, k=cfg.k)}
    metrics = {
        "conditional_accuracy": round(acc, 4),
        "holdout_accuracy": round(acc_h, 4),
        "fid": round(fid_value, 4),
        "kid": round(kid_mean, 5),
        "kid_std": round(kid_std, 5),
        **{name: round(v, 4) for name, v in found.items()},
        "images": n,
    }
    charts = {
        "per_class_accuracy": {str(row["class"]): row["accuracy"] for row in details},
        "per_group": _group_rows(honest, fake, holdout.groups, synthetic.groups, cfg, rng),
        "measures": judge.rows,
        "train_vs_holdout": {k: round(v, 4) for k, v in reference.items()},
        "seconds": round(time.perf_counter() - start, 3),
    }
    reasons = tuple(judge.reasons)
    return CheckResult(NAME, not reasons, metrics, reasons, tuple(details), charts)


def _class_row(
    c: int,
    name: str,
    honest: Sample,
    fake: Sample,
    cfg: ImageQualityChecks,
    judge: Judge,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Counts, accuracy (judged against the holdout's on the class) and coverage of one class."""
    honest, fake = honest.of_class(c), fake.of_class(c)
    n_h, n_s = len(honest.hit), len(fake.hit)
    row: dict[str, Any] = {"class": name, "synthetic images": n_s, "holdout images": n_h}
    row["accuracy"] = round(fake.accuracy(), 4) if n_s else None
    row["holdout accuracy"] = round(honest.accuracy(), 4) if n_h else None
    row["coverage"] = None
    if n_s and n_h:
        acc, limit = fake.accuracy(), min(cfg.min_class_accuracy, honest.accuracy())
        judge.floor(
            f"class {name!r}: conditional accuracy",
            acc,
            limit,
            noise.se_share(acc, n_s),
            f"class {name!r}: conditional accuracy {acc:.3f} < {limit:.3f} (min_class_accuracy, "
            "capped at the holdout's on that class)",
        )
    m = min(n_h, n_s)
    if m > cfg.k:
        cov = prdc(honest.take(m, rng), fake.take(m, rng), k=cfg.k)["coverage"]
        row["coverage"] = round(cov, 4)
        judge.floor(
            f"class {name!r}: PRDC coverage",
            cov,
            cfg.min_class_coverage,
            noise.se_share(cov, m),
            f"class {name!r}: coverage {cov:.3f} < {cfg.min_class_coverage} (min_class_coverage)",
        )
    return row


def _group_rows(
    honest: Sample,
    fake: Sample,
    holdout_groups: pd.DataFrame | None,
    synthetic_groups: pd.DataFrame | None,
    cfg: ImageQualityChecks,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Accuracy and coverage of every sensitive group with `min_group_images` holdout images."""
    if holdout_groups is None or synthetic_groups is None:
        return []
    rows = []
    for column in holdout_groups.columns:
        real_values = holdout_groups[column].astype("string").fillna(MISSING)
        fake_values = synthetic_groups[column].astype("string").fillna(MISSING)
        for value, seen in real_values.value_counts().sort_index().items():
            if seen < cfg.min_group_images:
                continue
            r, f = honest.of_group(real_values, value), fake.of_group(fake_values, value)
            m = min(len(r.hit), len(f.hit))
            rows.append(
                {
                    "column": column,
                    "group": value,
                    "holdout images": len(r.hit),
                    "synthetic images": len(f.hit),
                    "accuracy": round(f.accuracy(), 4) if len(f.hit) else None,
                    "holdout accuracy": round(r.accuracy(), 4) if len(r.hit) else None,
                    "coverage": (
                        round(prdc(r.take(m, rng), f.take(m, rng), k=cfg.k)["coverage"], 4)
                        if m > cfg.k
                        else None
                    ),
                }
            )
    return rows
