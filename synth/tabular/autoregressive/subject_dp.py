"""DP-SGD where the privacy unit is a subject (user-level), not a row.

A subject (a patient, a customer) may own many rows of a table. Row-level DP-SGD bounds what one
row changes; a subject with fifty rows would change the model fifty times as much. Here every
step Poisson-samples subjects (rate q), sums the gradients of each sampled subject's rows into one
gradient per subject, clips that to `max_grad_norm`, adds Gaussian noise of standard deviation
`noise * max_grad_norm` and divides by the expected number of subjects per step. Opacus' RDP
accountant then bounds (epsilon, delta) for the whole subject, whatever its row count.

Per-row gradients come from torch.func (`vmap` over `grad`), summed per subject with
`index_add_`, in chunks sized to keep memory bounded. What is covered: every weight the model
learns from these rows. What is not: the codecs' bins and category lists and the table's row
counts, which are read from the data outside the accounting (as in the row-level `train_dp`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from schemas.errors import SynthError
from synth import progress
from synth.tabular.autoregressive.model import TabularAR, hidden_loss
from synth.tabular.autoregressive.train import DP_EPOCHS, TrainReport, noise_multiplier, visibility

__all__ = [
    "clipped_group_gradient",
    "clipped_subject_gradient",
    "noised_step",
    "spent_epsilon",
    "subject_batches",
    "train_subject_dp",
]

log = logging.getLogger(__name__)

CHUNK_NUMBERS = 2**25  # per-row gradients held at once: rows x parameters (128 MiB of floats)


def train_subject_dp(
    model: TabularAR,
    tokens: Tensor,
    subjects: np.ndarray,
    params: dict[str, Any],
    *,
    seed: int,
    given: int = 0,
) -> TrainReport:
    """DP-SGD over subjects for `params["epochs"]` epochs within (`epsilon`, `delta`) per
    subject; the first `given` columns are always-visible context (see `train.visibility`)."""
    codes = np.unique(subjects, return_inverse=True)[1].ravel()
    count = int(codes.max()) + 1
    epsilon, epochs = params["epsilon"], params["epochs"] or DP_EPOCHS
    delta = params["delta"] or 1.0 / count**1.1
    expected = min(params["batch_size"], max(16, count // 20))
    rate = expected / count
    noise = noise_multiplier(epsilon, delta, rate, epochs, f"{count} subjects")
    steps = max(1, int(epochs / rate))
    device = tokens.device
    generator = torch.Generator(device=device).manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=params["lr"])
    clip = params["max_grad_norm"]
    rank = torch.arange(tokens.shape[1] - given, device=device)
    model.per_sample_gradients = True
    started = time.perf_counter()
    try:
        for step, rows in subject_batches(codes, rate, steps, generator):
            rows = torch.from_numpy(rows).to(device)
            batch = tokens[rows]
            visible = visibility(len(batch), batch.shape[1], rank, generator=generator, given=given)
            summed = clipped_subject_gradient(
                model, batch, visible, codes[rows.cpu().numpy()], clip
            )
            noised_step(model, optimiser, summed, noise * clip, expected, generator)
            if step % max(1, steps // epochs) == 0:
                epoch = min(epochs, round(step * rate))
                log.info(
                    "subject DP step %d/%d: %.1f s", step, steps, time.perf_counter() - started
                )
                progress.report("fit", epoch, epochs)
    finally:
        model.per_sample_gradients = False
        model.zero_grad(set_to_none=True)
    spent = spent_epsilon(noise, rate, steps, delta)
    if spent > epsilon * 1.0001:
        raise SynthError(f"differential privacy: spent epsilon {spent:.3f} exceeds {epsilon}")
    privacy = {
        "unit": "subject",
        "epsilon_budget": epsilon,
        "epsilon_spent": round(spent, 4),
        "delta": delta,
        "noise_multiplier": round(noise, 4),
        "max_grad_norm": clip,
        "sample_rate": round(rate, 6),
        "subjects": count,
        "steps": steps,
        "epochs": epochs,
        "accountant": "rdp",
    }
    return TrainReport(epochs=epochs, privacy=privacy)


def subject_batches(
    codes: np.ndarray, rate: float, steps: int, generator: torch.Generator
) -> Iterator[tuple[int, np.ndarray]]:
    """Each step's rows: every row of each subject a Poisson draw (rate `rate`) picked, subject
    by subject (contiguous, as `clipped_group_gradient` needs); `codes` are 0..count-1."""
    count = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=count))
    starts = ends - np.bincount(codes, minlength=count)
    for step in range(1, steps + 1):
        chosen = (torch.rand(count, generator=generator) < rate).nonzero().ravel().numpy()
        parts = [order[starts[s] : ends[s]] for s in chosen]
        yield step, np.concatenate(parts or [[]]).astype(np.int64)


def noised_step(
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    summed: dict[str, Tensor],
    std: float,
    expected: float,
    generator: torch.Generator,
) -> None:
    """One DP-SGD update: the clipped sum plus Gaussian noise of `std`, over the expected count
    of subjects a step (the denominator must not depend on the data)."""
    for name, parameter in model.named_parameters():
        noise = torch.normal(
            0.0, std, parameter.shape, generator=generator, device=parameter.device
        )
        parameter.grad = (summed[name] + noise) / expected
    optimiser.step()


def spent_epsilon(noise: float, rate: float, steps: int, delta: float) -> float:
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history.append((noise, rate, steps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(accountant.get_epsilon(delta))


def clipped_subject_gradient(
    model: TabularAR, tokens: Tensor, visible: Tensor, codes: np.ndarray, max_grad_norm: float
) -> dict[str, Tensor]:
    """The sum over subjects of each subject's gradient (the sum over its rows of the hidden-
    column loss), each clipped to `max_grad_norm`; by parameter name. Rows of one subject must be
    contiguous in `tokens` (they are: rows are gathered subject by subject)."""
    from torch.func import functional_call

    def row_loss(p: dict[str, Tensor], row: Tensor, seen: Tensor) -> Tensor:
        logits = functional_call(model, p, (row[None], seen[None]))
        return hidden_loss(logits, row[None], seen[None]).sum()

    return clipped_group_gradient(model, row_loss, (tokens, visible), codes, max_grad_norm)


def clipped_group_gradient(
    model: torch.nn.Module,
    row_loss: Callable[..., Tensor],
    rows: tuple[Tensor, ...],
    codes: np.ndarray,
    max_grad_norm: float,
) -> dict[str, Tensor]:
    """The sum over groups (`codes`, contiguous) of each group's gradient, the sum over its rows
    of `row_loss(weights, *row)`, clipped to `max_grad_norm`: what a subject adds to a DP-SGD
    step, whatever the model (the table network here, a text model in text_dp.py)."""
    from torch.func import grad, vmap

    weights = {k: v.detach() for k, v in model.named_parameters()}
    total = {k: torch.zeros_like(v) for k, v in weights.items()}
    per_row = vmap(grad(row_loss), in_dims=(None, *[0] * len(rows)))
    size = sum(v.numel() for v in weights.values())
    chunk = max(1, CHUNK_NUMBERS // size)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
    bounds = [*starts, len(codes)]
    first = 0
    while first < len(bounds) - 1:  # whole subjects per chunk, at least one
        last = first + 1
        while last < len(bounds) - 1 and bounds[last + 1] - bounds[first] <= chunk:
            last += 1
        lo, hi = bounds[first], bounds[last]
        local = torch.from_numpy(
            np.repeat(np.arange(last - first), np.diff(bounds[first : last + 1]))
        )
        grads = per_row(weights, *(r[lo:hi] for r in rows))
        summed = {
            k: g.new_zeros((last - first, *g.shape[1:])).index_add_(0, local, g)
            for k, g in grads.items()
        }
        norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in summed.values()))
        factor = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        for k, g in summed.items():
            total[k] += torch.tensordot(factor, g, dims=1)
        first = last
    return total
