"""Per-row given tokens: every row keeps its own given values exactly, the other columns follow
them, and the unconditioned and fixed paths draw exactly as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from schemas import SpecError
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.tabular import make_engine
from synth.tabular.autoregressive.model import ARConfig, TabularAR
from tests.builders import COLUMNS, adult


@pytest.fixture(scope="module")
def fitted():
    contract, typed = build_contract(adult(1500), DatasetSchema(columns=COLUMNS), label="t")
    train = typed[[c.name for c in contract.modelled]]
    engine = make_engine("autoregressive", {"epochs": 15, "patience": 3})
    engine.fit(train, contract, seed=0)
    return engine, train


def test_each_row_keeps_its_own_given_values(fitted) -> None:
    engine, train = fitted
    given = train[["sex", "education"]].iloc[:400].reset_index(drop=True)
    rows = engine.sample(400, seed=2, given=given)
    assert rows["sex"].tolist() == given["sex"].tolist()
    assert rows["education"].tolist() == given["education"].tolist()
    # the drawn columns follow the given ones: doctorates earn more than dropouts
    rich = engine.sample(600, seed=3, given=pd.DataFrame({"education": ["Doctorate"] * 600}))
    poor = engine.sample(600, seed=3, given=pd.DataFrame({"education": ["11th"] * 600}))
    assert (rich["income"] == ">50K").mean() > (poor["income"] == ">50K").mean() + 0.2


def test_given_rows_and_values_are_checked(fitted) -> None:
    engine, _ = fitted
    with pytest.raises(SpecError):
        engine.sample(10, seed=0, given=pd.DataFrame({"sex": ["Male"] * 9}))
    with pytest.raises(SpecError):
        engine.sample(2, seed=0, given=pd.DataFrame({"sex": ["Male", "Martian"]}))
    with pytest.raises(SpecError):
        engine.sample(2, seed=0, given=pd.DataFrame({"nope": [1, 2]}))


def test_given_per_row_equals_fixed_when_all_rows_agree() -> None:
    model = TabularAR(ARConfig(vocab=[3, 5, 4, 6], width=8)).eval()
    fixed = model.sample(300, generator=torch.Generator().manual_seed(1), fixed={1: 2})
    given = model.sample(
        300,
        generator=torch.Generator().manual_seed(1),
        given={1: torch.full((300,), 2, dtype=torch.long)},
    )
    assert torch.equal(fixed, given)
    per_row = torch.from_numpy(np.arange(300) % 5)
    mixed = model.sample(300, generator=torch.Generator().manual_seed(1), given={1: per_row})
    assert torch.equal(mixed[:, 1], per_row)
