"""Privacy: does the synthetic data reveal the rows it was trained on?

Every measure is judged against an honest baseline: real rows of the same population that the engine
never saw (the holdout). A generator that produced fresh draws from the population would look, to each
measure, exactly like the holdout does; one that copies or memorises looks closer to training.

- exact copies: synthetic rows identical to a training row, against the same share for an equal-sized
  holdout sample;
- DCR share: the share of synthetic rows closer to a training row than to any holdout row (equal-sized
  samples, ties count half); 0.5 is ideal;
- NNDR low tail: nearest / second-nearest training distance ratio; the share of synthetic rows below the
  holdout's low quantile, against the holdout's own share;
- membership inference: an attacker who sees the synthetic data scores each candidate row by its
  distance to the nearest synthetic row; ROC AUC (bootstrap CI) and TPR at 1% FPR on training members
  against holdout non-members;
- rare quasi-identifier combinations: synthetic rows landing on a combination seen fewer than
  `rare_count` times in training, against the holdout's rate;
- undeclared identifiers in modelled text columns, and fakes that equal a real identifier.

anonymeter's attacks run separately (validation.anonymeter_run): they need another interpreter.
Everything returned is an aggregate: shares, scores, counts and timings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from schemas.contract import Contract
from schemas.spec import ColumnType, PrivacyChecks, Role
from synth.io.split import subject_codes, subject_order
from validation import pii_scan
from validation.anonymeter_run import AnonymeterUnavailable
from validation.distance import Encoder, Points, nearest, row_hashes
from validation.frames import codes, features
from validation.result import CheckResult

__all__ = [
    "DistanceGuard",
    "Samples",
    "attack",
    "check",
    "dcr_share",
    "dcr_share_adjusted",
    "nndr",
    "rare_share",
]

NAME = "privacy"
_BOOTSTRAP = 200


@dataclass(frozen=True)
class Samples:
    """Equal-sized training and holdout samples, and a synthetic sample, all seeded."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame

    @classmethod
    def draw(
        cls,
        train: pd.DataFrame,
        holdout: pd.DataFrame,
        synthetic: pd.DataFrame,
        rows: int,
        seed: int,
        subject: str | None = None,
    ) -> Samples:
        """With `subject` (the split's `by`), the real samples are whole subjects: a row sample
        of training would spread over four times the people of an equal-sized holdout sample
        (whose people are all unseen), and an honest synthetic row would then find a near
        neighbour in training more often just because more people are there (a wage panel:
        DCR share 0.59 for rows, 0.53 with every row)."""
        n = min(rows, len(train), len(holdout))
        rng = np.random.default_rng(seed)

        def take(frame: pd.DataFrame, size: int, by: str | None = None) -> pd.DataFrame:
            if by is None:
                picked = rng.choice(len(frame), size=min(size, len(frame)), replace=False)
            else:  # whole shuffled subjects, the first `size` rows
                picked = subject_order(subject_codes(frame, by), rng)[0][:size]
            return frame.iloc[np.sort(picked)].reset_index(drop=True)

        return cls(take(train, n, subject), take(holdout, n, subject), take(synthetic, rows))


# --- the measures, on encoded points; each is tested on hand-made data with a known answer ---------


def exact_share(query_hashes: np.ndarray, reference_hashes: np.ndarray) -> float:
    """Share of query rows identical to some reference row."""
    return float(np.isin(query_hashes, reference_hashes).mean()) if len(query_hashes) else 0.0


def dcr_share(to_train: np.ndarray, to_holdout: np.ndarray) -> float:
    """Share of rows strictly closer to training than to holdout; ties count half."""
    return float(np.mean(to_train < to_holdout) + 0.5 * np.mean(to_train == to_holdout))


def dcr_share_adjusted(
    to_train: np.ndarray,
    to_holdout: np.ndarray,
    train_rows: int,
    holdout_rows: int,
    tied_share: np.ndarray | None = None,
) -> float:
    """DCR share against unequal sets, mapped so that honest data scores 0.5 whatever the sizes.

    A tie counts as the share of the tied nearest rows that are training rows: `tied_share`, per
    synthetic row, where it is known (rows identical to it: the training ones over all of them),
    else the set sizes' proportion. Honest data's nearest real rows are any real rows, so that
    share's expectation is the training proportion however many rows tie; counting every tie in
    proportion to the set sizes instead counts a tie as likely as a training-only match, and a
    larger training set more often holds one: on 73k ratings of six discrete columns (43% of
    unseen rows equal some training row) unseen-like rows scored 0.60. The share's odds are
    divided by the honest odds train_rows / holdout_rows.
    """
    p = train_rows / (train_rows + holdout_rows)
    tie = to_train == to_holdout
    weight = np.full(len(to_train), p) if tied_share is None else np.asarray(tied_share, float)
    share = float(np.mean(to_train < to_holdout) + np.mean(np.where(tie, weight, 0.0)))
    return dcr_share_adjusted_from(share, train_rows, holdout_rows)


def _identical_share(
    query: np.ndarray, train_hash: np.ndarray, holdout_hash: np.ndarray, otherwise: float
) -> np.ndarray:
    """Per query row: of the real rows identical to it, the share in training (`otherwise` where
    none is)."""
    t = pd.Series(train_hash).value_counts().reindex(query, fill_value=0).to_numpy()
    h = pd.Series(holdout_hash).value_counts().reindex(query, fill_value=0).to_numpy()
    both = t + h
    return np.where(both > 0, t / np.maximum(both, 1), otherwise)


def dcr_share_adjusted_from(share: float, train_rows: int, holdout_rows: int) -> float:
    if share >= 1.0:
        return 1.0
    odds = share / (1.0 - share) / (train_rows / holdout_rows)
    return odds / (1.0 + odds)


def _share_of(adjusted: float, train_rows: int, holdout_rows: int) -> float:
    """The raw share a size-adjusted share came from."""
    if adjusted >= 1.0:
        return 1.0
    odds = adjusted / (1.0 - adjusted) * (train_rows / holdout_rows)
    return odds / (1.0 + odds)


def clustered_se(values: np.ndarray, clusters: np.ndarray) -> float:
    """Standard error of the mean of `values` whose rows share noise within `clusters` (integer
    codes): the cluster-robust (sandwich) estimate."""
    deviations = np.asarray(values, dtype=float) - float(np.mean(values))
    sums = np.bincount(clusters, weights=deviations)
    return float(np.sqrt((sums**2).sum()) / max(len(deviations), 1))


@dataclass(frozen=True)
class _People:
    """Subject codes of the real rows the distances were measured to (a panel split by
    `split.by`): a synthetic row near one person's rows is near all of them, so rows judged by
    their nearest person are clustered by that person, not independent."""

    train_sample: np.ndarray
    holdout_sample: np.ndarray
    train: np.ndarray
    holdout: np.ndarray

    @classmethod
    def of(
        cls, samples: Samples, train: pd.DataFrame, holdout: pd.DataFrame, subject: str | None
    ) -> _People | None:
        if subject is None:
            return None
        codes = subject_codes(pd.concat([train[[subject]], holdout[[subject]]]), subject)
        return cls(
            subject_codes(samples.train, subject),
            subject_codes(samples.holdout, subject),
            codes[: len(train)],
            codes[len(train) :],
        )

    def nearest(
        self,
        to_train: np.ndarray,
        at_train: np.ndarray,
        to_holdout: np.ndarray,
        at_holdout: np.ndarray,
        *,
        sample: bool,
    ) -> np.ndarray:
        """Per synthetic row, a code for the person its nearest real row belongs to."""
        train, holdout = (
            (self.train_sample, self.holdout_sample) if sample else (self.train, self.holdout)
        )
        offset = train.max(initial=-1) + 1
        return np.where(to_train <= to_holdout, train[at_train], holdout[at_holdout] + offset)


def _se(p1: float, n1: int, p2: float | None = None, n2: int = 1) -> float:
    """Standard error of a share (or of the difference of two independent shares)."""
    var = p1 * (1 - p1) / max(n1, 1)
    if p2 is not None:
        var += p2 * (1 - p2) / max(n2, 1)
    return float(np.sqrt(var))


def _ratio_se(p1: float, n1: int, p2: float, n2: int) -> float:
    """Delta-method standard error of p1 / p2."""
    if p1 <= 0 or p2 <= 0:
        return 0.0
    return float(p1 / p2 * np.sqrt((1 - p1) / (p1 * n1) + (1 - p2) / (p2 * n2)))


def nndr(distances: np.ndarray) -> np.ndarray:
    """Nearest / second-nearest distance; 1 where both are 0 (a row duplicated in the reference)."""
    d1, d2 = distances[:, 0], distances[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d2 > 0, d1 / d2, 1.0)
    return ratio


def attack(members: np.ndarray, non_members: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """A distance-based membership attack: a smaller distance to the synthetic data means "member".

    Returns ROC AUC with a 95% stratified bootstrap interval and the TPR at 1% FPR.
    """
    scores = -np.concatenate([members, non_members])
    truth = np.concatenate([np.ones(len(members)), np.zeros(len(non_members))])
    auc = float(roc_auc_score(truth, scores))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(_BOOTSTRAP):
        m = rng.choice(members, len(members))
        n = rng.choice(non_members, len(non_members))
        boot.append(_auc(-m, -n))
    low, high = np.quantile(boot, [0.025, 0.975])
    return {
        "auc": round(auc, 4),
        "auc_ci": [round(float(low), 4), round(float(high), 4)],
        "tpr_at_1pct_fpr": round(_tpr_at(-members, -non_members, 0.01), 4),
    }


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half."""
    both = np.concatenate([positive, negative])
    ranks = pd.Series(both).rank(method="average").to_numpy()[: len(positive)]
    n1, n0 = len(positive), len(negative)
    return float((ranks.sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _tpr_at(positive: np.ndarray, negative: np.ndarray, fpr: float) -> float:
    """Largest TPR of a threshold rule `score > t` whose FPR is at most `fpr` (no randomised ties)."""
    allowed = int(np.floor(fpr * len(negative)))
    ordered = np.sort(negative)[::-1]
    # the threshold sits at the (allowed+1)-th highest negative score: only scores above it fire
    threshold = ordered[allowed] if allowed < len(ordered) else -np.inf
    return float(np.mean(positive > threshold))


def rare_share(
    train_keys: np.ndarray, query_keys: np.ndarray, rare_count: int
) -> tuple[float, int]:
    """Share of query rows whose combination occurs 1..rare_count-1 times in training, and how many
    distinct such combinations the query reproduces."""
    values, counts = np.unique(train_keys, return_counts=True)
    rare = values[counts < rare_count]
    hit = np.isin(query_keys, rare)
    return (float(hit.mean()) if len(hit) else 0.0), len(np.unique(query_keys[hit]))


def qi_keys(frame: pd.DataFrame, contract: Contract, columns: list[str], edges) -> np.ndarray:
    table = features(frame, contract)[columns]
    coded = codes(table, edges)
    width = np.array([int(max(v.max(initial=0), 0)) + 2 for v in coded.values()], dtype=object)
    key = np.zeros(len(table), dtype=object)
    for (_, v), w in zip(coded.items(), width, strict=True):
        key = key * int(w) + v.astype(object)
    return key.astype(str)


def qi_edges(train: pd.DataFrame, contract: Contract, columns: list[str]) -> dict[str, np.ndarray]:
    """Numbers with few distinct values (age in years) keep them; others are cut at 20 quantiles."""
    table = features(train, contract)[columns]
    edges = {}
    for name, values in table.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            continue
        present = values.dropna().to_numpy(dtype="float64")
        distinct = np.unique(present)
        edges[name] = (
            distinct
            if len(distinct) <= 100
            else np.unique(np.quantile(present, np.linspace(0.05, 0.95, 19)))
        )
    return edges


# --- the guard the sampler uses to replace rows that sit too close to training ---------------------


@dataclass(frozen=True)
class DistanceGuard:
    """Keeps a synthetic row only if its nearest training row is farther than the holdout's
    `quantile` of nearest-training-row distances (so an exact copy never passes, even where real
    data has duplicates and that quantile is 0)."""

    encoder: Encoder
    train_points: Points
    train_hashes: np.ndarray
    threshold: float
    quantile: float

    @classmethod
    def fit(
        cls, train: pd.DataFrame, holdout: pd.DataFrame, contract: Contract, quantile: float
    ) -> DistanceGuard:
        encoder = Encoder.fit(train, contract)
        points, hashes = encoder.transform(train), row_hashes(train, contract)
        same = np.isin(row_hashes(holdout, contract), hashes)
        baseline, _ = nearest(encoder.transform(holdout), points, same=same)
        return cls(encoder, points, hashes, float(np.quantile(baseline[:, 0], quantile)), quantile)

    def keep(self, modelled: pd.DataFrame) -> np.ndarray:
        copies = np.isin(row_hashes(modelled, self.encoder.contract), self.train_hashes)
        distance, _ = nearest(self.encoder.transform(modelled), self.train_points, same=copies)
        return distance[:, 0] > self.threshold


# --- the check -----------------------------------------------------------------------------------


class _Verdicts:
    """Collects each measure's row for the report and a reason for each failure.

    A measure fails only when it is above its limit by more than sampling noise explains: value -
    z * standard error > limit, with z from the spec's one-sided significance.
    """

    def __init__(self, significance: float) -> None:
        self.z = float(norm.ppf(1.0 - significance))
        self.rows: list[dict[str, Any]] = []
        self.reasons: list[str] = []

    def judge(
        self, measure: str, value: float, baseline: float, limit: float, se: float, why: str
    ) -> None:
        failed = value - self.z * se > limit
        self.rows.append(
            {
                "measure": measure,
                "synthetic": round(value, 4),
                "honest baseline": round(baseline, 4),
                "noise (1 s.e.)": round(se, 4),
                "limit": limit,
                "passed": not failed,
            }
        )
        if failed:
            self.reasons.append(why + (f" beyond sampling noise (s.e. {se:.3f})" if se else ""))


@dataclass(frozen=True)
class _Points:
    """The samples encoded once, with row hashes for exact matches."""

    encoder: Encoder
    train: Points
    holdout: Points
    synthetic: Points
    train_hash: np.ndarray
    holdout_hash: np.ndarray
    synthetic_hash: np.ndarray

    @classmethod
    def of(cls, samples: Samples, train: pd.DataFrame, contract: Contract) -> _Points:
        encoder = Encoder.fit(train, contract)
        frames = (samples.train, samples.holdout, samples.synthetic)
        points = [encoder.transform(f) for f in frames]
        hashes = [row_hashes(f, contract) for f in frames]
        return cls(encoder, *points, *hashes)


def check(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    *,
    seed: int = 0,
    real_identifiers: pd.DataFrame | None = None,
    filtered: dict[str, Any] | None = None,
    anonymeter: Callable[[Samples], dict[str, Any]] | None = None,
    subject: str | None = None,
) -> CheckResult:
    """Run every privacy measure; `real_identifiers` holds the real values of faked columns,
    `filtered` the privacy filter's counts, `anonymeter` runs anonymeter on the samples, and
    `subject` (the split's `by`) makes the real samples whole subjects."""
    if holdout is None or len(holdout) < 2 or len(train) < 2:
        # a plan conditioned on a combination that unseen rows never hold cannot be told apart
        # from copying: without holdout rows to compare with, nothing is published
        reason = (
            f"privacy cannot be judged: the real rows the plan asks for number {len(train)} "
            f"training and {0 if holdout is None else len(holdout)} holdout rows (2 of each needed)"
        )
        return CheckResult(NAME, False, {}, (reason,))
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    samples = Samples.draw(train, holdout, synthetic, thresholds.rows, seed, subject)
    points = _Points.of(samples, train, contract)
    lap("encode")
    verdicts = _Verdicts(thresholds.significance)
    metrics: dict[str, Any] = {"rows": len(samples.train)}
    charts: dict[str, Any] = {}
    people = _People.of(samples, train, holdout, subject)
    _copies_and_distances(
        points, train, holdout, contract, thresholds, verdicts, metrics, charts, lap, people
    )
    _membership_attack(points, synthetic, contract, thresholds, verdicts, metrics, charts, seed)
    lap("membership attack")
    charts["rare"] = _rare_combinations(train, holdout, synthetic, contract, thresholds, verdicts)
    lap("rare combinations")
    charts["identifiers"] = _identifiers(
        synthetic, train, contract, real_identifiers, thresholds, verdicts
    )
    lap("identifiers")
    if anonymeter is not None:
        charts["anonymeter"] = _anonymeter(anonymeter, samples, thresholds, verdicts)
        lap("anonymeter")
    if filtered:
        metrics["filter_replaced"] = filtered.get("replaced", 0)
        charts["filter"] = filtered
        if filtered.get("shortfall"):
            verdicts.reasons.append(
                f"privacy filter: {filtered['shortfall']} rows could not be replaced by rows far "
                f"enough from training after {filtered['max_rounds']} rounds"
            )
    charts["seconds"] = seconds
    reasons = tuple(verdicts.reasons)
    return CheckResult(NAME, not reasons, metrics, reasons, tuple(verdicts.rows), charts)


def _copies_and_distances(
    points: _Points,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: _Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
    lap: Callable[[str], None],
    people: _People | None = None,
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
        _se(copies, n_s, copies_h, n_s),
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
    dcr_se = _se(dcr, n_s)
    if people is not None:
        hits = (to_t[:, 0] < to_h[:, 0]) + 0.5 * (to_t[:, 0] == to_h[:, 0])
        clusters = people.nearest(to_t[:, 0], at_t[:, 0], to_h[:, 0], at_h[:, 0], sample=True)
        dcr_se = max(dcr_se, clustered_se(hits, clusters))
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
    tied = _identical_share(p.synthetic_hash, all_train_hash, all_holdout_hash, n_t / (n_t + n_h))
    dcr_all = dcr_share_adjusted(full_t[:, 0], full_h[:, 0], n_t, n_h, tied)
    raw, step = _share_of(dcr_all, n_t, n_h), _se(0.5, n_s)
    if people is not None:  # the people the nearest rows belong to share their noise
        t, h = full_t[:, 0], full_h[:, 0]
        hits = (t < h) + np.where(t == h, tied, 0.0)
        clusters = people.nearest(t, near_t[:, 0], h, near_h[:, 0], sample=False)
        step = max(step, clustered_se(hits, clusters))
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
        _se(tail_s, n_s, tail_h, len(p.holdout_hash)),
        f"{tail_s:.1%} of synthetic rows have a nearest/second-nearest training distance ratio in "
        f"the holdout's low tail against {tail_h:.1%} of holdout rows (excess > {limit})",
    )
    metrics["nndr_low_tail"] = round(tail_s, 4)
    charts["dcr"] = distance_histogram(to_t[:, 0], h_to_t[:, 0])
    lap("nndr")


def _membership_attack(
    points: _Points,
    synthetic: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: _Verdicts,
    metrics: dict[str, Any],
    charts: dict[str, Any],
    seed: int,
) -> None:
    """The attacker sees every synthetic row the checks read, not only the distance sample."""
    p = points
    every, every_hash = p.encoder.transform(synthetic), row_hashes(synthetic, contract)
    members, _ = nearest(p.train, every, same=np.isin(p.train_hash, every_hash))
    outsiders, _ = nearest(p.holdout, every, same=np.isin(p.holdout_hash, every_hash))
    mia = attack(members[:, 0], outsiders[:, 0], seed=seed)
    (low, high), tpr = mia["auc_ci"], mia["tpr_at_1pct_fpr"]
    verdicts.judge(
        "membership attack ROC AUC (0.5 ideal)",
        mia["auc"],
        0.5,
        thresholds.max_attack_auc,
        (high - low) / (2 * 1.96),
        f"a distance-based membership attack tells training rows from unseen rows with ROC AUC "
        f"{mia['auc']:.3f} (95% CI {low:.3f}-{high:.3f}; > {thresholds.max_attack_auc})",
    )
    verdicts.judge(
        "membership attack TPR at 1% FPR (0.01 ideal)",
        tpr,
        0.01,
        thresholds.max_attack_tpr,
        _se(tpr, len(p.train_hash)),
        f"the membership attack finds {tpr:.1%} of training rows at a 1% false positive rate "
        f"(> {thresholds.max_attack_tpr:.0%})",
    )
    metrics.update(attack_auc=mia["auc"], attack_tpr_at_1pct_fpr=tpr)
    charts["attack_auc_ci"] = mia["auc_ci"]


def _rare_combinations(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: _Verdicts,
) -> dict[str, Any]:
    qis = contract.with_role(Role.quasi_identifier)
    if not qis:
        return {"skipped": "no modelled quasi-identifier declared"}
    edges = qi_edges(train, contract, qis)
    train_keys = qi_keys(train, contract, qis, edges)
    k = thresholds.rare_count
    rate_s, distinct = rare_share(train_keys, qi_keys(synthetic, contract, qis, edges), k)
    rate_h, _ = rare_share(train_keys, qi_keys(holdout, contract, qis, edges), k)
    ratio = rate_s / rate_h if rate_h > 0 else (1.0 if rate_s == 0 else float("inf"))
    verdicts.judge(
        f"rare quasi-identifier combinations (< {k} in training) reproduced: synthetic rate / "
        "holdout rate",
        ratio,
        1.0,
        thresholds.max_rare_ratio,
        _ratio_se(rate_s, len(synthetic), rate_h, len(holdout)),
        f"{rate_s:.1%} of synthetic rows reproduce a quasi-identifier combination that is rare in "
        f"training, against {rate_h:.1%} of holdout rows (ratio {ratio:.2f} > "
        f"{thresholds.max_rare_ratio})",
    )
    return {"synthetic": round(rate_s, 4), "holdout": round(rate_h, 4), "combinations": distinct}


def _anonymeter(
    run: Callable[[Samples], dict[str, Any]],
    samples: Samples,
    thresholds: PrivacyChecks,
    verdicts: _Verdicts,
) -> dict[str, Any] | None:
    try:
        result = run(samples)
    except (AnonymeterUnavailable, RuntimeError) as error:
        verdicts.reasons.append(f"anonymeter: {error}")
        return None
    for error in result.get("errors", []):
        verdicts.reasons.append(f"anonymeter: an evaluator failed ({error})")
    for measure, risk, limit in _anonymeter_risks(result, thresholds):
        low, high = risk["ci"]
        verdicts.judge(
            f"anonymeter {measure} risk",
            risk["risk"],
            0.0,
            limit,
            (high - low) / (2 * 1.96),
            f"anonymeter {measure} risk {risk['risk']:.3f} (95% CI {low:.3f}-{high:.3f}) is above "
            f"{limit}",
        )
    return result


def _anonymeter_risks(result: dict[str, Any], thresholds: PrivacyChecks):
    """(measure, {"risk", "ci"}, limit) for every evaluator that ran."""
    limits = thresholds.anonymeter
    evaluators = result.get("evaluators", {})
    found = [
        (
            f"singling out ({mode})",
            evaluators.get(f"singling_out_{mode}"),
            limits.max_singling_out_risk,
        )
        for mode in ("univariate", "multivariate")
    ]
    found.append(("linkability", evaluators.get("linkability"), limits.max_linkability_risk))
    found += [
        (f"inference of {column!r}", found_, limits.max_inference_risk)
        for column, found_ in evaluators.get("inference", {}).items()
    ]
    for measure, evaluator, limit in found:
        if evaluator and evaluator.get("status") == "ok":
            risk = evaluator["risk"]
            yield measure, {"risk": risk["value"], "ci": risk["ci"]}, limit


def _identifiers(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    contract: Contract,
    real_identifiers: pd.DataFrame | None,
    thresholds: PrivacyChecks,
    verdicts: _Verdicts,
) -> list[dict[str, Any]]:
    """PII-looking values in modelled string columns (counts; `pii.enabled`), and fakes equal to
    a real value (always)."""
    texty = [
        c.name
        for c in contract.modelled
        if thresholds.pii.enabled
        and c.type in (ColumnType.categorical, ColumnType.text)
        and Role.pii not in c.roles
    ]
    found = [{"data": "synthetic", **r} for r in pii_scan.scan(synthetic, texty)]
    if thresholds.pii.action == "fail":
        verdicts.reasons += [
            f"column {r['column']!r}: {r['matches']} synthetic values look like {r['kind']} "
            "(declare the column role: pii, or set checks.privacy.pii.action: warn)"
            for r in found
        ]
    found += [{"data": "real", **r} for r in pii_scan.scan(train, texty)]
    if real_identifiers is not None:
        for c in contract.columns:
            if c.is_faked and c.name in real_identifiers and c.name in synthetic:
                real = set(real_identifiers[c.name].dropna().astype(str))
                hits = int(synthetic[c.name].dropna().astype(str).isin(real).sum())
                if hits:
                    verdicts.reasons.append(
                        f"column {c.name!r}: {hits} replaced identifiers equal a real value"
                    )
    return found


def distance_histogram(
    synthetic: np.ndarray, holdout: np.ndarray, bins: int = 20
) -> dict[str, Any]:
    """Distance to the closest training record: synthetic vs holdout, shares per bin (the last bin
    holds everything beyond the 99th percentile)."""
    top = float(np.quantile(np.concatenate([synthetic, holdout]), 0.99)) or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    s, _ = np.histogram(np.clip(synthetic, 0, top), edges)
    h, _ = np.histogram(np.clip(holdout, 0, top), edges)
    return {
        "edges": [round(float(e), 4) for e in edges],
        "synthetic": [round(float(v), 4) for v in s / max(len(synthetic), 1)],
        "holdout": [round(float(v), 4) for v in h / max(len(holdout), 1)],
    }
