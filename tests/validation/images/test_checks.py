"""Image checks on scikit-learn's digits (8x8, 10 classes) and hand-made points with known answers.

The measures are tested by the order they put real, degraded and collapsed images in, not by
absolute values that depend on the classifier.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from schemas.image_spec import ImageBiasChecks, ImagePrivacyChecks, ImageQualityChecks
from validation import image_metrics as metrics
from validation.images import ImageContract, ImageSide, bias, privacy, quality
from validation.result import CheckResult

CLASSES = [str(c) for c in range(10)]


@dataclass(frozen=True)
class Digits:
    """Training images, and the holdout cut in two: `holdout` the honest baseline, `unseen` real
    images that stand in for a perfect generator."""

    train: torch.Tensor
    train_labels: torch.Tensor
    holdout: torch.Tensor
    holdout_labels: torch.Tensor
    unseen: torch.Tensor
    unseen_labels: torch.Tensor

    def collapsed(self) -> torch.Tensor:
        """One training image per class, repeated for every label of `unseen`."""
        firsts = torch.stack([self.train[self.train_labels == c][0] for c in range(10)])
        return firsts[self.unseen_labels]

    def noised(self, sigma: float = 0.4) -> torch.Tensor:
        noise = torch.randn(self.unseen.shape, generator=torch.Generator().manual_seed(1))
        return (self.unseen + sigma * noise).clamp(-1.0, 1.0)

    def sides(
        self, synthetic: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[ImageSide, ImageSide, ImageSide]:
        """(training, synthetic, holdout) sides; the synthetic images carry `labels` (default:
        the unseen images' labels, or none)."""
        if labels is None:
            labels = self.unseen_labels[: len(synthetic)]
        return (
            ImageSide(self.train, self.train_labels),
            ImageSide(synthetic, labels),
            ImageSide(self.holdout, self.holdout_labels),
        )


def contract(judge=None, sensitive: tuple[str, ...] = ()) -> ImageContract:
    return ImageContract(tuple(CLASSES), sensitive, judge)


def privacy_check(digits: Digits, synthetic: torch.Tensor, thresholds=None) -> CheckResult:
    return privacy.check(
        *digits.sides(synthetic),
        contract=contract(),
        thresholds=thresholds or ImagePrivacyChecks(),
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Small convolutions and 128 x 128 linear algebra run many times faster on one thread when the
    two cores are shared (spinning thread pools wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> Digits:
    data = load_digits()
    x = torch.tensor(data.images / 8.0 - 1.0, dtype=torch.float32).unsqueeze(1)  # 0..16 -> [-1, 1]
    y = torch.tensor(data.target)
    train, rest = train_test_split(
        np.arange(len(y)), test_size=0.4, stratify=data.target, random_state=0
    )
    holdout, unseen = train_test_split(
        rest, test_size=0.5, stratify=data.target[rest], random_state=0
    )
    return Digits(x[train], y[train], x[holdout], y[holdout], x[unseen], y[unseen])


@pytest.fixture(scope="module")
def fitted(digits: Digits) -> tuple[metrics.ImageClassifier, dict]:
    return metrics.fit_classifier(
        digits.train,
        digits.train_labels,
        10,
        seed=0,
        holdout_images=digits.holdout,
        holdout_labels=digits.holdout_labels,
    )


# --- the classifier -------------------------------------------------------------------------------


def test_classifier_recognises_unseen_digits(fitted, digits: Digits) -> None:
    clf, info = fitted
    assert info["holdout_accuracy"] > 0.9
    assert metrics.conditional_accuracy(clf, digits.unseen, digits.unseen_labels) > 0.9
    assert metrics.embed(clf, digits.unseen[:5]).shape == (5, clf.num_features)
    per_class = metrics.per_class_accuracy(clf, digits.unseen, digits.unseen_labels, CLASSES)
    assert sorted(per_class) == list(range(10))
    assert min(per_class.values()) > 0.7


def test_classifier_is_deterministic_for_a_seed(digits: Digits) -> None:
    x, y = digits.train[:256], digits.train_labels[:256]
    first, _ = metrics.fit_classifier(x, y, 10, seed=3, epochs=2)
    second, _ = metrics.fit_classifier(x, y, 10, seed=3, epochs=2)
    other, _ = metrics.fit_classifier(x, y, 10, seed=4, epochs=2)
    assert torch.equal(metrics.embed(first, x), metrics.embed(second, x))
    assert not torch.equal(metrics.embed(first, x), metrics.embed(other, x))


def test_classifier_takes_colour_images_from_8_to_64_pixels() -> None:
    clf = metrics.ImageClassifier(3, 4)
    for size in (8, 13, 28, 64):
        assert clf(torch.zeros(2, 3, size, size)).shape == (2, 4)


# --- the measures ---------------------------------------------------------------------------------


def test_fid_of_identical_features_is_zero() -> None:
    feats = torch.randn(500, 16, generator=torch.Generator().manual_seed(0))
    assert metrics.fid(feats, feats) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(feats, feats + 1.0) == pytest.approx(16.0, rel=1e-4)  # mean shift only


def test_kid_is_unbiased_near_zero_for_one_distribution() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(800, 16, generator=gen), torch.randn(800, 16, generator=gen)
    same, _ = metrics.kid(a, b, subset_size=400)
    shifted, _ = metrics.kid(a, b + 0.5, subset_size=400)
    assert abs(same) < 0.01 < shifted


def test_prdc_on_points_with_known_answers() -> None:
    grid = torch.tensor([[float(i), float(j)] for i in range(6) for j in range(6)])
    assert metrics.prdc(grid, grid.clone(), k=3) | {"density": 1.0} == {
        "precision": 1.0,
        "recall": 1.0,
        "density": 1.0,
        "coverage": 1.0,
    }
    far = grid + 100.0  # nothing of one set lies in the other's neighbourhoods
    assert metrics.prdc(grid, far, k=3) == {
        "precision": 0.0,
        "recall": 0.0,
        "density": 0.0,
        "coverage": 0.0,
    }
    # all fakes on one corner: precise, but they cover only that corner and recall none of the rest
    corner = torch.zeros(36, 2)
    found = metrics.prdc(grid, corner, k=3)
    assert found["precision"] == 1.0
    assert found["coverage"] == pytest.approx(1 / 36)


def test_measures_order_real_then_noised_then_collapsed(fitted, digits: Digits) -> None:
    clf, _ = fitted
    real = metrics.embed(clf, digits.holdout)
    scored = {
        name: metrics.embed(clf, x)
        for name, x in {
            "real": digits.unseen,
            "noised": digits.noised(),
            "collapsed": digits.collapsed(),
            "noise": torch.rand(digits.unseen.shape, generator=torch.Generator().manual_seed(2)) * 2
            - 1,
        }.items()
    }
    fid = {name: metrics.fid(real, f) for name, f in scored.items()}
    kid = {name: metrics.kid(real, f)[0] for name, f in scored.items()}
    prdc = {name: metrics.prdc(real, f) for name, f in scored.items()}
    assert fid["real"] < fid["noised"] < fid["collapsed"]
    assert kid["real"] < kid["noised"] < kid["collapsed"]
    for measure in ("coverage", "recall"):
        assert prdc["real"][measure] > prdc["collapsed"][measure] + 0.5
    assert prdc["noise"]["precision"] < prdc["real"]["precision"] - 0.5


def test_memorisation_measures_copies_against_the_holdout(digits: Digits) -> None:
    copied = metrics.memorisation(digits.train, digits.holdout, digits.train[:300])
    assert copied["memorised_share"] == 1.0
    assert copied["exact_duplicates"] == 1.0
    fresh = metrics.memorisation(digits.train, digits.holdout, digits.unseen)
    assert fresh["memorised_share"] < 0.15
    assert fresh["exact_duplicates"] <= fresh["exact_duplicates_holdout"] + 0.02


# --- the checks -----------------------------------------------------------------------------------


def test_copying_generator_fails_privacy_check(digits: Digits) -> None:
    result = privacy_check(digits, digits.train[:300])
    assert result.name == "image_privacy"
    assert not result.passed
    assert any("identical to a training image" in r for r in result.reasons)
    assert result.metrics["memorised_share"] == 1.0


def test_unseen_real_images_pass_privacy_check(digits: Digits) -> None:
    result = privacy_check(digits, digits.unseen)
    assert result.passed, result.reasons


def test_absolute_duplicate_limit_fails_a_few_copies(digits: Digits) -> None:
    leaked = torch.cat([digits.unseen, digits.train[:3]])
    strict = ImagePrivacyChecks(max_exact_duplicates=0)
    result = privacy_check(digits, leaked, strict)
    assert any("equal a training image" in r for r in result.reasons)


def test_one_near_copy_among_honest_images_fails_by_default(digits: Digits) -> None:
    """A training image moved by less than one grey level hides in the share noise, not here."""
    nudged = (digits.train[:1] + 1.0 / 255.0).clamp(-1, 1)
    leaked = torch.cat([digits.unseen, nudged])
    result = privacy_check(digits, leaked)
    assert result.metrics["near_duplicate_count"] == 1
    assert any("within one grey level" in r for r in result.reasons)
    off = ImagePrivacyChecks(max_near_duplicates=None)
    assert privacy_check(digits, leaked, off).passed


def test_distance_guard_keeps_honest_images_and_drops_copies(digits: Digits) -> None:
    guard = metrics.DistanceGuard(digits.train, digits.holdout, quantile=0.05)
    assert not guard.keep(digits.train[:50]).any()  # copies: distance 0
    kept = float(guard.keep(digits.unseen).float().mean())
    assert 0.85 < kept < 1.0  # unseen real images fall under the holdout's 5% about 5% of the time


def test_unseen_real_images_pass_quality_check(fitted, digits: Digits) -> None:
    clf, _ = fitted
    result = quality.check(
        *digits.sides(digits.unseen, digits.unseen_labels),
        contract=contract(clf),
        thresholds=ImageQualityChecks(),
    )
    assert result.name == "image_quality"
    assert result.passed, result.reasons
    assert result.metrics["coverage"] > 0.8
    assert [row["class"] for row in result.details] == CLASSES


def test_images_with_shuffled_labels_fail_conditional_accuracy(fitted, digits: Digits) -> None:
    clf, _ = fitted
    shuffled = digits.unseen_labels[
        torch.randperm(len(digits.unseen_labels), generator=torch.Generator().manual_seed(0))
    ]
    result = quality.check(
        *digits.sides(digits.unseen, shuffled),
        contract=contract(clf),
        thresholds=ImageQualityChecks(),
    )
    assert not result.passed
    assert any(r.startswith("conditional accuracy") for r in result.reasons)


def test_collapsed_generator_fails_coverage(fitted, digits: Digits) -> None:
    clf, _ = fitted
    result = quality.check(
        *digits.sides(digits.collapsed(), digits.unseen_labels),
        contract=contract(clf),
        thresholds=ImageQualityChecks(),
    )
    assert not result.passed
    assert any(r.startswith("coverage") for r in result.reasons)
    assert not any(r.startswith("conditional accuracy") for r in result.reasons)


def judged(accuracy: dict) -> CheckResult:
    """A quality result carrying only the per-class accuracy the bias check reads."""
    return CheckResult("image_quality", True, charts={"per_class_accuracy": accuracy})


def test_a_class_without_synthetic_images_fails_bias_check(digits: Digits) -> None:
    labels = digits.unseen_labels[digits.unseen_labels != 7]
    accuracy = {c: 0.95 for c in range(10)}
    result = bias.check(
        *digits.sides(digits.unseen[: len(labels)], labels),
        contract=contract(),
        thresholds=ImageBiasChecks(),
        quality=judged(accuracy),
    )
    assert result.name == "image_bias"
    assert not result.passed
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("class '7' has no synthetic images")
    assert result.metrics["classes_missing"] == 1


def test_balanced_classes_and_groups_pass_bias_check(digits: Digits) -> None:
    accuracy = {str(c): 0.95 for c in range(10)}  # keyed by class name works too
    real = pd.DataFrame({"pen": np.where(np.arange(len(digits.train)) % 3, "ink", "pencil")})
    synth = pd.DataFrame({"pen": np.where(np.arange(len(digits.unseen)) % 3, "ink", "pencil")})
    result = bias.check(
        ImageSide(digits.train, digits.train_labels, real),
        ImageSide(digits.unseen, digits.unseen_labels, synth),
        ImageSide(digits.holdout, digits.holdout_labels),
        contract=contract(sensitive=("pen",)),
        thresholds=ImageBiasChecks(),
        quality=judged(accuracy),
    )
    assert result.passed, result.reasons
    assert {row.get("group") for row in result.details} >= {"pen = ink", "pen = pencil"}


def test_a_vanished_group_and_uneven_accuracy_fail_bias_check(digits: Digits) -> None:
    accuracy = {c: (0.4 if c == 3 else 0.98) for c in range(10)}
    real = pd.DataFrame({"pen": np.where(np.arange(len(digits.train)) % 3, "ink", "pencil")})
    synth = pd.DataFrame({"pen": ["ink"] * len(digits.unseen)})
    result = bias.check(
        ImageSide(digits.train, digits.train_labels, real),
        ImageSide(digits.unseen, digits.unseen_labels, synth),
        ImageSide(digits.holdout, digits.holdout_labels),
        contract=contract(sensitive=("pen",)),
        thresholds=ImageBiasChecks(),
        quality=judged(accuracy),
    )
    assert any("'pen = pencil' has no synthetic images" in r for r in result.reasons)
    assert any(r.startswith("per-class accuracy spreads") for r in result.reasons)
