"""User-level DP-SGD: a subject's rows are clipped together, whatever their number, and the
accountant's epsilon stays within the budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from schemas import SpecError
from synth.tabular.autoregressive.model import ARConfig, TabularAR
from synth.tabular.autoregressive.subject_dp import clipped_subject_gradient, train_subject_dp
from synth.tabular.autoregressive.train import visibility

VOCAB = [4, 6, 3, 9, 5]


def _tokens(rows: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, v, (rows,), generator=generator) for v in VOCAB], 1)


def _norm(gradient: dict[str, torch.Tensor]) -> float:
    return float(torch.sqrt(sum(g.pow(2).sum() for g in gradient.values())))


def test_a_subject_with_fifty_rows_is_clipped_as_one() -> None:
    model = TabularAR(ARConfig(vocab=VOCAB, width=8))
    model.per_sample_gradients = True
    tokens = _tokens(50)
    visible = visibility(50, len(VOCAB), torch.arange(3), generator=torch.Generator(), given=2)
    one = clipped_subject_gradient(model, tokens, visible, np.zeros(50, int), 0.5)
    assert _norm(one) <= 0.5 + 1e-5
    # the same rows as fifty subjects: each clipped alone, their sum may reach 50 x 0.5
    many = clipped_subject_gradient(model, tokens, visible, np.arange(50), 0.5)
    assert _norm(many) > 2 * _norm(one)


def test_unclipped_subject_gradient_is_the_sum_of_its_rows() -> None:
    model = TabularAR(ARConfig(vocab=VOCAB, width=8))
    model.per_sample_gradients = True
    tokens = _tokens(12, seed=1)
    visible = visibility(12, len(VOCAB), torch.arange(len(VOCAB)), generator=torch.Generator())
    codes = np.repeat(np.arange(3), 4)
    summed = clipped_subject_gradient(model, tokens, visible, codes, 1e9)
    model.zero_grad()
    from synth.tabular.autoregressive.model import hidden_loss

    hidden_loss(model(tokens, visible), tokens, visible).sum().backward()
    for name, parameter in model.named_parameters():
        assert torch.allclose(summed[name], parameter.grad, atol=1e-5), name


def test_training_spends_at_most_the_budget_per_subject() -> None:
    model = TabularAR(ARConfig(vocab=VOCAB, width=8))
    tokens = _tokens(900)
    subjects = np.random.default_rng(0).integers(0, 200, size=900)
    order = np.argsort(subjects, kind="stable")
    params = {"epsilon": 2.0, "delta": 1e-5, "epochs": 2, "batch_size": 64, "lr": 3e-3}
    report = train_subject_dp(
        model, tokens[order], subjects[order], {**params, "max_grad_norm": 1.0}, seed=0, given=1
    )
    privacy = report.privacy
    assert privacy["unit"] == "subject" and privacy["subjects"] == len(set(subjects))
    assert 1.5 < privacy["epsilon_spent"] <= 2.0
    assert not model.per_sample_gradients
    with pytest.raises(SpecError):
        tight = {**params, "epsilon": 1e-4, "max_grad_norm": 1.0}
        train_subject_dp(model, tokens, subjects, tight, seed=0)
