"""Small real tables: a perfect generator (fresh real rows) passes the quality, utility and
detection gates at their defaults, and broken generators still fail where the signal is real.

An honest draw is emulated by splitting a real table three ways: training rows, a holdout, and
unseen real rows standing in for the synthetic output."""

import itertools

import numpy as np
import pandas as pd
import pytest

from schemas import load_spec
from schemas.spec import DatasetSchema, DetectionChecks, QualityChecks, UtilityChecks
from synth.io import build_contract, read_source
from synth.tabular import make_engine
from tests.builders import REPO
from validation import detection, quality, utility

pytestmark = pytest.mark.slow


def _sklearn(name: str) -> pd.DataFrame:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def _table(name: str):
    if name == "adult":
        spec = load_spec(REPO / "examples" / "adult.yaml")
        contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
        return contract, typed.sample(n=2000, random_state=0).reset_index(drop=True)
    else:
        frame = _sklearn(name)
        kinds = {c: "numerical" for c in frame}
        target = "target"
        if name == "wine":
            kinds[target] = "categorical"
    columns = {c: {"type": kind} for c, kind in kinds.items()}
    columns[target]["role"] = "target"
    return build_contract(frame, DatasetSchema(columns=columns), label=name)


def _three_way(typed: pd.DataFrame, rows: int, seed: int):
    """(train, holdout, unseen): an 80/20 split of `rows` rows, and as many unseen rows as train."""
    order = np.random.default_rng(seed).permutation(len(typed))
    holdout = round(0.2 * rows)
    train = min(rows - holdout, (len(typed) - holdout) // 2)
    cuts = np.cumsum([0, train, holdout, train])
    return [
        typed.iloc[np.sort(order[a:b])].reset_index(drop=True) for a, b in itertools.pairwise(cuts)
    ]


@pytest.mark.parametrize(("name", "rows"), [("wine", 178), ("diabetes", 442), ("adult", 400)])
def test_fresh_real_rows_pass_quality_utility_and_detection_at_the_defaults(name, rows) -> None:
    contract, typed = _table(name)
    for seed in range(3):
        train, holdout, unseen = _three_way(typed, rows, seed)
        results = [
            quality.check(
                train, unseen, holdout, contract=contract, thresholds=QualityChecks(), seed=seed
            ),
            utility.check(
                train, unseen, holdout, contract=contract, thresholds=UtilityChecks(), seed=seed
            ),
            detection.check(
                train, unseen, None, contract=contract, thresholds=DetectionChecks(), seed=seed
            ),
        ]
        failed = [r.reasons for r in results if not r.passed]
        assert not failed, (name, seed, failed)


def test_independent_columns_and_a_shuffled_target_fail_utility_on_a_small_table() -> None:
    # 1,000 rows: a 200-row holdout. With 80 (a 400-row table) a useless model's AUC of 0.58
    # is within noise of 0.8 x 0.87: an AUC ratio cannot convict on so few holdout rows.
    contract, typed = _table("adult")
    for seed in range(2):
        train, holdout, unseen = _three_way(typed, 1000, seed)
        engine = make_engine("independent")
        engine.fit(train[[c.name for c in contract.modelled]], contract, seed=seed)
        shuffled = unseen.assign(income=unseen["income"].sample(frac=1.0, random_state=seed).values)
        for broken in (engine.sample(len(train), seed=seed), shuffled):
            result = utility.check(
                train, broken, holdout, contract=contract, thresholds=UtilityChecks(), seed=seed
            )
            assert not result.passed, result.metrics
            assert "beyond sampling noise" in result.reasons[0]
            assert result.metrics["ratio_upper_bound"] < 0.8


def test_quality_below_its_minimum_passes_only_within_the_noise_of_unseen_real_rows() -> None:
    contract, typed = _table("wine")
    train, holdout, unseen = _three_way(typed, 178, 0)
    strict = QualityChecks(min_column_shapes=0.99, min_pair_trends=0.99)
    honest = quality.check(train, unseen, holdout, contract=contract, thresholds=strict)
    assert honest.passed, honest.reasons
    assert honest.metrics["column_shapes"] >= honest.metrics["column_shapes_floor"]
    rng = np.random.default_rng(1)
    distorted = unseen.assign(
        **{
            c: unseen[c].to_numpy() * rng.uniform(0.5, 1.5, len(unseen))
            for c in unseen
            if c != "target"
        }
    )
    broken = quality.check(train, distorted, holdout, contract=contract, thresholds=strict)
    assert not broken.passed and "beyond sampling noise" in broken.reasons[0]
    without_holdout = quality.check(train, unseen, None, contract=contract, thresholds=strict)
    assert not without_holdout.passed  # no reference: the minimums alone, as before


def test_detection_on_few_rows_fails_only_beyond_the_noise_of_its_auc() -> None:
    contract, typed = _table("wine")
    train, _, unseen = _three_way(typed, 178, 0)
    tight = DetectionChecks(max_auc=0.5)
    honest = detection.check(train, unseen, None, contract=contract, thresholds=tight)
    assert honest.passed and honest.metrics["roc_auc_lower_bound"] < 0.5
    shifted = unseen.assign(alcohol=unseen["alcohol"] + 2 * unseen["alcohol"].std())
    caught = detection.check(train, shifted, None, contract=contract, thresholds=tight)
    assert not caught.passed and caught.metrics["roc_auc_lower_bound"] > 0.5
