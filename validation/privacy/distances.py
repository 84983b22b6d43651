"""The distance measures: exact copies, DCR share (sampled and against every real row), the NNDR low
tail, and the distance-based membership attack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.spec import PrivacyChecks
from validation import noise
from validation.distance import distance_histogram, nearest, row_hashes
from validation.privacy.measures import (
    attack,
    dcr_share,
    dcr_share_adjusted,
    dcr_share_adjusted_from,
    exact_share,
    identical_share,
    nndr,
    share_of,
)
from validation.privacy.samples import People
from validation.privacy.verdicts import Encoded, Verdicts

__all__ = ["copies_and_distances", "membership_attack", "nearest_attack"]


def copies_and_distances(
    points: Encoded,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
    lap: Callable[[str], None],
    people: People | None = None,
) -> None:
    p, n_s = points, len(points.synthetic_hash)
    copies = exact_share(p.synthetic_hash, p.train_hash)
    copies_h = exact_share(p.synthetic_hash, p.holdout_hash)
    excess = copies - copies_h
    limit = thresholds.max_exact_copy_excess
    verdicts.judge(
        "exact copies: share of synthetic rows equal to a training row, minus against holdout",
        excess,
        0.0,
        limit,
        noise.se_shares(copies, n_s, copies_h, n_s),
        f"{copies:.1%} of synthetic rows are exact copies of sampled training rows against "
        f"{copies_h:.1%} for holdout rows (excess {excess:.3f} > {limit})",
    )
    all_train_hash = row_hashes(train, contract)
    charts["copies_of_any_training_row"] = round(exact_share(p.synthetic_hash, all_train_hash), 4)
    metrics.update(exact_copies=round(copies, 4), exact_copies_holdout=round(copies_h, 4))
    lap("exact copies")

    to_t, at_t = nearest(p.synthetic, p.train, k=2, same=np.isin(p.synthetic_hash, p.train_hash))
    to_h, at_h = nearest(p.synthetic, p.holdout, same=np.isin(p.synthetic_hash, p.holdout_hash))
    dcr, limit = dcr_share(to_t[:, 0], to_h[:, 0]), thresholds.max_dcr_share
    dcr_se = noise.se_share(dcr, n_s)
    if people is not None:
        hits = (to_t[:, 0] < to_h[:, 0]) + 0.5 * (to_t[:, 0] == to_h[:, 0])
        clusters = people.nearest(to_t[:, 0], at_t[:, 0], to_h[:, 0], at_h[:, 0], sample=True)
        dcr_se = max(dcr_se, noise.clustered_se(hits, clusters))
    verdicts.judge(
        "DCR share: synthetic rows closer to training than to holdout (0.5 ideal)",
        dcr,
        0.5,
        limit,
        dcr_se,
        f"DCR share {dcr:.3f}: synthetic rows sit closer to training rows than to unseen rows "
        f"(> {limit}; 0.5 is ideal)",
    )
    # Equal-sized samples see only len(holdout)/len(train) of any copies (a 30% leak at an 80/20
    # split moves the share to 0.54). The whole training set sees them all; under honest generation
    # the nearest of all real rows is equally likely any of them, so the share closer to training
    # is len(train)/(len(train)+len(holdout)), and its odds, divided by those odds, put 0.5 at ideal.
    n_t, n_h = len(train), len(holdout)
    full_t, near_t = nearest(
        p.synthetic, p.encoder.transform(train), same=np.isin(p.synthetic_hash, all_train_hash)
    )
    all_holdout_hash = row_hashes(holdout, contract)
    full_h, near_h = nearest(
        p.synthetic, p.encoder.transform(holdout), same=np.isin(p.synthetic_hash, all_holdout_hash)
    )
    tied = identical_share(p.synthetic_hash, all_train_hash, all_holdout_hash, n_t / (n_t + n_h))
    dcr_all = dcr_share_adjusted(full_t[:, 0], full_h[:, 0], n_t, n_h, tied)
    raw, step = share_of(dcr_all, n_t, n_h), noise.se_share(0.5, n_s)
    if people is not None:  # the people the nearest rows belong to share their noise
        t, h = full_t[:, 0], full_h[:, 0]
        hits = (t < h) + np.where(t == h, tied, 0.0)
        clusters = people.nearest(t, near_t[:, 0], h, near_h[:, 0], sample=False)
        step = max(step, noise.clustered_se(hits, clusters))
    dcr_all_se = (
        dcr_share_adjusted_from(min(raw + step, 1.0), n_t, n_h)
        - dcr_share_adjusted_from(max(raw - step, 0.0), n_t, n_h)
    ) / 2
    verdicts.judge(
        "DCR share against all training rows, adjusted for size (0.5 ideal)",
        dcr_all,
        0.5,
        limit,
        dcr_all_se,
        f"size-adjusted DCR share {dcr_all:.3f} against all {n_t} training rows: synthetic rows "
        f"sit closer to training rows than to unseen rows (> {limit}; 0.5 is ideal)",
    )
    metrics.update(dcr_share=round(dcr, 4), dcr_share_all=round(dcr_all, 4))
    lap("dcr")

    h_to_t, _ = nearest(p.holdout, p.train, k=2, same=np.isin(p.holdout_hash, p.train_hash))
    cut = float(np.quantile(nndr(h_to_t), thresholds.nndr_quantile))
    tail_s, tail_h = float(np.mean(nndr(to_t) <= cut)), float(np.mean(nndr(h_to_t) <= cut))
    limit = thresholds.max_nndr_excess
    verdicts.judge(
        f"NNDR low tail: synthetic rows at or below the holdout's {thresholds.nndr_quantile:.0%} "
        "quantile, minus the holdout's share",
        tail_s - tail_h,
        0.0,
        limit,
        noise.se_shares(tail_s, n_s, tail_h, len(p.holdout_hash)),
        f"{tail_s:.1%} of synthetic rows have a nearest/second-nearest training distance ratio in "
        f"the holdout's low tail against {tail_h:.1%} of holdout rows (excess > {limit})",
    )
    metrics["nndr_low_tail"] = round(tail_s, 4)
    charts["dcr"] = distance_histogram(to_t[:, 0], h_to_t[:, 0])
    lap("nndr")


def nearest_attack(
    members: tuple[Any, np.ndarray],
    outsiders: tuple[Any, np.ndarray],
    synthetic: tuple[Any, np.ndarray],
    *,
    seed: int,
) -> dict[str, Any]:
    """A distance-based membership attack: each candidate (points, hashes) is scored by its
    distance to the nearest synthetic point (an exact match by hash counts as distance 0)."""
    every, every_hash = synthetic
    to_members, _ = nearest(members[0], every, same=np.isin(members[1], every_hash))
    to_outsiders, _ = nearest(outsiders[0], every, same=np.isin(outsiders[1], every_hash))
    return attack(to_members[:, 0], to_outsiders[:, 0], seed=seed)


def membership_attack(
    points: Encoded,
    synthetic: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
    seed: int,
) -> None:
    """The attacker sees every synthetic row the checks read, not only the distance sample."""
    p = points
    every, every_hash = p.encoder.transform(synthetic), row_hashes(synthetic, contract)
    mia = nearest_attack(
        (p.train, p.train_hash), (p.holdout, p.holdout_hash), (every, every_hash), seed=seed
    )
    (low, high), tpr = mia["auc_ci"], mia["tpr_at_1pct_fpr"]
    verdicts.judge(
        "membership attack ROC AUC (0.5 ideal)",
        mia["auc"],
        0.5,
        thresholds.max_attack_auc,
        noise.se_interval(low, high),
        f"a distance-based membership attack tells training rows from unseen rows with ROC AUC "
        f"{mia['auc']:.3f} (95% CI {low:.3f}-{high:.3f}; > {thresholds.max_attack_auc})",
    )
    verdicts.judge(
        "membership attack TPR at 1% FPR (0.01 ideal)",
        tpr,
        0.01,
        thresholds.max_attack_tpr,
        noise.se_share(tpr, len(p.train_hash)),
        f"the membership attack finds {tpr:.1%} of training rows at a 1% false positive rate "
        f"(> {thresholds.max_attack_tpr:.0%})",
    )
    metrics.update(attack_auc=mia["auc"], attack_tpr_at_1pct_fpr=tpr)
    charts["attack_auc_ci"] = mia["auc_ci"]
