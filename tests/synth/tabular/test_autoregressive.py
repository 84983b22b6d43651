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


@pytest.mark.parametrize(("depth", "context"), [(0, 512), (1, 512), (0, 16), (1, 16)])
def test_ghost_clipping_gives_the_per_sample_hooks_update(depth: int, context: int) -> None:
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
        model = TabularAR(ARConfig(vocab=vocab, width=8, depth=depth, context=context))
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
    start = TabularAR(ARConfig(vocab=vocab, width=8, depth=depth, context=context))
    assert start.cfg.factored == (context == 16)  # 4 columns x width 8 = 32
    for name, value in hooks.items():
        torch.testing.assert_close(ghost[name], value, rtol=0, atol=1e-6)
    for name, value in start.state_dict().items():  # every weight moved
        assert not torch.equal(hooks[name], value), name


def test_parameters_grow_linearly_with_the_columns() -> None:
    from synth.tabular.autoregressive.model import ARConfig, TabularAR

    def parameters(columns: int) -> int:
        model = TabularAR(ARConfig(vocab=[40] * columns))  # the engine's defaults otherwise
        return sum(t.numel() for t in model.parameters())

    assert parameters(200) / parameters(100) < 2.2
    assert parameters(100) / parameters(50) < 2.2
    assert parameters(200) < 10_000_000  # the per-target layout would hold 53 million


@pytest.mark.parametrize("depth", [0, 1])
def test_narrow_models_sample_as_before_wide_tables_were_factored(depth: int) -> None:
    """4 columns x width 8 is within the context: the per-target layout, unchanged. The counts
    were sampled with the code before the factored layout existed (same seed, same draws)."""
    import torch

    from synth.tabular.autoregressive.model import ARConfig, TabularAR

    torch.manual_seed(0)
    model = TabularAR(ARConfig(vocab=[5, 7, 3, 9], width=8, depth=depth)).eval()
    assert model.project is None and model.embed.weight.shape == (5 + 7 + 3 + 9 + 4, 4 * 8)
    with torch.no_grad():  # sharper output layers: the draws then depend on every weight
        for weight in model.out.parameters():
            weight.mul_(100)
    tokens = model.sample(256, generator=torch.Generator().manual_seed(1), fixed={2: 1})
    counts = [torch.bincount(tokens[:, j]).tolist() for j in range(4)]
    before = {
        0: [
            [2, 251, 0, 0, 3],
            [1, 0, 60, 19, 0, 61, 115],
            [0, 256],
            [11, 0, 13, 18, 42, 12, 105, 55],
        ],
        1: [[0, 0, 0, 0, 256], [0, 0, 122, 0, 3, 1, 130], [0, 256], [0, 250, 1, 0, 3, 0, 0, 0, 2]],
    }
    assert counts == before[depth]


@pytest.mark.parametrize(("context", "unfold_limit"), [(512, None), (16, None), (16, 0)])
def test_sampling_draws_from_the_forward_passes_conditionals(
    context: int, unfold_limit: int | None, monkeypatch
) -> None:
    """The sampler's shortcuts (per-column slices, of the wide model's unfolded table too; its
    running pooled sum past the unfold limit) draw the same tokens as the full forward pass,
    step by step, with the same uniform draws."""
    import torch

    from synth.tabular.autoregressive import model as module
    from synth.tabular.autoregressive.model import ARConfig, TabularAR

    if unfold_limit is not None:
        monkeypatch.setattr(module, "UNFOLD_LIMIT", unfold_limit)

    vocab = [5, 7, 3, 9, 4, 6]
    torch.manual_seed(0)
    model = TabularAR(ARConfig(vocab=vocab, width=8, depth=1, context=context)).eval()
    assert model.cfg.factored == (context == 16)
    with torch.no_grad():
        for weight in model.parameters():
            weight.mul_(8)
    fixed = {3: 2}
    sampled = model.sample(500, generator=torch.Generator().manual_seed(1), fixed=fixed)
    generator = torch.Generator().manual_seed(1)
    tokens = torch.zeros(500, len(vocab), dtype=torch.long)
    tokens[:, 3] = 2
    visible = torch.zeros(500, len(vocab), dtype=torch.bool)
    visible[:, 3] = True
    with torch.no_grad():
        for j in [0, 1, 2, 4, 5]:
            cdf = torch.softmax(model(tokens, visible)[j], -1).cumsum(-1)
            draw = torch.rand(500, 1, generator=generator)
            tokens[:, j] = torch.searchsorted(cdf, draw).squeeze(1).clamp(max=vocab[j] - 1)
            visible[:, j] = True
    agree = (sampled == tokens).all(1).float().mean()
    assert agree >= 0.99  # float rounding may move a draw that sits on a bin's edge


def test_a_wide_model_fits_conditions_saves_and_reloads(tmp_path: Path, caplog) -> None:
    contract, train = _input(rows=800)
    engine = make_engine("autoregressive", {**FAST, "epochs": 2, "context": 64})
    with caplog.at_level("INFO", logger="synth.tabular.autoregressive.train"):
        engine.fit(train, contract, seed=0)
    assert engine._model.cfg.factored  # 14 columns x width 32 > 64
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["epoch 1/2", "epoch 2/2"]
    rows = engine.sample(300, seed=2, conditions={"sex": "Female"})
    assert (rows["sex"] == "Female").all()
    assert set(rows["education"].dropna()) <= set(train["education"].dropna())
    loaded = type(engine).load(tmp_path, manifest_sha256=engine.save(tmp_path))
    assert loaded._model.cfg.factored
    assert loaded.sample(400, seed=9).equals(engine.sample(400, seed=9))


def test_a_small_tables_many_valued_number_is_binned_and_protected_as_continuous() -> None:
    """200 rows, 150 distinct values: a token per value would memorise the rows, and value
    protection, treating the column as categories, used to fold it onto its few common values."""
    from synth.tabular.protection import protect_values

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "dose": rng.choice(np.linspace(0, 10, 150).round(3), 200),
            "visits": rng.integers(0, 4, 200),  # 4 values, 50 rows each: kept exactly
            "arm": rng.choice(["a", "b"], 200),
        }
    )
    contract, typed = build_contract(
        frame,
        DatasetSchema(
            columns={
                "dose": {"type": "numerical"},
                "visits": {"type": "numerical"},
                "arm": {"type": "categorical"},
            }
        ),
        label="t",
    )
    train = protect_values(typed, contract, min_count=5, seed=0).train
    assert train["dose"].nunique() > 100  # clipped at its 5th extremes only, not folded
    dose, visits, _ = build_codecs(train, contract, bins=64, steps=8, exact_up_to=128)
    assert isinstance(dose, Bins) and dose.size == 5  # 200 rows / 40 a token
    assert isinstance(visits, Categories) and visits.values == [0, 1, 2, 3]


def test_tokens_per_number_scale_with_the_rows_up_to_the_caps() -> None:
    from synth.tabular.autoregressive.codecs import bin_count, exact

    assert bin_count(26_049, 64) == 64 and bin_count(1_600, 64) == 40 and bin_count(60, 64) == 4
    assert exact(120, 26_049, 128) and not exact(129, 26_049, 128)  # Adult keeps its caps
    assert exact(10, 400, 128) and not exact(11, 400, 128)


def test_a_small_table_trains_on_one_thread_and_restores_the_count(monkeypatch) -> None:
    import torch

    from synth.tabular.autoregressive import train as train_module

    seen = []
    real = train_module.train_early_stopping

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_early_stopping", spy)
    before = torch.get_num_threads()
    contract, train = _input(rows=300)
    make_engine("autoregressive", {**FAST, "epochs": 1}).fit(train, contract, seed=0)
    assert seen == [1] and torch.get_num_threads() == before


def test_validation_rows_are_whole_subjects_when_subjects_are_given() -> None:
    from synth.tabular.autoregressive.train import _by_subject

    subjects = np.repeat(np.arange(50), 8)  # a panel: 50 people, 8 rows each
    order, held = _by_subject(subjects, n_val=40, seed=3)
    assert sorted(order.tolist()) == list(range(400)) and held == 40
    validation, fitting = set(subjects[order[:held]]), set(subjects[order[held:]])
    assert len(validation) == 5 and not validation & fitting
    again, _ = _by_subject(subjects, n_val=40, seed=3)
    assert (order == again).all()
