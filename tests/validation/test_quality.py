"""Quality, utility and detection on the real Adult sample: the gate tells a bad engine from a good one."""

import numpy as np
import pandas as pd
import pytest

from schemas import load_spec
from schemas.spec import DetectionChecks, QualityChecks, Role, UtilityChecks
from synth.io import build_contract, read_source, split_holdout
from synth.tabular import make_engine
from tests.builders import REPO
from validation import detection, fold, quality, utility
from validation.profile import distributions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adult_run():
    spec = load_spec(REPO / "examples" / "adult.yaml")
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(typed, share=0.2, seed=0)
    modelled = [c.name for c in contract.modelled]
    synthetic = {}
    for name in ("independent", "gaussian_copula"):
        engine = make_engine(name)
        engine.fit(train[modelled], contract, seed=0)
        synthetic[name] = engine.sample(len(train), seed=1)
    return contract, train, holdout, synthetic


def _checks(contract, train, holdout, synthetic):
    return [
        quality.check(train, synthetic, None, contract=contract, thresholds=QualityChecks()),
        utility.check(train, synthetic, holdout, contract=contract, thresholds=UtilityChecks()),
        detection.check(train, synthetic, None, contract=contract, thresholds=DetectionChecks()),
    ]


def test_independent_columns_fail_on_pair_dependence_and_utility(adult_run) -> None:
    contract, train, holdout, synthetic = adult_run
    verdict = fold(_checks(contract, train, holdout, synthetic["independent"]))
    assert not verdict.passed
    reasons = " | ".join(verdict.reasons)
    assert "quality: pair dependence" in reasons and "below the minimum 0.15" in reasons
    assert "utility: TSTR/TRTR roc_auc ratio" in reasons and "below the minimum 0.8" in reasons
    assert verdict.results[1].metrics["ratio"] < 0.7


def test_gaussian_copula_passes_the_default_thresholds(adult_run) -> None:
    contract, train, holdout, synthetic = adult_run
    verdict = fold(_checks(contract, train, holdout, synthetic["gaussian_copula"]))
    assert verdict.passed, verdict.reasons
    scores = verdict.headline()
    assert scores["quality"]["column_shapes"] > 0.85 and scores["quality"]["diagnostic"] == 1.0
    assert 0.5 <= scores["detection"]["roc_auc"] < 0.6


def test_copied_rows_are_undetectable_and_noise_is_detected(adult_run) -> None:
    contract, train, _, _ = adult_run
    copy = detection.check(
        train,
        train.sample(frac=1.0, random_state=3),
        None,
        contract=contract,
        thresholds=DetectionChecks(),
    )
    assert copy.passed and copy.metrics["roc_auc"] < 0.55
    noise = train.assign(age=np.random.default_rng(0).uniform(17, 90, len(train)).round())
    noisy = detection.check(
        train, noise, None, contract=contract, thresholds=DetectionChecks(max_auc=0.55)
    )
    assert not noisy.passed and "above the maximum 0.55" in noisy.reasons[0]


def test_utility_fails_when_the_synthetic_target_has_one_class(adult_run) -> None:
    contract, train, holdout, synthetic = adult_run
    one_class = synthetic["gaussian_copula"].assign(income=train["income"].iloc[0])
    result = utility.check(train, one_class, holdout, contract=contract, thresholds=UtilityChecks())
    assert not result.passed and "one class only" in result.reasons[0]


def test_a_numerical_target_is_scored_with_r2(adult_run) -> None:
    contract, train, holdout, synthetic = adult_run
    columns = {c.name: c for c in contract.columns}
    spec = columns["hours-per-week"].spec.model_copy(update={"role": Role.target})
    income = columns["income"].spec.model_copy(update={"role": None})
    regression = _replace(contract, {"hours-per-week": spec, "income": income})
    result = utility.check(
        train,
        synthetic["gaussian_copula"],
        holdout,
        contract=regression,
        thresholds=UtilityChecks(min_ratio=0.0),
    )
    assert result.metrics["metric"] == "r2" and result.metrics["target"] == "hours-per-week"
    assert 0.0 < result.metrics["trtr"] < 1.0


def test_distributions_never_name_rare_categories_or_extreme_values(adult_run) -> None:
    contract, train, _, synthetic = adult_run
    charts = {
        c["column"]: c
        for c in distributions(train, synthetic["gaussian_copula"], contract, min_count=10)
    }
    counts = train["workclass"].value_counts()
    rare = set(counts[counts < 10].index)
    assert rare == {"Never-worked"} and "Never-worked" not in charts["workclass"]["labels"]
    assert charts["workclass"]["hidden_categories"] == 1
    assert "Holand-Netherlands" not in str(charts)
    gain = charts["capital-gain"]
    assert float(gain["axis"][1]) < train["capital-gain"].max()
    assert abs(sum(gain["real"]) - 1.0) < 1e-3 and abs(sum(gain["synthetic"]) - 1.0) < 1e-3


def _replace(contract, specs):
    from dataclasses import replace

    columns = tuple(
        replace(c, spec=specs[c.name]) if c.name in specs else c for c in contract.columns
    )
    return replace(contract, columns=columns)


def test_association_is_symmetric_with_a_unit_diagonal(adult_run) -> None:
    contract, train, _, synthetic = adult_run
    assoc = quality.association(train, synthetic["independent"], contract)
    real = pd.DataFrame(assoc["real"])
    assert np.allclose(real, real.T) and np.allclose(np.diag(real), 1.0)
    assert assoc["retained"] < 0.15
