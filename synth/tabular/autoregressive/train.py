"""Training loops for `TabularAR`: early stopping on a validation split, or DP-SGD with Opacus.

Both draw a fresh random visibility per row and step (see `model.random_visibility`). The DP loop
uses every training row (a validation split would be read outside the privacy accounting), runs a
fixed number of epochs with Poisson-sampled batches, clips each row's gradient and adds noise
calibrated so that the epsilon spent stays within the budget; the accountant's epsilon is returned.

Each epoch is logged (INFO, logger `synth.tabular.autoregressive.train`): its number, the mean
training loss, the validation loss, the learning rate and the seconds since training began (under
DP only the number and the seconds: a loss of the private rows would be outside the accounting),
and reported as a "fit" tick (`synth.progress`) with the same losses.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from schemas.errors import SpecError, SynthError
from synth import progress
from synth.tabular.autoregressive.model import TabularAR, hidden_loss, random_visibility

__all__ = [
    "DP_EPOCHS",
    "MAX_EPOCHS",
    "HiddenLoss",
    "TrainReport",
    "noise_multiplier",
    "train_dp",
    "train_early_stopping",
    "visibility",
]

log = logging.getLogger(__name__)

MAX_EPOCHS = 200  # with early stopping, when model.params.epochs is not given
DP_EPOCHS = 10  # under DP-SGD the epochs are fixed in advance: the noise is set for them


@dataclass
class TrainReport:
    epochs: int
    best_validation_loss: float | None = None
    history: list[float] = field(default_factory=list)
    privacy: dict[str, Any] | None = None  # DP only: budget, spent, noise


def train_early_stopping(
    model: TabularAR,
    tokens: Tensor,
    params: dict[str, Any],
    *,
    seed: int,
    subjects: np.ndarray | None = None,
    given: int = 0,
) -> TrainReport:
    """AdamW with the learning rate halved on a plateau; stops after `patience` epochs without a
    better validation loss and keeps the best weights. With `subjects` (a code per row), the
    validation rows are whole subjects: validated on rows of people it trains on, a model is
    rewarded for learning who they are. The first `given` columns are context, always visible
    and never predicted (a linked table's parent row: sampling always gives it)."""
    device = tokens.device
    generator = torch.Generator(device=device).manual_seed(seed)
    n_val = max(1, int(len(tokens) * params["validation_share"]))
    if subjects is None:
        order = torch.randperm(len(tokens), generator=generator, device=device)
    else:
        held, n_val = _by_subject(subjects, n_val, seed)
        order = torch.from_numpy(held).to(device)
    shuffled = tokens[order]
    fit_rows = shuffled[n_val:]
    val = shuffled[:n_val].repeat(4, 1)  # four hidden subsets per validation row: steadier
    columns = tokens.shape[1]
    rank = torch.arange(columns, device=device)
    val_visible = visibility(len(val), columns, rank, generator=generator, given=given)
    # at least ~20 steps per epoch, so small tables train as well as large ones
    batch_size = min(params["batch_size"], max(64, len(fit_rows) // 20))
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"], fused=True
    )
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5, patience=1)
    # validated, kept and sampled: an exponential moving average of the weights, steadier than
    # the last step's (the unconditional heads, which start every sampled row, most of all);
    # decay 0 keeps exactly the last step's weights
    ema = torch.optim.swa_utils.get_ema_multi_avg_fn(params["ema_decay"])
    average = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=ema)
    judged = average.module
    report = TrainReport(epochs=0)
    best, best_state, stale = float("inf"), None, 0
    started, epochs = time.perf_counter(), params["epochs"] or MAX_EPOCHS
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(fit_rows), generator=generator, device=device)
        train_loss = torch.zeros((), device=device)
        for start in range(0, len(order), batch_size):
            batch = fit_rows[order[start : start + batch_size]]
            train_loss += _step(model, optimiser, batch, rank, generator, given) * len(batch)
            average.update_parameters(model)
        judged.eval()
        with torch.no_grad():
            val_loss = float(judged.loss(val, val_visible))
        mean_loss = float(train_loss) / len(fit_rows)
        log.info(
            "epoch %d/%d: train loss %.4f, validation loss %.4f, lr %.2g, %.1f s",
            epoch,
            epochs,
            mean_loss,
            val_loss,
            optimiser.param_groups[0]["lr"],
            time.perf_counter() - started,
        )
        plateau.step(val_loss)
        report.history.append(round(val_loss, 5))
        report.epochs += 1
        stop = False
        if val_loss < best - 1e-4:
            best, stale = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in judged.state_dict().items()}
        else:
            stale += 1
            stop = stale >= params["patience"]
        # an early stop reports its last epoch as the total: a finished fit reads 100%
        progress.report("fit", epoch, epoch if stop else epochs, loss=mean_loss, val_loss=val_loss)
        if stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    report.best_validation_loss = round(best, 5)
    return report


def train_dp(model: TabularAR, tokens: Tensor, params: dict[str, Any], *, seed: int) -> TrainReport:
    """DP-SGD (Opacus, RDP accountant) for `params["epochs"]` epochs within (epsilon, delta)."""
    import warnings

    with warnings.catch_warnings():
        # Opacus warns that secure_mode is off (a CSPRNG for the noise costs speed), that the
        # RDP orders could be widened, and that no input requires grad; none changes the result
        warnings.simplefilter("ignore")
        return _train_dp(model, tokens, params, seed=seed)


def _train_dp(
    model: TabularAR, tokens: Tensor, params: dict[str, Any], *, seed: int
) -> TrainReport:
    from opacus import PrivacyEngine

    device = tokens.device
    epsilon, epochs = params["epsilon"], params["epochs"] or DP_EPOCHS
    delta = params["delta"] or 1.0 / len(tokens) ** 1.1  # well below 1/n, as DP practice asks
    batch_size = min(params["batch_size"], max(64, len(tokens) // 20))
    sample_rate = poisson_rate(len(tokens), batch_size)
    noise = noise_multiplier(epsilon, delta, sample_rate, epochs, f"{len(tokens)} rows")
    generator = torch.Generator(device=device).manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(tokens),
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=params["lr"])
    privacy = PrivacyEngine(accountant="rdp", secure_mode=False)
    model.per_sample_gradients = True
    # ghost clipping: each row's gradient norm comes from activations and output gradients, not
    # from a materialised per-row copy of the embedding table (7.7x faster a step on Adult,
    # bench/dp_clipping.py); the clipped update is the same as with per-sample hooks (tested)
    private, optimiser, criterion, loader = privacy.make_private(
        module=model,
        optimizer=optimiser,
        criterion=HiddenLoss(),
        data_loader=loader,
        noise_multiplier=noise,
        max_grad_norm=params["max_grad_norm"],
        poisson_sampling=True,
        noise_generator=torch.Generator(device=device).manual_seed(seed),
        grad_sample_mode="ghost",
    )
    rank = torch.arange(tokens.shape[1], device=device)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        private.train()
        for (batch,) in loader:
            if len(batch):
                visible = random_visibility(len(batch), tokens.shape[1], rank, generator=generator)
                optimiser.zero_grad(set_to_none=True)
                logits = private(batch, visible)  # through Opacus' per-sample hooks
                criterion(logits, batch, visible).backward()  # two passes: norms, then clipped
                optimiser.step()
        # no loss in the log or the tick: an un-noised loss of the private rows is outside the
        # accounting
        log.info("DP epoch %d/%d: %.1f s", epoch, epochs, time.perf_counter() - started)
        progress.report("fit", epoch, epochs)
    spent = float(privacy.get_epsilon(delta))
    private.remove_hooks()  # the bare model samples and saves; no per-sample state left on it
    model.per_sample_gradients = False
    if spent > epsilon * 1.0001:
        raise SynthError(
            f"differential privacy: spent epsilon {spent:.3f} exceeds the budget {epsilon}"
        )
    return TrainReport(
        epochs=epochs,
        privacy={
            "epsilon_budget": epsilon,
            "epsilon_spent": round(spent, 4),
            "delta": delta,
            "noise_multiplier": round(noise, 4),
            "max_grad_norm": params["max_grad_norm"],
            "sample_rate": round(sample_rate, 6),
            "epochs": epochs,
            "accountant": "rdp",
        },
    )


def poisson_rate(rows: int, batch_size: int) -> float:
    """The sampling rate Opacus' Poisson loader uses for a loader of `batch_size` batches: one
    over its batch count, which it also runs each epoch. Calibrating the noise at the nominal
    batch_size / rows instead overspends when rows is not a multiple of the batch."""
    return 1.0 / math.ceil(rows / batch_size)


def noise_multiplier(epsilon: float, delta: float, rate: float, epochs: int, of: str) -> float:
    """The noise that spends `epsilon` (a little under: the search stops within its tolerance,
    on either side) in `epochs` epochs at sampling `rate`; `of` says what was sampled, for the
    error when no noise can."""
    import warnings

    from opacus.accountants.utils import get_noise_multiplier

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the RDP orders could be widened: no change here
            noise = get_noise_multiplier(
                target_epsilon=epsilon * 0.99,
                epsilon_tolerance=epsilon * 0.005,
                target_delta=delta,
                sample_rate=min(rate, 1.0),
                epochs=epochs,
                accountant="rdp",
            )
        return float(noise)
    except ValueError:
        raise SpecError(
            f"model.differential_privacy: epsilon {epsilon} cannot be met in {epochs} epochs "
            f"of {of}; raise epsilon or lower model.params.epochs"
        ) from None


def _by_subject(subjects: np.ndarray, n_val: int, seed: int) -> tuple[np.ndarray, int]:
    """A row order that starts with whole shuffled subjects reaching `n_val` rows (and at least
    one subject, and at least one left for training); the rest are shuffled. Returns the order
    and how many rows lead it."""
    from synth.io.split import subject_order

    codes = np.unique(subjects, return_inverse=True)[1].ravel()
    order, ends = subject_order(codes, np.random.default_rng(seed))
    taken = min(int(np.searchsorted(ends, n_val)), len(ends) - 2)
    held = int(ends[max(taken, 0)]) if len(ends) > 1 else n_val
    return order, held


class HiddenLoss:
    """`hidden_loss` as a criterion for Opacus' ghost clipping, which switches `reduction` to
    "none" to get one loss per row."""

    reduction = "mean"

    def __call__(self, logits: list[Tensor], tokens: Tensor, visible: Tensor) -> Tensor:
        per_row = hidden_loss(logits, tokens, visible)
        return per_row if self.reduction == "none" else per_row.mean()


def visibility(
    rows: int, columns: int, rank: Tensor, *, generator: torch.Generator, given: int = 0
) -> Tensor:
    """`random_visibility` over the columns after the first `given`, which are always visible.
    With none given it is exactly `random_visibility` (the same draws)."""
    if not given:
        return random_visibility(rows, columns, rank, generator=generator)
    rest = random_visibility(rows, columns - given, rank[: columns - given], generator=generator)
    return torch.cat([torch.ones(rows, given, dtype=torch.bool, device=rank.device), rest], 1)


def _step(
    model: TabularAR,
    optimiser: Any,
    batch: Tensor,
    rank: Tensor,
    generator: torch.Generator,
    given: int = 0,
) -> Tensor:
    """One optimiser step; returns the batch's loss (detached, left on the device: no sync)."""
    visible = visibility(len(batch), batch.shape[1], rank, generator=generator, given=given)
    loss = model.loss(batch, visible)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.detach()
