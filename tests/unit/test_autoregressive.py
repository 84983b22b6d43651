"""The autoregressive engine: exact conditioning, determinism, tensors + JSON on disk, codecs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas import Contract, SpecError, SynthError
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.tabular import make_engine
from synth.tabular.autoregressive.codecs import Bins, Categories, build_codecs
from tests.builders import COLUMNS, adult

FAST = {"epochs": 12, "patience": 3, "width": 32}
COMBINED = [{"kind": "fixed_combinations", "columns": ["race", "sex"]}]


def _input(rows: int = 1500, **schema) -> tuple[Contract, pd.DataFrame]:
    contract, typed = build_contract(
        adult(rows, extra=("fnlwgt",)),
        DatasetSchema(columns={**COLUMNS, "fnlwgt": {"type": "numerical"}}, **schema),
        label="t",
    )
    return contract, typed[[c.name for c in contract.modelled]]


@pytest.fixture(scope="module")
def fitted():
    contract, train = _input()
    engine = make_engine("autoregressive", FAST)
    engine.fit(train, contract, seed=0)
    return engine, contract, train


def test_rare_combination_conditioning_is_exact(fitted) -> None:
    engine, _, train = fitted
    counts = train.value_counts(["race", "sex", "income"])
    rare = counts[counts > 0].index[-1]  # the rarest combination seen in training
    want = dict(zip(["race", "sex", "income"], rare, strict=True))
    rows = engine.sample(300, seed=5, conditions=want)
    assert len(rows) == 300
    for column, value in want.items():
        assert (rows[column] == value).all(), column
    assert rows["age"].notna().all()


def test_same_seed_same_rows_and_a_fit_is_reproducible(fitted) -> None:
    engine, contract, train = fitted
    first = engine.sample(500, seed=3)
    assert first.equals(engine.sample(500, seed=3))
    assert not first.equals(engine.sample(500, seed=4))
    again = make_engine("autoregressive", FAST)
    again.fit(train, contract, seed=0)
    assert again.sample(500, seed=3).equals(first)


def test_sampled_values_stay_in_the_training_domain(fitted) -> None:
    engine, _, train = fitted
    rows = engine.sample(3000, seed=1)
    assert set(rows["education"].dropna()) <= set(train["education"].dropna())
    assert rows["age"].between(train["age"].min(), train["age"].max()).all()
    assert (rows["age"] == rows["age"].round()).all()  # an integer column stays integral
    assert rows["fnlwgt"].between(train["fnlwgt"].min(), train["fnlwgt"].max()).all()
    assert rows["fnlwgt"].nunique() > 1000  # continuous: drawn within bins, not copied values
    share = (rows["income"] == ">50K").mean()
    assert abs(share - (train["income"] == ">50K").mean()) < 0.05


def test_saved_as_tensors_and_json_and_reloaded_exactly(fitted, tmp_path: Path) -> None:
    import torch

    engine, _, _ = fitted
    digest = engine.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "manifest.json",
        "model.json",
        "weights.pt",
    ]
    state = torch.load(tmp_path / "weights.pt", weights_only=True)  # plain tensors, no pickled code
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    loaded = type(engine).load(tmp_path, manifest_sha256=digest)
    assert loaded.sample(400, seed=9).equals(engine.sample(400, seed=9))
    (tmp_path / "weights.pt").write_bytes(b"tampered")
    with pytest.raises(SynthError, match="hash mismatch"):
        type(engine).load(tmp_path, manifest_sha256=digest)


def test_fixed_combinations_are_sampled_only_as_seen() -> None:
    contract, train = _input(constraints=COMBINED)
    engine = make_engine("autoregressive", FAST)
    engine.fit(train, contract, seed=0)
    seen = set(map(tuple, train[["race", "sex"]].drop_duplicates().to_numpy()))
    rows = engine.sample(2000, seed=2)
    assert set(map(tuple, rows[["race", "sex"]].to_numpy())) <= seen
    with pytest.raises(SpecError, match="fixed combination"):
        engine.sample(10, seed=1, conditions={"race": "White"})


def test_low_temperature_concentrates_the_draws(fitted) -> None:
    engine, _, _ = fitted
    cold = type(engine)(**{**engine.params, "temperature": 0.3})
    cold._codecs, cold._model = engine._codecs, engine._model

    def entropy(series: pd.Series) -> float:
        p = series.value_counts(normalize=True).to_numpy()
        return float(-(p * np.log(p)).sum())

    assert entropy(cold.sample(3000, seed=1)["education"]) < entropy(
        engine.sample(3000, seed=1)["education"]
    )


def test_early_stopping_and_bad_conditions(fitted) -> None:
    engine, _, _ = fitted
    info = engine.info()
    assert 1 <= info["epochs"] <= FAST["epochs"] and info["best_validation_loss"] > 0
    with pytest.raises(SpecError, match="not modelled"):
        engine.sample(5, seed=0, conditions={"nope": 1})
    with pytest.raises(SpecError, match="never seen"):
        engine.sample(5, seed=0, conditions={"education": "Wizardry"})
    with pytest.raises(SpecError, match="model.params"):
        make_engine("autoregressive", {"widht": 3})


def test_codecs_keep_nulls_and_round_trip_datetimes() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime("2020-01-01") + pd.to_timedelta(np.arange(400) * 3600, unit="s"),
            "score": np.r_[np.linspace(0, 1, 380), [np.nan] * 20],
            "kind": ["a", "b", None, "c"] * 100,
        }
    )
    contract, typed = build_contract(
        frame,
        DatasetSchema(
            columns={
                "when": {"type": "datetime"},
                "score": {"type": "numerical"},
                "kind": {"type": "categorical"},
            }
        ),
        label="t",
    )
    codecs = build_codecs(typed, contract, bins=16, steps=4, exact_up_to=50)
    when, score, kind = codecs
    assert isinstance(when, Bins) and when.datetime and isinstance(kind, Categories)
    assert score.null and kind.null and not when.null
    rng = np.random.default_rng(0)
    back = score.decode(score.encode(typed), rng)["score"]
    assert np.isnan(back[380:]).all() and not np.isnan(back[:380]).any()
    decoded = when.decode(when.encode(typed), rng)["when"]
    assert pd.Series(decoded).between(frame["when"].min(), frame["when"].max()).all()
    assert pd.isna(kind.decode(kind.encode(typed), rng)["kind"][2])


@pytest.mark.parametrize("depth", [0, 1])
def test_ghost_clipping_gives_the_per_sample_hooks_update(depth: int) -> None:
    """DP training clips by ghost norms; with the noise off, one step must move every weight
    exactly as Opacus' per-sample hooks (materialised per-row gradients) do."""
    import warnings

    import torch
    from opacus import PrivacyEngine

    from synth.tabular.autoregressive.model import ARConfig, TabularAR, random_visibility
    from synth.tabular.autoregressive.train import HiddenLoss

    vocab = [5, 7, 3, 9]
    g = torch.Generator().manual_seed(0)
    tokens = torch.stack([torch.randint(0, v, (64,), generator=g) for v in vocab], 1)
    visible = random_visibility(64, len(vocab), torch.arange(len(vocab)), generator=g)

    def one_step(mode: str) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = TabularAR(ARConfig(vocab=vocab, width=8, depth=depth))
        model.per_sample_gradients = True
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tokens), batch_size=64)
        kwargs = {
            "module": model,
            "optimizer": torch.optim.SGD(model.parameters(), lr=1.0),
            "data_loader": loader,
            "noise_multiplier": 0.0,
            "max_grad_norm": 0.05,  # small enough that every row is clipped
            "poisson_sampling": False,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if mode == "ghost":
                private, optimiser, loss, _ = PrivacyEngine().make_private(
                    **kwargs, criterion=HiddenLoss(), grad_sample_mode="ghost"
                )
            else:
                private, optimiser, _ = PrivacyEngine().make_private(**kwargs)
                loss = HiddenLoss()
            optimiser.zero_grad()
            loss(private(tokens, visible), tokens, visible).backward()
            optimiser.step()
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    hooks, ghost = one_step("hooks"), one_step("ghost")
    torch.manual_seed(0)
    start = TabularAR(ARConfig(vocab=vocab, width=8, depth=depth))
    for name, value in hooks.items():
        torch.testing.assert_close(ghost[name], value, rtol=0, atol=1e-6)
    assert not torch.equal(hooks["embed.weight"], start.state_dict()["embed.weight"])  # it moved
