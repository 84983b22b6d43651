"""Free text under differential privacy: the vocabulary is a noised, thresholded count (a word of
three texts is never kept), the text model trains with DP-SGD, and the table's and the text's
models together spend at most the job's epsilon."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import norm

from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.tabular.autoregressive.engine import AutoregressiveEngine
from synth.tabular.autoregressive.text_dp import gaussian_sigma, private_words, threshold

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "debian_packages.parquet"
CANARY = "Quorblex vantiphrase submodule of Ysolde"


@pytest.mark.parametrize(("epsilon", "delta"), [(0.5, 1e-6), (1.0, 1e-5), (8.0, 1e-7)])
def test_the_vocabulary_noise_is_the_analytic_gaussian_and_below_the_classic_bound(
    epsilon: float, delta: float
) -> None:
    sigma = gaussian_sigma(epsilon, delta)
    a, b = 1 / (2 * sigma), epsilon * sigma
    spent = norm.cdf(a - b) - math.exp(epsilon) * norm.cdf(-a - b)
    assert spent <= delta and spent > delta * 0.99  # the least noise that holds, not more
    if epsilon < 1:
        assert sigma < math.sqrt(2 * math.log(1.25 / delta)) / epsilon  # Dwork and Roth's
    # one text's words (all of weight 1 at t = 1) clear the bar with probability <= delta
    assert norm.sf((threshold(sigma, delta) - 1) / sigma) <= delta


def test_a_word_of_three_texts_never_enters_the_vocabulary() -> None:
    texts = ["a library for parsing files"] * 3000 + [f"{CANARY} files"] * 3
    for seed in range(20):
        words, info = private_words(texts, epsilon=2.0, delta=1e-6, min_count=10, seed=seed)
        assert "Quorblex" not in words and "Ysolde" not in words
        assert {"library", "files"} <= set(words) and info["words"] == len(words)
    none, _ = private_words(texts[:40], epsilon=0.05, delta=1e-6, min_count=10, seed=0)
    assert none == []  # too little budget for 40 texts: nothing, rather than a leak


@pytest.mark.slow
def test_table_and_text_together_spend_at_most_the_budget(tmp_path: Path) -> None:
    frame = pd.read_parquet(DATA, columns=["section", "priority", "summary"]).head(1200)
    frame.loc[[5, 500, 900], "summary"] = CANARY
    schema = DatasetSchema(
        columns={
            "section": {"type": "categorical"},
            "priority": {"type": "categorical"},
            "summary": {"type": "text", "max_length": 12},
        }
    )
    contract, typed = build_contract(frame, schema, label="t", written=frozenset({"summary"}))
    engine = AutoregressiveEngine(epsilon=8.0, delta=1e-5, text_max_seconds=60, text_hidden=64)
    engine.fit(typed, contract, seed=0)
    dp = engine.info()["differential_privacy"]
    assert dp["epsilon_budget"] == 8.0 and dp["epsilon_spent"] <= 8.0
    assert set(dp["per_model"]) == {"table", "text:summary"}
    assert dp["epsilon_spent"] == pytest.approx(sum(dp["per_model"].values()), abs=1e-3)
    assert dp["delta"] == pytest.approx(1e-5)
    text = engine.info()["text"]["summary"]["privacy"]
    assert text["epsilon_budget"] == pytest.approx(4.0) and text["epsilon_spent"] <= 4.0
    assert text["vocabulary"]["words"] > 0
    out = engine.sample(300, seed=1)
    assert out["summary"].map(type).eq(str).all()
    assert not out["summary"].str.contains("Quorblex|vantiphrase|Ysolde").any()
    assert "Quorblex" not in engine._texts["summary"].config["words"]
    again = AutoregressiveEngine.load(tmp_path, manifest_sha256=engine.save(tmp_path))
    assert again.sample(50, seed=2).equals(engine.sample(50, seed=2))
    conditioned = engine.sample(50, seed=3, conditions={"section": "doc"})
    assert (conditioned["section"] == "doc").all() and len(conditioned["summary"]) == 50
