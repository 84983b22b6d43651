"""Privacy by subject: does the synthetic data reveal the subjects it was trained on?

A subject is its whole history (validation.linked.history): a row-level check would let a
generator copy a person's ten visits, one plausible row at a time. Every measure compares the
synthetic subjects with training subjects and with holdout subjects the engine never saw, equal
in number; a generator drawing fresh subjects from the population looks the same to both.

- copies: the share of synthetic histories identical to a sampled training subject's, minus the
  share identical to a sampled holdout subject's (beyond sampling noise);
- copied subjects: synthetic histories of two events or more identical to any training subject's,
  counted; more than `max_copied_subjects` fails unless such matches are as common by chance as
  the holdout shows (synthetic histories matching holdout subjects', scaled to the training size,
  and holdout histories matching training ones): with none there, one copy fails;
- DCR share: synthetic subjects closer to a training subject than to any holdout subject (ties
  half); 0.5 is honest;
- membership attack: training and holdout subjects scored by their distance to the nearest
  synthetic subject, ROC AUC (validation.privacy.measures.attack).

Everything returned is an aggregate: shares, counts, scores and binned distances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas.linked_spec import LinkedPrivacyChecks
from schemas.relations import Relations
from validation import noise
from validation.distance import Encoder, Points, distance_histogram, nearest
from validation.linked.history import Histories, Layout
from validation.linked.tree import Tables, complete
from validation.privacy.distances import nearest_attack
from validation.privacy.measures import dcr_share, exact_share
from validation.privacy.verdicts import Verdicts
from validation.result import CheckResult

__all__ = ["NAME", "check", "subject_dcr_share"]

NAME = "privacy"
_MIN_EVENTS = 2  # a copied history counts from this many rows under the subject
_REFERENCE_SUBJECTS = 20_000  # training subjects the encoder's quantiles are read from
_ATTACK_SUBJECTS = 50_000  # synthetic subjects the membership attacker sees at most


@dataclass(frozen=True)
class _Sides:
    """Training, holdout and synthetic histories, equal-sized real samples encoded as points."""

    train: Histories
    holdout: Histories
    synthetic: Histories
    picks: tuple[np.ndarray, np.ndarray, np.ndarray]  # sampled subjects per side
    points: tuple[Points, Points, Points]
    every_synthetic: Points  # the synthetic subjects the attacker sees (at most 50,000)
    every_hashes: np.ndarray

    @classmethod
    def of(
        cls,
        real: Tables,
        synthetic: Tables,
        holdout: Tables,
        relations: Relations,
        size: int,
        seed: int,
    ) -> _Sides:
        layout = Layout.fit(real, relations)
        sides = [Histories.of(t, relations, layout) for t in (real, holdout, synthetic)]
        n_t, n_h, n_s = (len(h.hashes) for h in sides)
        n = min(size, n_t, n_h)
        rng = np.random.default_rng(seed)
        sizes = (n, n, min(size, n_s))
        picks = tuple(
            np.sort(rng.choice(total, size=k, replace=False))
            for total, k in zip((n_t, n_h, n_s), sizes, strict=True)
        )
        reference = np.sort(rng.choice(n_t, size=min(n_t, _REFERENCE_SUBJECTS), replace=False))
        encoder = Encoder.fit(sides[0].rows(reference), layout.contract)
        points = tuple(encoder.transform(h.rows(p)) for h, p in zip(sides, picks, strict=True))
        seen = np.sort(rng.choice(n_s, size=min(n_s, _ATTACK_SUBJECTS), replace=False))
        every = encoder.transform(sides[2].rows(seen))
        return cls(*sides, picks, points, every, sides[2].hashes[seen])

    def hashes(self, side: int) -> np.ndarray:
        return (self.train, self.holdout, self.synthetic)[side].hashes[self.picks[side]]


def check(
    real: Tables,
    synthetic: Tables,
    holdout: Tables | None,
    *,
    contract: Relations,
    thresholds: LinkedPrivacyChecks,
    seed: int = 0,
    min_count: int = 10,
) -> CheckResult:
    """Every measure on whole subjects; `real` are the training tables. `min_count` comes with
    every linked check's keywords: only shares, counts and scores are reported, no value."""
    relations = contract
    root = relations.root.name
    counts = [0 if t is None else len(t[root]) for t in (real, holdout)]
    if min(counts) < 2 or not len(synthetic[root]):
        reason = (
            f"privacy by subject cannot be judged: {counts[0]} training and {counts[1]} holdout "
            f"subjects (2 of each needed), {len(synthetic[root])} synthetic"
        )
        return CheckResult(NAME, False, {}, (reason,))
    assert holdout is not None
    real, synthetic = complete(real, relations), complete(synthetic, relations)
    holdout = complete(holdout, relations)
    sides = _Sides.of(real, synthetic, holdout, relations, thresholds.subjects, seed)
    verdicts = Verdicts(thresholds.significance)
    metrics: dict[str, Any] = {
        "subjects": len(sides.picks[0]),
        "synthetic_subjects": len(sides.picks[2]),
    }
    charts: dict[str, Any] = {}
    _copies(sides, thresholds, verdicts, metrics)
    _copied_subjects(sides, thresholds, verdicts, metrics)
    _distances(sides, thresholds, verdicts, metrics, charts)
    _membership(sides, thresholds, verdicts, metrics, charts, seed)
    reasons = tuple(verdicts.reasons)
    return CheckResult(NAME, not reasons, metrics, reasons, tuple(verdicts.rows), charts)


def subject_dcr_share(
    real: Tables,
    synthetic: Tables,
    holdout: Tables,
    relations: Relations,
    *,
    subjects: int = 2_000,
    seed: int = 0,
) -> float:
    """Share of synthetic subjects whose history is closer to a training subject's than to any
    holdout subject's (equal-sized samples, ties half): 0.5 for fresh draws, 1 for copies."""
    real, synthetic = complete(real, relations), complete(synthetic, relations)
    sides = _Sides.of(real, synthetic, complete(holdout, relations), relations, subjects, seed)
    return _dcr(sides)[0]


def _copies(
    sides: _Sides, thresholds: LinkedPrivacyChecks, verdicts: Verdicts, metrics: dict[str, Any]
) -> None:
    synthetic = sides.hashes(2)
    copies, copies_h = (
        exact_share(synthetic, sides.hashes(0)),
        exact_share(synthetic, sides.hashes(1)),
    )
    n, limit = len(synthetic), thresholds.max_copy_excess
    verdicts.judge(
        "copied histories: share of synthetic subjects identical to a training subject, minus "
        "against holdout subjects",
        copies - copies_h,
        0.0,
        limit,
        noise.se_shares(copies, n, copies_h, n),
        f"{copies:.1%} of synthetic subjects' whole histories equal a sampled training "
        f"subject's against {copies_h:.1%} for holdout subjects (excess {copies - copies_h:.3f} "
        f"> {limit})",
    )
    metrics.update(exact_copies=round(copies, 4), exact_copies_holdout=round(copies_h, 4))


def _copied_subjects(
    sides: _Sides, thresholds: LinkedPrivacyChecks, verdicts: Verdicts, metrics: dict[str, Any]
) -> None:
    """Whole histories of two events or more copied from training, against what chance gives."""
    train, holdout, synthetic = sides.train, sides.holdout, sides.synthetic
    long_s = synthetic.events >= _MIN_EVENTS
    long_h = holdout.events >= _MIN_EVENTS
    copied = int(np.isin(synthetic.hashes[long_s], train.hashes).sum())
    # chance: synthetic histories equal to unseen subjects', scaled to the training size, or
    # unseen histories equal to training ones, at the synthetic side's count
    to_holdout = int(np.isin(synthetic.hashes[long_s], holdout.hashes).sum())
    scaled = to_holdout * len(train.hashes) / max(len(holdout.hashes), 1)
    unseen = float(np.isin(holdout.hashes[long_h], train.hashes).mean()) if long_h.any() else 0.0
    expected = max(scaled, unseen * int(long_s.sum()))
    limit = thresholds.max_copied_subjects
    metrics.update(copied_subjects=copied, copied_subjects_expected=round(expected, 3))
    if limit is None:
        return
    from scipy.stats import poisson

    chance = 1.0 if copied == 0 else float(poisson.sf(copied - 1, expected))
    failed = copied > limit and chance < thresholds.significance
    verdicts.rows.append(
        {
            "measure": f"copied subjects: synthetic histories ({_MIN_EVENTS}+ events) identical "
            "to a training subject's",
            "synthetic": copied,
            "honest baseline": round(expected, 4),
            "noise (1 s.e.)": round(float(np.sqrt(expected)), 4),
            "limit": limit,
            "passed": not failed,
        }
    )
    if failed:
        verdicts.reasons.append(
            f"{copied} synthetic subjects repeat a training subject's whole history of "
            f"{_MIN_EVENTS} events or more (at most {limit}; {expected:.2f} expected by chance "
            "from unseen subjects)"
        )


def _dcr(sides: _Sides) -> tuple[float, np.ndarray, np.ndarray]:
    train, holdout, synthetic = sides.points
    hashes = [sides.hashes(i) for i in range(3)]
    to_t, _ = nearest(synthetic, train, same=np.isin(hashes[2], hashes[0]))
    to_h, _ = nearest(synthetic, holdout, same=np.isin(hashes[2], hashes[1]))
    return dcr_share(to_t[:, 0], to_h[:, 0]), to_t[:, 0], to_h[:, 0]


def _distances(
    sides: _Sides,
    thresholds: LinkedPrivacyChecks,
    verdicts: Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
) -> None:
    dcr, to_t, _ = _dcr(sides)
    limit = thresholds.max_dcr_share
    verdicts.judge(
        "DCR share by subject: synthetic histories closer to training than to holdout (0.5 ideal)",
        dcr,
        0.5,
        limit,
        noise.se_share(dcr, len(to_t)),
        f"DCR share by subject {dcr:.3f}: synthetic subjects' histories sit closer to training "
        f"subjects than to unseen ones (> {limit}; 0.5 is ideal)",
    )
    metrics["dcr_share"] = round(dcr, 4)
    train, holdout, _ = sides.points
    same = np.isin(sides.hashes(1), sides.hashes(0))
    h_to_t, _ = nearest(holdout, train, same=same)
    charts["dcr"] = distance_histogram(to_t, h_to_t[:, 0])


def _membership(
    sides: _Sides,
    thresholds: LinkedPrivacyChecks,
    verdicts: Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
    seed: int,
) -> None:
    """The attacker sees every synthetic subject and scores each candidate by its distance to
    the nearest synthetic history."""
    train, holdout, _ = sides.points
    mia = nearest_attack(
        (train, sides.hashes(0)),
        (holdout, sides.hashes(1)),
        (sides.every_synthetic, sides.every_hashes),
        seed=seed,
    )
    (low, high), limit = mia["auc_ci"], thresholds.max_attack_auc
    verdicts.judge(
        "membership attack by subject, ROC AUC (0.5 ideal)",
        mia["auc"],
        0.5,
        limit,
        noise.se_interval(low, high),
        f"a distance-based membership attack tells training subjects from unseen ones with ROC "
        f"AUC {mia['auc']:.3f} (95% CI {low:.3f}-{high:.3f}; > {limit})",
    )
    metrics.update(attack_auc=mia["auc"], attack_tpr_at_1pct_fpr=mia["tpr_at_1pct_fpr"])
    charts["attack_auc_ci"] = mia["auc_ci"]
