from pathlib import Path
from typing import get_args

import pandas as pd
import pytest

from schemas import Contract, SpecError, SynthError
from schemas.spec import ENGINES as spec_engines
from schemas.spec import DatasetSchema, EngineName, SampleSpec
from synth.io import build_contract
from synth.sampling import Identifiers, plan_batches, sample_batch, typed_conditions
from synth.tabular import ENGINES, make_engine
from tests.builders import COLUMNS, adult


@pytest.fixture(scope="module")
def fitted_input() -> tuple[Contract, pd.DataFrame]:
    contract, typed = build_contract(adult(600), DatasetSchema(columns=COLUMNS), label="t")
    return contract, typed


def _train(contract: Contract, typed: pd.DataFrame) -> pd.DataFrame:
    return typed[[c.name for c in contract.modelled]]


@pytest.mark.parametrize("name", ["gaussian_copula", "independent", "bootstrap"])
def test_engine_fit_sample_save_load_roundtrip(name, fitted_input, tmp_path: Path) -> None:
    contract, typed = fitted_input
    engine = make_engine(name)
    engine.fit(_train(contract, typed), contract, seed=0)
    first = engine.sample(200, seed=11)
    assert len(first) == 200 and set(first.columns) == {c.name for c in contract.modelled}
    digest = engine.save(tmp_path)
    loaded = type(engine).load(tmp_path, manifest_sha256=digest)
    assert loaded.sample(200, seed=11).equals(first)
    assert engine.info()["engine"] == name


@pytest.mark.parametrize("name", ["ctgan", "tvae", "copulagan"])
def test_neural_sdv_engines_run_with_one_epoch(name, fitted_input) -> None:
    contract, typed = fitted_input
    engine = make_engine(name, {"epochs": 1, "batch_size": 100})
    engine.fit(_train(contract, typed), contract, seed=0)
    assert len(engine.sample(50, seed=1)) == 50


@pytest.mark.parametrize("name", ["gaussian_copula", "independent", "bootstrap"])
def test_conditional_sampling_matches_every_row(name, fitted_input) -> None:
    contract, typed = fitted_input
    engine = make_engine(name)
    engine.fit(_train(contract, typed), contract, seed=0)
    rows = engine.sample(40, seed=2, conditions={"sex": "Female", "income": ">50K"})
    assert len(rows) == 40
    assert (rows["sex"] == "Female").all() and (rows["income"] == ">50K").all()


def test_tampered_model_is_refused_before_unpickling(fitted_input, tmp_path: Path) -> None:
    from synth.tabular.base import write_manifest

    contract, typed = fitted_input
    engine = make_engine("gaussian_copula")
    engine.fit(_train(contract, typed), contract, seed=0)
    digest = engine.save(tmp_path)
    with (tmp_path / "model.pkl").open("ab") as handle:
        handle.write(b"\x00")
    with pytest.raises(SynthError, match=r"model.pkl: hash mismatch"):
        type(engine).load(tmp_path, manifest_sha256=digest)
    # Rewriting the manifest to match the new pickle does not help: its own hash was recorded.
    write_manifest(tmp_path, engine=engine.name, info=engine.info())
    with pytest.raises(SynthError, match=r"manifest.json: hash mismatch"):
        type(engine).load(tmp_path, manifest_sha256=digest)


def test_unknown_engine_and_params_are_spec_errors(fitted_input) -> None:
    contract, typed = fitted_input
    with pytest.raises(SpecError, match="model.engine: unknown engine 'magic'"):
        make_engine("magic")
    with pytest.raises(SpecError, match="model.params"):
        make_engine("gaussian_copula", {"no_such_param": 1}).fit(
            _train(contract, typed), contract, seed=0
        )
    with pytest.raises(SpecError, match="model.params: not accepted by engine independent"):
        make_engine("independent", {"epochs": 3})
    assert set(ENGINES) == set(spec_engines) == set(get_args(EngineName))  # registry == spec


def test_batches_are_seeded_by_index_and_assemble_full_rows(fitted_input) -> None:
    contract, typed = fitted_input
    plan = SampleSpec(
        rows=250, seed=3, batch_size=100, conditions=[{"values": {"sex": "Male"}, "rows": 30}]
    )
    batches = plan_batches(plan, default_rows=999)
    assert [b.rows for b in batches] == [100, 100, 50, 30]
    assert [b.start for b in batches] == [0, 100, 200, 250]
    engine = make_engine("independent")
    engine.fit(_train(contract, typed), contract, seed=0)
    identifiers = Identifiers.for_run(contract, typed, seed=3)
    frames = [sample_batch(engine, b, contract, identifiers) for b in batches]
    whole = pd.concat(frames, ignore_index=True)
    assert list(whole.columns) == contract.names
    assert whole["record_id"].is_unique and (frames[-1]["sex"] == "Male").all()
    assert not set(whole["full_name"]) & set(typed["full_name"])
    assert whole["record_id"].min() > typed["record_id"].max()  # no fresh key equals a real one
    assert sample_batch(engine, batches[1], contract, identifiers).equals(frames[1])


@pytest.mark.parametrize("name", ["gaussian_copula", "independent"])
def test_dates_and_booleans_come_back_in_range_and_typed(name) -> None:
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2020-01-01", periods=200, freq="D").astype(str),
            "flag": ["yes", "no"] * 100,
        }
    )
    schema = DatasetSchema(columns={"when": {"type": "datetime"}, "flag": {"type": "boolean"}})
    contract, typed = build_contract(frame, schema, label="t")
    engine = make_engine(name)
    engine.fit(typed, contract, seed=0)
    batch = plan_batches(SampleSpec(rows=100), default_rows=0)[0]
    out = sample_batch(engine, batch, contract, Identifiers.for_run(contract, typed, seed=0))
    assert str(out["when"].dtype) == "datetime64[us]" and str(out["flag"].dtype) == "boolean"
    assert out["when"].min() >= pd.Timestamp("2019-12-31") and out["when"].max() <= pd.Timestamp(
        "2020-07-20"
    )


def test_condition_values_are_typed_like_their_columns() -> None:
    frame = pd.DataFrame({"grade": ["1", "2", "2", "3"] * 25, "score": ["1.5", "2"] * 50})
    schema = DatasetSchema(
        columns={"grade": {"type": "categorical"}, "score": {"type": "numerical"}}
    )
    grades, _ = build_contract(frame, schema, label="t")
    plan = SampleSpec(conditions=[{"values": {"grade": 2, "score": "2.5"}, "rows": 5}])
    assert typed_conditions(plan, grades).conditions[0].values == {"grade": "2", "score": 2.5}
    unseen = SampleSpec(conditions=[{"values": {"grade": 9}, "rows": 5}])
    with pytest.raises(SpecError, match=r"conditions\[0\]: the value for 'grade' never occurs"):
        typed_conditions(unseen, grades)
