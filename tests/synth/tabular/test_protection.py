"""Value protection: rare values never reach an engine, a stored model or the output."""

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas import Contract, SpecError
from schemas.spec import DatasetSchema, JobSpec, SampleSpec
from synth.io import build_contract
from synth.io.model_store import ModelStore, model_key
from synth.sampling import typed_conditions
from synth.tabular import make_engine
from synth.tabular.protection import protect_values
from tests.builders import spec as job_spec

CANARY = "Zqxwcanary9"  # a category held by three training rows
EXTREME = 987654321.25  # one row's amount, far above every other
COLUMNS = {
    "color": {"type": "categorical"},
    "size": {"type": "categorical"},
    "amount": {"type": "numerical"},
    "rooms": {"type": "numerical"},
    "member": {"type": "boolean"},
    "joined": {"type": "datetime"},
    "income": {"type": "categorical", "role": "target"},
}


def _frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    color = rng.choice(["red", "blue", "green"], size=rows, p=[0.5, 0.3, 0.2]).astype(object)
    color[:3] = CANARY
    amount = rng.normal(1000, 200, size=rows).round(2)
    amount[5] = EXTREME
    amount[6] = np.nan  # missing values are left alone
    rooms = rng.choice([1, 2, 3, 5, 6], size=rows).astype(float)
    rooms[7:9] = 4  # a value two rows hold, inside a small domain
    rooms[9:11] = [8, 9]  # its two largest values, one row each
    size = rng.choice(["S", "M", "L"], size=rows).astype(object)
    member = rng.random(rows) < 0.5
    joined = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D")
    income = np.where(rng.random(rows) < 0.3, ">50K", "<=50K")
    return pd.DataFrame(
        {
            "color": color,
            "size": size,
            "amount": amount,
            "rooms": rooms,
            "member": member,
            "joined": joined,
            "income": income,
        }
    )


def _contract(frame: pd.DataFrame, **schema) -> tuple[Contract, pd.DataFrame]:
    return build_contract(frame, DatasetSchema(columns=COLUMNS, **schema), label="t")


@pytest.fixture(scope="module")
def protected() -> tuple[Contract, pd.DataFrame, object]:
    contract, typed = _contract(_frame())
    return contract, typed, protect_values(typed, contract, min_count=5, seed=1)


def _extreme_bytes() -> list[bytes]:
    return [
        b"987654321",
        b"9.87654321",
        struct.pack("<d", EXTREME),
        struct.pack(">d", EXTREME),
        struct.pack("<f", EXTREME),
    ]


@pytest.mark.parametrize("engine_name", ["autoregressive", "gaussian_copula"])
def test_a_rare_category_and_an_extreme_reach_neither_the_model_files_nor_the_output(
    engine_name: str, protected, tmp_path: Path
) -> None:
    contract, _, protection = protected
    params = {"epochs": 3} if engine_name == "autoregressive" else {}
    engine = make_engine(engine_name, params)
    engine.fit(protection.train, contract, seed=0)
    store = ModelStore.open(tmp_path / "store", key_file=tmp_path / "store.key")
    store.put("k" * 64, engine, job="t")
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert len(files) >= 3  # entry, manifest and the model itself
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data, path
        for needle in _extreme_bytes():
            assert needle not in data, (path, needle)
    out = engine.sample(3000, seed=2)
    assert CANARY not in set(out["color"].astype(str))
    assert pd.to_numeric(out["amount"]).max() < EXTREME / 100
    if engine_name == "autoregressive":  # keeps small domains exactly (SDV draws numbers)
        assert not {4, 8, 9} & set(pd.to_numeric(out["rooms"]))
    assert {"red", "blue", "green"} <= set(out["color"].astype(str))  # common ones still appear


@pytest.mark.parametrize("engine_name", ["autoregressive", "gaussian_copula"])
def test_without_protection_the_same_search_finds_the_rare_values(
    engine_name: str, tmp_path: Path
) -> None:
    contract, typed = _contract(_frame())  # the negative control: the search above can see them
    train = protect_values(typed, contract, enabled=False).train
    engine = make_engine(engine_name, {"epochs": 1} if engine_name == "autoregressive" else {})
    engine.fit(train, contract, seed=0)
    engine.save(tmp_path)
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert CANARY.encode() in data
    assert any(needle in data for needle in _extreme_bytes())


def test_the_training_rows_lose_rare_values_and_keep_types_and_missing_values(protected) -> None:
    _, typed, protection = protected
    train = protection.train
    assert list(train.dtypes) == list(typed.dtypes)  # string, Float64/Int64, boolean, datetime
    assert CANARY not in set(train["color"]) and set(train["color"]) <= set(typed["color"])
    assert train["amount"].isna().sum() == typed["amount"].isna().sum() == 1
    # clipped to the 5th largest and smallest real values: each now held by at least 5 rows
    real = typed["amount"].dropna().sort_values().to_numpy()
    assert train["amount"].max() == real[-5] and train["amount"].min() == real[4]
    assert (train["amount"] == real[-5]).sum() >= 5
    # 4 (two rows) moved to the nearest common value (a tie: the lower, 3); 8 and 9 to 6, not to
    # the 5th largest (8, one row's value)
    assert set(train["rooms"]) == {1, 2, 3, 5, 6}
    assert train.loc[7:10, "rooms"].tolist() == [3, 3, 6, 6]
    assert train["joined"].min() >= typed["joined"].sort_values().iloc[4]
    # rows without a rare value are untouched
    same = typed.index.difference([0, 1, 2, 5, 7, 8, 9, 10])
    assert train.loc[same, ["size", "member", "income"]].equals(
        typed.loc[same, ["size", "member", "income"]]
    )


def test_what_was_protected_is_reported_as_counts_only(protected) -> None:
    _, _, protection = protected
    report = protection.report()
    assert report["columns"]["color"] == {
        "protected_values": 1,
        "clipped_low": 0,
        "clipped_high": 0,
        "rows_changed": 3,
    }
    assert report["columns"]["amount"]["clipped_high"] == 4
    assert report["columns"]["amount"]["clipped_low"] == 4
    assert report["columns"]["rooms"] == {
        "protected_values": 3,
        "clipped_low": 0,
        "clipped_high": 2,
        "rows_changed": 4,
    }
    assert "size" not in report["columns"] and report["min_count"] == 5
    assert report["rows_changed"] >= 3 + 8 + 4
    text = json.dumps(report)
    assert CANARY not in text and "987654321" not in text and "red" not in text


def test_a_fixed_combination_seen_fewer_than_k_times_becomes_a_real_common_one() -> None:
    frame = _frame()
    frame.loc[10:11, ["color", "size"]] = ["red", "XL"]  # a combination two rows hold
    rule = {"kind": "fixed_combinations", "columns": ["color", "size"]}
    contract, typed = _contract(frame, constraints=[rule])
    protection = protect_values(typed, contract, min_count=5, seed=0)
    pairs = protection.train.groupby(["color", "size"]).size()
    assert pairs.min() >= 5  # every combination left is held by at least 5 real rows
    real = set(map(tuple, typed[["color", "size"]].drop_duplicates().to_numpy()))
    assert set(pairs.index) <= real
    assert protection.report()["columns"]["color, size"]["rows_changed"] == 5  # 3 canary + 2 XL
    for values in ({"size": "XL"}, {"color": "red", "size": "XL"}):  # one column or all of them
        plan = _plan(contract, conditions=[{"values": values, "rows": 5}])
        with pytest.raises(SpecError, match="'size' names a value") as caught:
            protection.check_plan(plan, contract)
        assert "XL" not in str(caught.value)


def test_a_rare_boolean_value_is_protected_like_any_category() -> None:
    frame = _frame()
    frame["member"] = False
    frame.loc[20:21, "member"] = True
    contract, typed = _contract(frame)
    train = protect_values(typed, contract, min_count=5, seed=0).train
    assert str(train["member"].dtype) == "boolean" and not train["member"].any()


def test_the_same_seed_protects_the_same_way_and_off_changes_nothing() -> None:
    contract, typed = _contract(_frame())
    a = protect_values(typed, contract, min_count=5, seed=3).train
    b = protect_values(typed, contract, min_count=5, seed=3).train
    assert a.equals(b)
    off = protect_values(typed, contract, min_count=5, seed=3, enabled=False)
    assert off.train.equals(typed) and off.report() == {"enabled": False}


def test_a_column_with_no_common_value_is_refused_naming_the_column() -> None:
    frame = _frame(rows=40)
    frame["size"] = [f"s{i}" for i in range(40)]
    contract, typed = _contract(frame)
    with pytest.raises(SpecError, match="column 'size'") as caught:
        protect_values(typed, contract, min_count=5)
    assert "s1" not in str(caught.value)


def _plan(contract: Contract, **sample) -> SampleSpec:
    return typed_conditions(SampleSpec.model_validate(sample), contract)


@pytest.mark.parametrize(
    "sample",
    [
        {"conditions": [{"values": {"color": CANARY}, "rows": 5}]},
        {"rebalance": [{"column": "color", "shares": {CANARY: 0.5, "red": 0.5}}]},
        {"parity": {"column": "size", "target": "color", "positive": CANARY}},
    ],
)
def test_a_plan_that_asks_for_a_protected_category_names_the_column_not_the_value(
    sample, protected
) -> None:
    contract, _, protection = protected
    with pytest.raises(SpecError, match="column 'color'") as caught:
        protection.check_plan(_plan(contract, **sample), contract)
    assert CANARY not in str(caught.value) and "value_protection" in str(caught.value)


def test_a_plan_on_common_categories_passes(protected) -> None:
    contract, _, protection = protected
    plan = _plan(
        contract,
        conditions=[{"values": {"color": "red", "member": True}, "rows": 5}],
        rebalance=[{"column": "color", "shares": {"red": 0.5, "blue": 0.5, CANARY: 0.0}}],
    )
    protection.check_plan(plan, contract)


def test_turning_protection_off_or_changing_k_gives_another_model_key(tmp_path: Path) -> None:
    base = job_spec(tmp_path / "data.parquet")
    keys = set()
    for protection in ({}, {"enabled": False}, {"min_count": 10}):
        raw = {**base, "model": {"engine": "gaussian_copula", "value_protection": protection}}
        keys.add(model_key(JobSpec.model_validate(raw), "fingerprint"))
    assert len(keys) == 3
