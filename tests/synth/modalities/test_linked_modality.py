"""The linked modality's steps on the shipped growth curves (no Prefect): an honest run passes every
linked check; the same run with one synthetic pig replaced by a copy of a training pig's whole
history fails the privacy check by subject; a DP run spends at most its budget, per subject."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas.load import load_spec
from synth.modalities import Sampled
from tests.builders import modality_steps, registered_checks

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "linked_pigs.yaml"


def _run(tmp_path: Path, example: Path = EXAMPLE, **overrides):
    spec = load_spec(example, overrides={"model.cache": False, **overrides})
    return (spec, *modality_steps(spec, tmp_path / "staging"))


def _checks(spec, modality, prepared, fitted, sampled) -> dict:
    return registered_checks(spec, modality, prepared, fitted, sampled)


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("honest"))


def test_an_honest_run_passes_every_linked_check(honest) -> None:
    results = _checks(*honest)
    assert {n: r.reasons for n, r in results.items() if not r.passed} == {}
    assert results["expectations"].metrics["broken_links"] == 0


def test_one_copied_training_history_fails_the_privacy_check(honest) -> None:
    spec, modality, prepared, fitted, sampled = honest
    synthetic = {name: frame.copy() for name, frame in sampled.evidence.items()}
    real_pig = prepared.train["pigs"].iloc[[5]]
    victim = synthetic["pigs"]["pig"].iloc[0]
    history = prepared.train["weighings"]
    history = history[history["pig"] == real_pig["pig"].iloc[0]].assign(pig=victim)
    row = real_pig.assign(pig=victim)
    synthetic["pigs"] = pd.concat([row, synthetic["pigs"].iloc[1:]], ignore_index=True)
    others = synthetic["weighings"][synthetic["weighings"]["pig"] != victim]
    synthetic["weighings"] = pd.concat([history, others], ignore_index=True)
    copied = Sampled(sampled.staged, sampled.results, synthetic)
    results = _checks(spec, modality, prepared, fitted, copied)
    assert not results["privacy"].passed
    assert results["privacy"].metrics["copied_subjects"] == 1


def test_dp_per_subject_spends_at_most_its_budget(tmp_path: Path) -> None:
    spec, modality, prepared, fitted, sampled = _run(
        tmp_path,
        example=EXAMPLE.with_name("linked_wages.yaml"),
        **{"model.differential_privacy": {"epsilon": 4.0}, "model.params": {"epochs": 2}},
    )
    dp = fitted.engine.info()["differential_privacy"]
    assert 0 < dp["epsilon_spent"] <= 4.0
    info = modality.run_info(None, prepared, fitted, sampled, spec)
    assert info["run"]["differential_privacy"] == dp
    assert set(sampled.evidence["wages"]["id"]) <= set(sampled.evidence["wages_subjects"]["id"])
