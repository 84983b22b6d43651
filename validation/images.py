"""Checks on synthetic labelled images: recognisable, faithful, diverse, not memorised, fair to classes.

Images are float tensors (N, C, H, W) in [-1, 1] with LongTensor labels (N,). Nothing is downloaded:
the feature space is a small CNN trained here on the real training images
(`validation.image_metrics.fit_classifier`, which also holds the measures), and FID, KID and PRDC
compare the penultimate features of holdout images (unseen by the classifier, like
the synthetic ones) with those of synthetic images, on equal-sized seeded samples.

- quality: conditional accuracy (synthetic images recognised as the class they were asked for) and
  per class, FID, KID, precision / recall / density / coverage (Naeem et al. 2020), coverage per class;
- privacy: each synthetic image's pixel distance to its nearest training image, against the holdout
  images' distances (the honest baseline), exact and near duplicates of training images;
- bias: per-class counts against the asked or real shares, the spread of per-class accuracy, and
  per group of the sensitive per-image columns: counts, and accuracy and coverage, where a group the
  generator served worse than the others (against the holdout's rate on that group) fails.
A measure fails only when it is beyond its limit by more than sampling noise explains.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from torch import Tensor

from synth.image.cells import MISSING
from validation.image_metrics import (
    ImageClassifier,
    classify,
    embed,
    fid,
    kid,
    memorisation,
    prdc,
)
from validation.privacy import distance_histogram
from validation.result import CheckResult

__all__ = [
    "ImageBiasThresholds",
    "ImagePrivacyThresholds",
    "ImageQualityThresholds",
    "bias_check",
    "privacy_check",
    "quality_check",
]

_T = TypeVar("_T")


@dataclass(frozen=True)
class ImageQualityThresholds:
    min_conditional_accuracy: float = 0.90  # capped at the holdout's own accuracy
    min_class_accuracy: float = 0.70  # per class, capped at the holdout's accuracy on that class
    min_coverage: float = 0.80  # honest equal-sized samples score about 1 - 2**-k (0.97 at k=5)
    min_class_coverage: float | None = 0.50
    min_precision: float | None = None
    min_recall: float | None = None
    max_fid: float | None = None  # report only unless set; depends on the classifier
    max_kid: float | None = None
    min_group_images: int = 30  # sensitive groups with fewer holdout images are not measured
    k: int = 5
    max_images: int = 5000  # per side, seeded sample
    significance: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class ImagePrivacyThresholds:
    quantile: float = 0.05
    max_memorised_excess: float = (
        0.05  # share closer than the holdout's quantile, minus the holdout's
    )
    max_duplicate_excess: float = 0.0  # exact and near duplicates, minus the holdout's share
    max_exact_duplicates: int | None = (
        None  # if set, an absolute count that fails whatever the noise
    )
    # near copies (mean gap under one grey level), when more common than among holdout images
    max_near_duplicates: int | None = 0
    max_images: int = 10_000
    significance: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class ImageBiasThresholds:
    min_class_ratio: float = 0.5  # a class's (or group's) synthetic share / expected share
    max_accuracy_spread: float = 0.25  # best minus worst per-class accuracy
    max_share_diff: float = 0.05  # per sensitive group
    min_count: int = 30  # groups with fewer real images are not judged
    max_group_quality_gap: float = 0.10  # a group's accuracy shortfall beyond the best-served's
    significance: float = 0.01


def _settings(thresholds: Any, kind: type[_T]) -> _T:
    """The dataclass from any object with (some of) its fields, e.g. a pydantic spec section."""
    if thresholds is None:
        return kind()
    return kind(**{f.name: getattr(thresholds, f.name, f.default) for f in fields(kind)})


# --- the checks ----------------------------------------------------------------------------------


class _Judge:
    """One row per measure for the report and a reason per failure: a floor fails when value + z * se
    is below it, a ceiling when value - z * se is above it (one-sided `significance`)."""

    def __init__(self, significance: float) -> None:
        self.z = float(norm.ppf(1.0 - significance))
        self.rows: list[dict[str, Any]] = []
        self.reasons: list[str] = []

    def floor(self, measure: str, value: float, limit: float | None, se: float, why: str) -> None:
        self._judge(
            measure, value, limit, se, limit is not None and value + self.z * se < limit, why
        )

    def ceiling(self, measure: str, value: float, limit: float | None, se: float, why: str) -> None:
        self._judge(
            measure, value, limit, se, limit is not None and value - self.z * se > limit, why
        )

    def _judge(
        self, measure: str, value: float, limit: float | None, se: float, failed: bool, why: str
    ) -> None:
        self.rows.append(
            {
                "measure": measure,
                "value": round(value, 4),
                "noise (1 s.e.)": round(se, 4),
                "limit": None if limit is None else round(limit, 4),
                "passed": not failed,
            }
        )
        if failed:
            self.reasons.append(why + (f" beyond sampling noise (s.e. {se:.3f})" if se else ""))


def _se(p: float, n: int, q: float | None = None, m: int = 1) -> float:
    var = p * (1 - p) / max(n, 1) + (0.0 if q is None else q * (1 - q) / max(m, 1))
    return float(np.sqrt(var))


def _sample(n: int, size: int, rng: np.random.Generator) -> Tensor:
    return torch.from_numpy(np.sort(rng.choice(n, size=min(size, n), replace=False)))


@dataclass(frozen=True)
class _Side:
    """A seeded sample of one image set in the classifier's features, with its labels and whether
    the classifier recognised each image as its label."""

    features: Tensor
    labels: Tensor
    hit: Tensor
    rows: Tensor  # which images of the set were sampled

    @classmethod
    def of(
        cls,
        clf: ImageClassifier,
        images: Tensor,
        labels: Tensor,
        size: int,
        rng: np.random.Generator,
    ) -> _Side:
        picked = _sample(len(images), size, rng)
        features, labels = embed(clf, images[picked]), labels.cpu()[picked]
        return cls(features, labels, classify(clf, features) == labels, picked)

    def where(self, mine: Tensor) -> _Side:
        return _Side(self.features[mine], self.labels[mine], self.hit[mine], self.rows[mine])

    def of_class(self, c: int) -> _Side:
        return self.where(self.labels == c)

    def of_group(self, groups: pd.Series, value: str) -> _Side:
        """The sampled images whose `groups` entry (one per image of the whole set) is `value`."""
        chosen = groups.to_numpy()[self.rows.numpy()] == value
        return self.where(torch.from_numpy(np.asarray(chosen, dtype=bool)))

    def accuracy(self) -> float:
        return float(self.hit.float().mean())

    def take(self, size: int, rng: np.random.Generator) -> Tensor:
        return self.features[_sample(len(self.features), size, rng)]


def quality_check(
    train: Tensor,
    train_labels: Tensor,
    holdout: Tensor,
    holdout_labels: Tensor,
    synthetic: Tensor,
    synthetic_labels: Tensor,
    classes: Sequence[str],
    clf: ImageClassifier,
    thresholds: Any = None,
    *,
    holdout_groups: pd.DataFrame | None = None,
    synthetic_groups: pd.DataFrame | None = None,
) -> CheckResult:
    """Conditional accuracy (overall, per class) and FID / KID / PRDC in the classifier's features,
    holdout against synthetic images on equal-sized samples (PRDC and FID depend on the sizes).
    Training images against holdout images give a reference, reported only: the classifier saw them.
    With sensitive groups (one row per holdout / synthetic image), accuracy and coverage per group
    go to `charts["per_group"]` for the bias check to judge."""
    cfg = _settings(thresholds, ImageQualityThresholds)
    judge, start = _Judge(cfg.significance), time.perf_counter()
    if min(len(holdout), len(synthetic), len(train)) <= cfg.k:
        return CheckResult("image_quality", False, {}, ("too few images to compare",))
    rng = np.random.default_rng(cfg.seed)
    real = _Side.of(clf, holdout, holdout_labels, cfg.max_images, rng)
    fake = _Side.of(clf, synthetic, synthetic_labels, cfg.max_images, rng)
    acc, acc_h = fake.accuracy(), real.accuracy()
    limit = min(cfg.min_conditional_accuracy, acc_h)
    judge.floor(
        "conditional accuracy: synthetic images recognised as their asked class",
        acc,
        limit,
        _se(acc, len(fake.hit)),
        f"conditional accuracy {acc:.3f} < {limit:.3f} (min_conditional_accuracy, capped at the "
        f"holdout's {acc_h:.3f})",
    )
    n = min(len(real.hit), len(fake.hit))
    r, f = real.take(n, rng), fake.take(n, rng)
    found, fid_value = prdc(r, f, k=cfg.k), fid(r, f)
    kid_mean, kid_std = kid(r, f, seed=cfg.seed)
    for name in ("coverage", "precision", "recall"):
        value, floor = found[name], getattr(cfg, f"min_{name}")
        why = f"{name} {value:.3f} < {floor} (min_{name})"
        judge.floor(f"PRDC {name} (k={cfg.k}, {n} images a side)", value, floor, _se(value, n), why)
    judge.ceiling("FID", fid_value, cfg.max_fid, 0.0, f"FID {fid_value:.3f} > {cfg.max_fid}")
    judge.ceiling("KID", kid_mean, cfg.max_kid, kid_std, f"KID {kid_mean:.4f} > {cfg.max_kid}")
    details = [_class_row(c, name, real, fake, cfg, judge, rng) for c, name in enumerate(classes)]
    t = embed(clf, train[_sample(len(train), n, rng)])
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
        "per_group": _group_rows(real, fake, holdout_groups, synthetic_groups, cfg, rng),
        "measures": judge.rows,
        "train_vs_holdout": {k: round(v, 4) for k, v in reference.items()},
        "seconds": round(time.perf_counter() - start, 3),
    }
    reasons = tuple(judge.reasons)
    return CheckResult("image_quality", not reasons, metrics, reasons, tuple(details), charts)


def _class_row(
    c: int,
    name: str,
    real: _Side,
    fake: _Side,
    cfg: ImageQualityThresholds,
    judge: _Judge,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Counts, accuracy (judged against the holdout's on the class) and coverage of one class."""
    real, fake = real.of_class(c), fake.of_class(c)
    n_h, n_s = len(real.hit), len(fake.hit)
    row: dict[str, Any] = {"class": name, "synthetic images": n_s, "holdout images": n_h}
    row["accuracy"] = round(fake.accuracy(), 4) if n_s else None
    row["holdout accuracy"] = round(real.accuracy(), 4) if n_h else None
    row["coverage"] = None
    if n_s and n_h:
        acc, limit = fake.accuracy(), min(cfg.min_class_accuracy, real.accuracy())
        judge.floor(
            f"class {name!r}: conditional accuracy",
            acc,
            limit,
            _se(acc, n_s),
            f"class {name!r}: conditional accuracy {acc:.3f} < {limit:.3f} (min_class_accuracy, "
            "capped at the holdout's on that class)",
        )
    m = min(n_h, n_s)
    if m > cfg.k:
        cov = prdc(real.take(m, rng), fake.take(m, rng), k=cfg.k)["coverage"]
        row["coverage"] = round(cov, 4)
        judge.floor(
            f"class {name!r}: PRDC coverage",
            cov,
            cfg.min_class_coverage,
            _se(cov, m),
            f"class {name!r}: coverage {cov:.3f} < {cfg.min_class_coverage} (min_class_coverage)",
        )
    return row


def _group_rows(
    real: _Side,
    fake: _Side,
    holdout_groups: pd.DataFrame | None,
    synthetic_groups: pd.DataFrame | None,
    cfg: ImageQualityThresholds,
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
            r, f = real.of_group(real_values, value), fake.of_group(fake_values, value)
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


def privacy_check(
    train: Tensor, holdout: Tensor, synthetic: Tensor, thresholds: Any = None
) -> CheckResult:
    """Memorisation: synthetic images closer to a training image than the holdout's `quantile` of
    nearest-training distances, and exact / near duplicates, each against the holdout's share."""
    cfg = _settings(thresholds, ImagePrivacyThresholds)
    if len(train) < 1 or len(holdout) < 2 or not len(synthetic):
        return CheckResult(
            "image_privacy", False, {}, ("privacy needs training, holdout and synthetic images",)
        )
    start = time.perf_counter()
    synthetic = synthetic[_sample(len(synthetic), cfg.max_images, np.random.default_rng(cfg.seed))]
    m = memorisation(train, holdout, synthetic, quantile=cfg.quantile)
    judge = _Judge(cfg.significance)
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
            _se(s, n_s, h, n_h),
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
    return CheckResult("image_privacy", not reasons, metrics, reasons, tuple(judge.rows), charts)


def bias_check(
    synthetic_labels: Tensor,
    train_labels: Tensor,
    classes: Sequence[str],
    per_class_quality: Mapping[int | str, float | None],
    extra_real: pd.DataFrame | None = None,
    extra_synth: pd.DataFrame | None = None,
    sensitive: Sequence[str] = (),
    thresholds: Any = None,
    *,
    asked: Mapping[int, float] | None = None,
    per_group: Sequence[Mapping[str, Any]] = (),
) -> CheckResult:
    """Per class: the synthetic share against the asked shares (default: the real training shares)
    and the spread of per-class quality (keyed by class index or name); per group of a sensitive
    per-image column with at least `min_count` real images: the share against the real share, and
    (from `quality_check`'s `per_group` rows) whether the generator served it worse than the others:
    its accuracy shortfall against the holdout's on the group, beyond the best-served group's."""
    cfg = _settings(thresholds, ImageBiasThresholds)
    z, k = float(norm.ppf(1.0 - cfg.significance)), len(classes)
    real = np.bincount(train_labels.cpu().numpy(), minlength=k)[:k].astype(float)
    synth = np.bincount(synthetic_labels.cpu().numpy(), minlength=k)[:k]
    want = np.array([asked.get(c, 0.0) for c in range(k)]) if asked else real
    expected = want / max(want.sum(), 1e-12)
    reasons: list[str] = []
    rows = _shares(list(classes), real, synth, expected, cfg, z, reasons, "class")
    quality = [_lookup(per_class_quality, c, name) for c, name in enumerate(classes)]
    for row, q in zip(rows, quality, strict=True):
        row["accuracy"] = None if q is None else round(q, 4)
    ratios = [r["share ratio"] for r in rows if r["share ratio"] is not None]
    metrics: dict[str, Any] = {
        "classes": k,
        "classes_missing": int(((synth == 0) & (expected > 0)).sum()),
        "lowest_class_ratio": min(ratios, default=None),
        "images": int(synth.sum()),
    }
    judged = {c: q for c, q in enumerate(quality) if q is not None and synth[c]}
    if len(judged) > 1:
        best, worst = max(judged, key=judged.__getitem__), min(judged, key=judged.__getitem__)
        spread = judged[best] - judged[worst]
        metrics["accuracy_spread"] = round(spread, 4)
        if spread - z * _se(judged[best], synth[best], judged[worst], synth[worst]) > (
            cfg.max_accuracy_spread
        ):
            reasons.append(
                f"per-class accuracy spreads {spread:.3f} from {classes[best]!r} "
                f"({judged[best]:.3f}) to {classes[worst]!r} ({judged[worst]:.3f}) "
                f"(> max_accuracy_spread {cfg.max_accuracy_spread})"
            )
    if extra_real is not None and extra_synth is not None:
        for column in (c for c in sensitive if c in extra_real and c in extra_synth):
            r, s = (
                f[column].astype("string").fillna(MISSING).value_counts()
                for f in (extra_real, extra_synth)
            )
            kept = [g for g in r.index if r[g] >= cfg.min_count]
            counts = r[kept].to_numpy(float)
            names = [f"{column} = {g}" for g in kept]
            found = s.reindex(kept, fill_value=0).to_numpy()
            rows += _shares(names, counts, found, counts / r.sum(), cfg, z, reasons, "group")
    gaps = _group_gaps(per_group, cfg, z, reasons)
    if gaps:
        metrics["largest_group_quality_gap"] = max(gaps.values())
    charts = {"per_group_quality": list(per_group)} if per_group else {}
    return CheckResult("image_bias", not reasons, metrics, tuple(reasons), tuple(rows), charts)


def _group_gaps(
    per_group: Sequence[Mapping[str, Any]],
    cfg: ImageBiasThresholds,
    z: float,
    reasons: list[str],
) -> dict[str, float]:
    """Per sensitive column: each group's shortfall (holdout accuracy minus synthetic accuracy)
    beyond the smallest shortfall among that column's groups; a group fails past
    `max_group_quality_gap` beyond noise. Real groups that differ in difficulty do not count: each
    group is measured against the holdout's accuracy on that same group."""
    largest: dict[str, float] = {}
    judged = [r for r in per_group if r.get("accuracy") is not None and r.get("holdout accuracy")]
    for column in dict.fromkeys(r["column"] for r in judged):
        mine = [r for r in judged if r["column"] == column]
        if len(mine) < 2:
            continue
        short = {r["group"]: r["holdout accuracy"] - r["accuracy"] for r in mine}
        best = min(mine, key=lambda r: short[r["group"]])
        for r in mine:
            gap = short[r["group"]] - short[best["group"]]
            largest[column] = max(largest.get(column, 0.0), round(gap, 4))
            se = _se(
                r["accuracy"], r["synthetic images"], best["accuracy"], best["synthetic images"]
            )
            if r is not best and gap - z * se > cfg.max_group_quality_gap:
                reasons.append(
                    f"group {column} = {r['group']!r}: synthetic images recognised {gap:.3f} less "
                    f"often (against the holdout's rate on the group) than for {best['group']!r} "
                    f"(> max_group_quality_gap {cfg.max_group_quality_gap})"
                )
    return largest


def _lookup(values: Mapping[int | str, float | None], index: int, name: str) -> float | None:
    value = values.get(index, values.get(name))
    return None if value is None or np.isnan(value) else float(value)


def _shares(
    names: list[str],
    real: np.ndarray,
    synth: np.ndarray,
    expected: np.ndarray,
    cfg: ImageBiasThresholds,
    z: float,
    reasons: list[str],
    kind: str,
) -> list[dict[str, Any]]:
    """One row per class or group; vanished, shrunk (ratio) and off (share diff, groups) fail."""
    n = int(synth.sum())
    rows = []
    for name, r, s, e in zip(names, real, synth, expected, strict=True):
        share = s / n if n else 0.0
        noise = float(np.sqrt(e * (1 - e) / max(n, 1)))
        rows.append(
            {
                kind: name,
                "real images": int(r),
                "synthetic images": int(s),
                "expected share": round(float(e), 4),
                "share": round(float(share), 4),
                "share ratio": round(float(share / e), 3) if e > 0 else None,
            }
        )
        if e > 0 and s == 0:
            reasons.append(f"{kind} {name!r} has no synthetic images ({e:.1%} expected)")
        elif e > 0 and share / e < cfg.min_class_ratio and e - share > z * noise:
            reasons.append(
                f"{kind} {name!r} shrank to {share / e:.2f} of its expected share {e:.1%} "
                f"(min_class_ratio {cfg.min_class_ratio})"
            )
        elif kind == "group" and abs(share - e) - z * noise > cfg.max_share_diff:
            reasons.append(
                f"{kind} {name!r}: {share:.1%} of synthetic images against {e:.1%} expected "
                f"(more than {cfg.max_share_diff:.0%} off)"
            )
    return rows
