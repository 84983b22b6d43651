"""Text measures on real free text (Debian's package descriptions, examples/data): an honest
generator (real texts no engine saw) passes at several seeds, a copier of training texts fails
memorisation, and nothing but numbers leaves the measures, a canary sentence of three rows included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.builders import REPO
from validation import text

CANARY = "Zyxqwv Canarypii keeps the vault code 4471-9023-5518 under the blue stone."


@pytest.fixture(scope="module")
def packages() -> pd.DataFrame:
    return pd.read_parquet(REPO / "examples" / "data" / "debian_packages.parquet")


def _split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    train = frame.iloc[order[:2400]].reset_index(drop=True)
    holdout = frame.iloc[order[2400:2700]].reset_index(drop=True)
    unseen = frame.iloc[order[2700:]].reset_index(drop=True)
    return train, holdout, unseen


def _measure(train, holdout, synthetic, column="description", seed=0) -> text.TextMeasures:
    labels = (train.section, holdout.section, synthetic.section)
    return text.measure(
        train[column].tolist(),
        holdout[column].tolist(),
        synthetic[column].tolist(),
        labels=labels,
        seed=seed,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("column", ["description", "summary"])
def test_real_texts_no_engine_saw_pass(packages: pd.DataFrame, seed: int, column: str) -> None:
    train, holdout, unseen = _split(packages, seed)
    measures = _measure(train, holdout, unseen, column, seed)
    assert text.judge(measures) == [], measures.to_metrics()
    assert measures.synthetic["detector_auc"] < 0.6


@pytest.mark.parametrize("column", ["description", "summary"])
def test_a_copier_of_training_texts_fails_memorisation(packages: pd.DataFrame, column: str) -> None:
    train, holdout, _ = _split(packages, 0)
    copies = train.sample(300, random_state=1).reset_index(drop=True)
    reasons = text.judge(_measure(train, holdout, copies, column))
    assert any(r.startswith("exact_copy_share") for r in reasons), reasons
    assert any(r.startswith("rare_span_share") for r in reasons), reasons


def test_a_paraphrasing_copier_is_caught_by_its_spans(packages: pd.DataFrame) -> None:
    """Texts pasted with a word changed every 12 words are no exact copy, yet share rare spans."""
    train, holdout, _ = _split(packages, 0)
    copies = train.sample(300, random_state=2).reset_index(drop=True)

    def reword(t: str) -> str:
        words = t.split()
        return " ".join("very" if i % 12 == 11 else w for i, w in enumerate(words))

    copies = copies.assign(description=copies.description.map(reword))
    reasons = text.judge(_measure(train, holdout, copies))
    assert any(r.startswith("rare_span_share") for r in reasons), reasons


def test_text_that_ignores_its_row_fails_coherence(packages: pd.DataFrame) -> None:
    train, holdout, unseen = _split(packages, 0)
    shuffled = unseen.assign(
        description=unseen.description.sample(frac=1, random_state=3).to_numpy()
    )
    reasons = text.judge(_measure(train, holdout, shuffled))
    assert any(r.startswith("coherence_accuracy") for r in reasons), reasons


def test_a_canary_sentence_of_three_rows_leaves_only_numbers(packages: pd.DataFrame) -> None:
    train, holdout, unseen = _split(packages, 0)
    train = train.copy()
    train.loc[:2, "description"] = train.loc[:2, "description"] + " " + CANARY
    leaked = unseen.copy()
    leaked.loc[:9, "description"] = CANARY  # a generator that repeats it, ten times
    measures = _measure(train, holdout, leaked)
    metrics = measures.to_metrics()
    assert all(isinstance(v, int | float) for v in metrics.values())
    reasons = text.judge(measures)
    flat = repr(metrics) + repr(reasons)
    for part in ("Zyxqwv", "Canarypii", "4471", "vault", "blue stone"):
        assert part not in flat
    assert measures.synthetic["rare_span_share"] > measures.reference["rare_span_share"]


def test_a_reproduced_rare_identifier_is_counted(packages: pd.DataFrame) -> None:
    train, holdout, unseen = _split(packages, 0)
    train = train.copy()
    train.loc[0, "description"] += " Write to jane.roe.1987@example.org for the key."
    leaked = unseen.copy()
    leaked.loc[:29, "description"] = "Contact jane.roe.1987@example.org today."
    measures = _measure(train, holdout, leaked)
    assert measures.synthetic["identifier_share"] >= 0.09
    assert any(r.startswith("identifier_share") for r in text.judge(measures))


def test_report_samples_show_no_rare_word_and_no_real_span(packages: pd.DataFrame) -> None:
    train, _, _ = _split(packages, 0)
    texts = train.description.tolist()
    texts[:3] = [f"{t} {CANARY}" for t in texts[:3]]
    candidates = [
        texts[10],  # a training text: shares every span
        "This package provides the Zyxqwv tool for files.",  # a word of no training text
        "Contact me at someone@example.org for the files.",  # an identifier
        "This package contains the files for the library.",
        "This is a library for the development of programs.",
    ]
    shown = text.safe_samples(texts, candidates, min_count=10, span=8)
    assert candidates[0] not in shown and not any("Zyxqwv" in s or "@" in s for s in shown)
    assert "This package contains the files for the library." in shown
