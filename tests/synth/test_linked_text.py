"""A child table's free text in the linked engine, on real Debian package summaries under teams
(a maintainer's packages in one section): written by its language model given the parent and
the row, never a word fewer than `text_min_count` training texts use, saved and reloaded as
tensors and JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.load import spec_from_dict
from schemas.relations import Relations, TableLink
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.linked.engine import LinkedEngine
from synth.tabular.autoregressive.text import split_words
from tests.builders import debian_teams
from validation.text import tokens

RARE = "zqxwrare"  # planted in 3 training summaries: fewer than text_min_count (10)
QUICK = {"epochs": 30, "patience": 3, "width": 16, "text_epochs": 12, "text_hidden": 96}


def _tables() -> tuple[dict[str, pd.DataFrame], Relations]:
    teams, packages = debian_teams()
    packages.loc[[5, 300, 600], "summary"] += f" {RARE}"
    parent, teams = build_contract(
        teams,
        DatasetSchema(
            columns={"team": {"type": "id", "role": "key"}, "section": {"type": "categorical"}}
        ),
        label="teams",
    )
    columns = {
        "package": {"type": "id", "role": "key"},
        "team": {"type": "id"},
        "architecture": {"type": "categorical"},
        "installed_size_kb": {"type": "numerical"},
        "summary": {"type": "text", "max_length": 12},
    }
    child, packages = build_contract(
        packages, DatasetSchema(columns=columns), label="packages", written=frozenset({"summary"})
    )
    relations = Relations(
        (
            TableLink(name="teams", contract=parent, primary_key="team"),
            TableLink(
                name="packages",
                contract=child,
                primary_key="package",
                parent="teams",
                foreign_key="team",
            ),
        )
    )
    return {"teams": teams, "packages": packages}, relations


@pytest.fixture(scope="module")
def fitted() -> tuple[LinkedEngine, dict[str, pd.DataFrame]]:
    tables, relations = _tables()
    engine = LinkedEngine(**QUICK)
    engine.fit(tables, relations, seed=0)
    return engine, tables


def _share(texts: pd.Series, word: str) -> float:
    return float(texts.map(lambda t: word in tokens(t)).mean())


def test_a_child_text_follows_its_generated_parent_and_never_writes_a_rare_word(fitted) -> None:
    engine, real = fitted
    model = engine._texts["packages"].models["summary"]
    table = engine._models["packages"]
    assert model.config["vocab"] == [*table.context, *table.own_vocab]  # parent's tokens, then own
    docs = engine.sample(150, seed=1, conditions={"section": "doc"})["packages"]["summary"]
    python = engine.sample(150, seed=1, conditions={"section": "python"})["packages"]["summary"]
    assert len(docs) > 100 and len(python) > 100
    # the parent's section changes what its packages' summaries say
    assert _share(docs, "documentation") > _share(python, "documentation") + 0.3
    assert _share(python, "python") > _share(docs, "python") + 0.3
    words = {t for s in real["packages"]["summary"] for t in tokens(s)}
    written = [t for s in pd.concat([docs, python]) for t in tokens(s)]
    assert written and set(written) <= words  # real words only, no Faker lorem ipsum
    assert RARE not in written and not pd.concat([docs, python]).str.contains(RARE).any()
    assert "summary" in engine.info()["text"]["packages"]


def test_a_saved_linked_text_model_reloads_to_the_same_texts(fitted, tmp_path: Path) -> None:
    engine, _ = fitted
    digest = engine.save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("text-*.pt")) == ["text-1-0.pt"]
    loaded = LinkedEngine.load(tmp_path, manifest_sha256=digest)
    before = engine.sample(40, seed=3)["packages"]
    after = loaded.sample(40, seed=3)["packages"]
    pd.testing.assert_frame_equal(before, after)


def _linked(**model: object) -> dict:
    return {
        "kind": "linked",
        "name": "teams",
        "tables": [
            {
                "name": "teams",
                "source": {"kind": "parquet", "path": "teams.parquet"},
                "schema": {"columns": {"team": {"type": "id"}, "section": {"type": "categorical"}}},
                "primary_key": "team",
            },
            {
                "name": "packages",
                "source": {"kind": "parquet", "path": "packages.parquet"},
                "schema": {
                    "columns": {
                        "team": {"type": "id"},
                        "summary": {"type": "text", "generate": "model"},
                    }
                },
                "foreign_keys": [{"column": "team", "parent": "teams"}],
            },
        ],
        "model": model,
    }


def _spec(raw: dict):
    return spec_from_dict(raw, label="job.yaml", base_dir=Path("."))


def test_linked_text_is_written_under_differential_privacy_too() -> None:
    spec = _spec(_linked())
    assert spec.written_text() == {"teams": frozenset(), "packages": frozenset({"summary"})}
    auto = _linked(differential_privacy={"epsilon": 5})
    auto["tables"][1]["schema"]["columns"]["summary"]["generate"] = "auto"
    assert _spec(auto).written_text()["packages"] == frozenset({"summary"})
    assert _spec(_linked(differential_privacy={"epsilon": 5})).written_text()["packages"]


def test_a_child_text_under_dp_is_private_per_subject_and_within_the_whole_budget() -> None:
    """Two tables' models and the summary's: the budget split three ways, the text's vocabulary
    and DP-SGD per team (a team writes up to 4 summaries), the spends summed within epsilon."""
    tables, relations = _tables()
    engine = LinkedEngine(
        **{**QUICK, "epochs": 2}, epsilon=30.0, text_max_seconds=60, batch_size=64
    )
    engine.fit(tables, relations, seed=0)
    dp = engine.info()["differential_privacy"]
    text = engine.info()["text"]["packages"]["summary"]["privacy"]
    assert text["training"]["unit"] == "subject" and text["epsilon_budget"] == pytest.approx(10.0)
    assert set(dp["per_table"]) == {"teams", "packages"} and set(dp["per_text"]) == {
        "packages.summary"
    }
    parts = [*dp["per_table"].values(), *dp["per_text"].values()]
    assert dp["epsilon_spent"] == pytest.approx(sum(parts), abs=1e-3) and sum(parts) <= 30.0
    assert dp["per_text"]["packages.summary"] <= 10.0 * 1.0001
    written = engine.sample(60, seed=1)["packages"]["summary"]
    words = set(engine._texts["packages"].models["summary"].config["words"])
    assert len(written) > 0 and RARE not in words  # 3 texts: far below the noisy threshold
    assert {t for s in written for t in split_words(s)} <= words


def test_private_words_count_a_subject_once_however_many_texts_it_writes() -> None:
    from synth.tabular.autoregressive.text_dp import private_words

    texts = ["alpha beta"] * 40 + ["gamma delta"] * 40
    per_text, _ = private_words(texts, epsilon=4.0, delta=1e-6, min_count=1, seed=0)
    subjects = np.r_[np.zeros(40, int), np.arange(1, 41)]  # one subject wrote every alpha beta
    per_subject, _ = private_words(
        texts, epsilon=4.0, delta=1e-6, min_count=1, seed=0, subjects=subjects
    )
    assert {"alpha", "beta", "gamma", "delta"} <= set(per_text)
    assert set(per_subject) == {"gamma", "delta"}  # one subject's words: as rare as one text's


def test_a_linked_spec_whose_text_is_modelled_hashes_apart_from_one_that_fakes_it() -> None:
    auto, faked, none = _linked(), _linked(), _linked()
    auto["tables"][1]["schema"]["columns"]["summary"]["generate"] = "auto"
    faked["tables"][1]["schema"]["columns"]["summary"]["generate"] = "fake"
    del none["tables"][1]["schema"]["columns"]["summary"]
    assert _spec(auto)._meaning()["written_text"] == {"packages": ["summary"]}
    assert "written_text" not in _spec(faked)._meaning()
    assert "written_text" not in _spec(none)._meaning()  # hashed as before text was modelled
    assert "text" not in _spec(none)._meaning()["checks"]  # the new check at its defaults
