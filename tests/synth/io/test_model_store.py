"""The model store: what goes into the key, round trips, and entries that must never load."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from schemas import Contract, SynthError
from schemas.load import load_spec
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.model_store import ENTRY, ModelStore, model_key
from synth.tabular import make_engine
from tests.builders import COLUMNS, adult, write_job


@pytest.fixture(scope="module")
def fitted() -> tuple[Contract, pd.DataFrame]:
    contract, typed = build_contract(adult(400), DatasetSchema(columns=COLUMNS), label="t")
    return contract, typed[[c.name for c in contract.modelled]]


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore.open(tmp_path / "store", key_file=tmp_path / "secret" / "store.key")


def _engine(fitted, name: str = "gaussian_copula"):
    contract, train = fitted
    engine = make_engine(name)
    engine.fit(train, contract, seed=0)
    return engine


def test_a_stored_model_comes_back_sampling_the_same_rows(fitted, store: ModelStore) -> None:
    engine = _engine(fitted)
    assert store.get("k" * 64, "gaussian_copula") is None
    folder = store.put("k" * 64, engine, job="t")
    assert oct(folder.stat().st_mode)[-3:] == "700" and oct(store.root.stat().st_mode)[-3:] == "700"
    again = store.get("k" * 64, "gaussian_copula")
    assert again is not None and again.sample(50, seed=4).equals(engine.sample(50, seed=4))
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no staging left


def test_the_secret_is_made_once_and_private(tmp_path: Path) -> None:
    key_file = tmp_path / "cfg" / "store.key"
    first = ModelStore.open(tmp_path / "a", key_file=key_file)
    second = ModelStore.open(tmp_path / "b", key_file=key_file)
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    assert first._mac("k", "e", "m") == second._mac("k", "e", "m")


def test_an_entry_signed_with_another_secret_is_a_miss_then_replaced(
    fitted, store, tmp_path: Path, caplog
) -> None:
    """A lost or rotated key must not fail every cached job: nothing is loaded, the model is
    refit and its entry replaced under the new key."""
    store.put("a" * 64, _engine(fitted))
    stranger = ModelStore.open(store.root, key_file=tmp_path / "other.key")
    assert stranger.get("a" * 64, "gaussian_copula") is None
    assert "signed with another key" in caplog.text
    stranger.put("a" * 64, _engine(fitted))  # no --retrain needed: the stale entry goes
    assert stranger.get("a" * 64, "gaussian_copula") is not None
    assert store.get("a" * 64, "gaussian_copula") is None  # now signed under the new key


def test_a_rewritten_manifest_hash_or_model_file_is_refused(fitted, store: ModelStore) -> None:
    folder = store.put("b" * 64, _engine(fitted))
    entry = json.loads((folder / ENTRY).read_text())
    (folder / ENTRY).write_text(json.dumps({**entry, "manifest_sha256": "0" * 64}))
    assert store.get("b" * 64, "gaussian_copula") is None  # unsigned: a miss, nothing loaded
    (folder / ENTRY).write_text(json.dumps(entry))
    model = next(p for p in (folder / "model").iterdir() if p.name != "manifest.json")
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(SynthError, match="hash mismatch"):
        store.get("b" * 64, "gaussian_copula")


def test_retraining_replaces_a_tampered_entry(fitted, store: ModelStore) -> None:
    folder = store.put("d" * 64, _engine(fitted))
    (folder / ENTRY).write_text("{}")
    with pytest.raises(SynthError):
        store.get("d" * 64, "gaussian_copula")
    store.put("d" * 64, _engine(fitted))  # kept: without replace, an entry there stays
    with pytest.raises(SynthError):
        store.get("d" * 64, "gaussian_copula")
    store.put("d" * 64, _engine(fitted), replace=True)
    assert store.get("d" * 64, "gaussian_copula") is not None
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]


def test_an_entry_for_another_engine_is_refused(fitted, store: ModelStore) -> None:
    store.put("c" * 64, _engine(fitted, "independent"))
    with pytest.raises(SynthError, match="another model"):
        store.get("c" * 64, "gaussian_copula")


def test_the_key_follows_what_the_model_depends_on(tmp_path: Path) -> None:
    spec = load_spec(write_job(tmp_path / "job"))
    base = model_key(spec, "source-1")
    assert model_key(spec, "source-1") == base
    assert model_key(spec, "source-2") != base
    changed = [
        spec.model_copy(update={"model": spec.model.model_copy(update={"params": {"x": 1}})}),
        spec.model_copy(update={"split": spec.split.model_copy(update={"seed": 9})}),
        spec.model_copy(update={"sample": spec.sample.model_copy(update={"seed": 9})}),
    ]
    assert all(model_key(s, "source-1") != base for s in changed)
    # how many rows to sample, the checks and the output do not change the model
    same = [
        spec.model_copy(update={"sample": spec.sample.model_copy(update={"rows": 7})}),
        spec.model_copy(update={"output": spec.output.model_copy(update={"path": Path("/x")})}),
        spec.model_copy(update={"model": spec.model.model_copy(update={"cache": False})}),
    ]
    assert all(model_key(s, "source-1") == base for s in same)


def test_the_store_root_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    from synth.io.model_store import store_root

    spec = load_spec(write_job(tmp_path / "job"))
    monkeypatch.delenv("SYNTH_MODEL_STORE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", os.fspath(tmp_path / "cache"))
    assert store_root(spec) == tmp_path / "cache" / "synth" / "models"  # never in the output
    monkeypatch.setenv("SYNTH_MODEL_STORE", os.fspath(tmp_path / "shared"))
    assert store_root(spec) == tmp_path / "shared"


def test_code_version_covers_engine_subpackages(tmp_path: Path, monkeypatch) -> None:
    """An edit to any engine source, in a subpackage too (autoregressive/), retrains: stored
    models from the old code are never reused."""
    from synth.io import model_store

    (tmp_path / "autoregressive").mkdir()
    (tmp_path / "base.py").write_text("A = 1\n")
    (tmp_path / "autoregressive" / "model.py").write_text("WIDTH = 32\n")
    monkeypatch.setattr(model_store, "_TABULAR", tmp_path)
    before = model_store.code_version()
    (tmp_path / "autoregressive" / "model.py").write_text("WIDTH = 64\n")
    assert model_store.code_version() != before
