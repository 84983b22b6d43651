"""The shared noise helpers: resampled scores agree with scikit-learn, bounds hold their level."""

import numpy as np
from sklearn.metrics import r2_score, roc_auc_score

from validation import noise


def test_unit_weights_reproduce_scikit_learn_scores() -> None:
    rng = np.random.default_rng(0)
    hit = rng.integers(0, 2, 400).astype(bool)
    score = np.round(rng.normal(size=400) + hit, 1)  # rounded: ties count half, as sklearn's
    truth = rng.normal(size=400)
    predicted = truth + rng.normal(size=400)
    ones = np.ones((1, 400))
    assert np.isclose(noise.weighted_auc(hit, score, ones)[0], roc_auc_score(hit, score))
    assert np.isclose(noise.weighted_r2(truth, predicted, ones)[0], r2_score(truth, predicted))


def test_resampled_auc_equals_the_auc_of_the_repeated_rows() -> None:
    rng = np.random.default_rng(1)
    hit, score = rng.integers(0, 2, 60).astype(bool), rng.normal(size=60)
    weights = next(noise.resample_weights(60, seed=3, resamples=5))
    for w in weights:
        rows = np.repeat(np.arange(60), w.astype(int))
        assert np.isclose(
            noise.weighted_auc(hit, score, w[None])[0], roc_auc_score(hit[rows], score[rows])
        )


def test_resamples_are_seeded_and_draw_every_row_count() -> None:
    first = np.concatenate(list(noise.resample_weights(5000, seed=7)))
    again = np.concatenate(list(noise.resample_weights(5000, seed=7)))
    assert first.shape == (noise.RESAMPLES, 5000) and np.array_equal(first, again)
    assert np.all(first.sum(axis=1) == 5000)
    assert not np.array_equal(first, np.concatenate(list(noise.resample_weights(5000, seed=8))))


def test_hanley_mcneil_error_at_chance_is_the_mann_whitney_null() -> None:
    n1, n2 = 120, 80
    assert np.isclose(noise.se_auc(0.5, n1, n2), np.sqrt((n1 + n2 + 1) / (12 * n1 * n2)))
    assert noise.se_auc(0.75, 10_000, 10_000) < 0.005 < noise.se_auc(0.75, 100, 100)


def test_a_value_over_its_limit_by_noise_alone_is_not_beyond_noise() -> None:
    assert not noise.beyond_above(0.78, 0.75, se=0.02, significance=0.01)
    assert noise.beyond_above(0.85, 0.75, se=0.02, significance=0.01)
    assert not noise.beyond_below(0.72, 0.75, se=0.02, significance=0.01)
    assert noise.beyond_below(0.65, 0.75, se=0.02, significance=0.01)
    assert np.isclose(noise.z(0.01), 2.326, atol=1e-3)


def test_prediction_bound_misses_one_more_draw_about_as_often_as_its_level() -> None:
    draws = np.random.default_rng(2).normal(size=(2000, 11))
    bounds = np.array([noise.prediction_lower(row[:10], 0.05) for row in draws])
    miss = np.mean(draws[:, 10] < bounds)
    assert 0.03 < miss < 0.07
