"""Image privacy: each synthetic image's pixel distance to its nearest training image against the
holdout images' distances (the honest baseline), and exact and near duplicates of training images."""

from __future__ import annotations

import time

import numpy as np

from schemas.image_spec import ImagePrivacyChecks
from validation import noise
from validation.distance import distance_histogram
from validation.image_metrics import memorisation
from validation.images.sides import ImageContract, ImageSide, Judge, pick
from validation.result import CheckResult

__all__ = ["NAME", "check"]

NAME = "image_privacy"


def check(
    real: ImageSide,
    synthetic: ImageSide,
    holdout: ImageSide,
    *,
    contract: ImageContract,
    thresholds: ImagePrivacyChecks,
    seed: int = 0,
) -> CheckResult:
    """Memorisation: synthetic images closer to a training image (`real`) than the holdout's
    `quantile` of nearest-training distances, and exact / near duplicates, each against the
    holdout's share. Labels, groups and the contract are not read: a copy is a copy."""
    cfg = thresholds
    train, unseen, fakes = real.images, holdout.images, synthetic.images
    if len(train) < 1 or len(unseen) < 2 or not len(fakes):
        return CheckResult(
            NAME, False, {}, ("privacy needs training, holdout and synthetic images",)
        )
    start = time.perf_counter()
    fakes = fakes[pick(len(fakes), cfg.max_images, np.random.default_rng(seed))]
    m = memorisation(train, unseen, fakes, quantile=cfg.quantile)
    judge = Judge(cfg.significance)
    n_s, n_h = m["synthetic_images"], m["holdout_images"]
    for key, limit, what in (
        (
            "memorised_share",
            cfg.max_memorised_excess,
            f"closer than the holdout's {cfg.quantile:.0%} quantile",
        ),
        ("exact_duplicates", cfg.max_duplicate_excess, "identical to"),
        ("near_duplicates", cfg.max_duplicate_excess, "within one grey level of"),
    ):
        s, h = m[key], m[f"{key}_holdout"]
        judge.ceiling(
            f"{key.replace('_', ' ')}: synthetic share minus the holdout's",
            s - h,
            limit,
            noise.se_shares(s, n_s, h, n_h),
            f"{s:.1%} of synthetic images are {what} a training image against {h:.1%} of holdout "
            f"images (excess {s - h:.3f} > {limit})",
        )
    count, most = m["exact_duplicate_count"], cfg.max_exact_duplicates
    if most is not None and count > most:
        judge.reasons.append(f"{count} synthetic images equal a training image (at most {most})")
    near, most = m["near_duplicate_count"], cfg.max_near_duplicates
    if most is not None and near > most and m["near_duplicates"] > m["near_duplicates_holdout"]:
        judge.reasons.append(
            f"{near} synthetic images are within one grey level of a training image (at most "
            f"{most}; {m['near_duplicates_holdout']:.1%} of holdout images are): a near copy of a "
            "training image fails whatever the noise"
        )
    metrics = {
        k: round(v, 4) if isinstance(v, float) else v for k, v in m.items() if np.isscalar(v)
    }
    charts = {
        "distance_to_training": distance_histogram(
            m["synthetic_distances"], m["holdout_distances"]
        ),
        "seconds": round(time.perf_counter() - start, 3),
    }
    reasons = tuple(judge.reasons)
    return CheckResult(NAME, not reasons, metrics, reasons, tuple(judge.rows), charts)
