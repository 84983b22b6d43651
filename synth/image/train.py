"""Train a conditional image generator: seeded, monitored each epoch, best checkpoint kept.

    result = train("cgan", images, labels, GANConfig(28, 1, 10), TrainSettings(epochs=20))
    if result.collapsed or result.diverged: ...  # result.reason says why
    fakes = sample(result.model, labels, seed=1)

A monitor is any `(model, epoch) -> dict` with at least `score` (higher is better); without one,
`synth.image.monitor.diversity_monitor` compares the spread and closeness of samples to the real
images, class by class.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Literal

import torch
from torch import Tensor, nn

from synth import progress
from synth.image.models import KINDS, ConditionalGAN, ConditionalVAE, GANConfig, VAEConfig
from synth.redraw import redraw as refill

__all__ = [
    "Monitor",
    "TrainResult",
    "TrainSettings",
    "redraw",
    "sample",
    "train",
]

Monitor = Callable[[nn.Module, int], dict[str, Any]]
Step = Callable[[Tensor, Tensor], dict[str, Tensor]]

# A hinge critic at ~0 loss while -D(G(z)) runs away means it separates real from fake perfectly
# and the generator gets no useful gradient; two such epochs in a row count as divergence.
CRITIC_WON, GENERATOR_LOST, WON_EPOCHS = 0.01, 10.0, 2
GAN_LOSS_EXPLODED = 1e4  # spectrally normalised critics keep logits far below this
RECOVERY = 1.1  # a flagged epoch whose distinctness beats all before by 10% does not count


@dataclass
class TrainSettings:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-4
    # GAN: SN-GAN's setting for one critic step per generator step (Miyato et al. 2018, "C"):
    # lr 2e-4, betas (0.5, 0.999); betas (0.0, 0.9) there is tuned for five critic steps.
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "auto"
    patience: int = 5  # epochs without a better score (or collapsed in a row) before stopping
    amp: bool = True  # bf16 autocast, CUDA only
    progress: bool = True


@dataclass
class TrainResult:
    model: nn.Module  # the best checkpoint, on CPU, in eval mode
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0  # 0: no epoch finished cleanly; the model holds its initial weights
    stopped_early: bool = False
    collapsed: bool = False
    diverged: bool = False
    reason: str | None = None


def resolve_device(name: str | torch.device) -> torch.device:
    """ "auto" is CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    kind: Literal["cgan", "cvae"],
    images: Tensor,
    labels: Tensor,
    config: GANConfig | VAEConfig,
    settings: TrainSettings | None = None,
    monitor: Monitor | None = None,
) -> TrainResult:
    """Fit a `kind` model on images (N, C, H, W) in [-1, 1] and labels (N,) in [0, classes)."""
    settings = settings or TrainSettings()
    model_cls, config_cls = KINDS[kind]
    if not isinstance(config, config_cls):
        raise TypeError(f"{kind} needs a {config_cls.__name__}")
    _check_data(images, labels, config)
    device = resolve_device(settings.device)
    on_cuda = device.type == "cuda"
    torch.manual_seed(settings.seed)
    model = model_cls(config).to(device)
    memory = torch.channels_last if on_cuda else torch.contiguous_format
    model = model.to(memory_format=memory)
    data = images.to(device, torch.float32).contiguous(memory_format=memory)
    targets = labels.to(device)
    if monitor is None:
        from synth.image.monitor import diversity_monitor

        monitor = diversity_monitor(images, labels, seed=settings.seed)
    shuffle = torch.Generator().manual_seed(settings.seed)
    noise = torch.Generator(device=device).manual_seed(settings.seed)
    use_bf16 = settings.amp and on_cuda and torch.cuda.is_bf16_supported()
    autocast = (
        (lambda: torch.autocast("cuda", torch.bfloat16)) if use_bf16 else contextlib.nullcontext
    )
    build = _gan_step if kind == "cgan" else _vae_step
    step = build(model, settings, noise, autocast)

    result = TrainResult(model=model)
    best_state, best_score = _copy_state(model), -math.inf
    stale = collapsed_run = 0
    batch = min(settings.batch_size, len(data))
    batches = len(data) // batch  # the ragged tail is dropped: the mini-batch std needs a batch
    bar = _progress(settings)
    for epoch in range(1, settings.epochs + 1):
        start = perf_counter()
        model.train()
        order = torch.randperm(len(data), generator=shuffle).to(device)
        totals: dict[str, Tensor] = {}
        for i in range(batches):
            idx = order[i * batch : (i + 1) * batch]
            for name, value in step(data[idx], targets[idx]).items():
                totals[name] = totals.get(name, 0) + value.detach().float()
        losses = {name: float(total) / batches for name, total in totals.items()}
        seconds = perf_counter() - start
        record = {"epoch": epoch, "seconds": seconds, **losses}
        record["images_per_s"] = batches * batch / seconds
        result.history.append(record)
        reason = _divergence(kind, result.history)
        if reason:
            result.diverged, result.reason = True, reason
            progress.report("fit", epoch, epoch, **losses)  # the last epoch: 100%
            break
        if isinstance(model, ConditionalVAE):  # the monitor judges what sampling will draw
            model.fit_prior(data, targets, seed=settings.seed)
        with progress.silenced():  # the monitor's samples are not the run's sampled images
            record.update(monitor(model, epoch))
        score = float(record["score"])
        if score > best_score:
            best_state, best_score, result.best_epoch, stale = _copy_state(model), score, epoch, 0
        else:
            stale += 1
        stuck = record.get("collapsed") and not _recovering(result.history)
        collapsed_run = collapsed_run + 1 if stuck else 0
        bar.update(1)
        bar.set_postfix({k: _short(v) for k, v in record.items() if k not in ("epoch", "seconds")})
        stop = collapsed_run >= settings.patience or stale >= settings.patience
        progress.report("fit", epoch, epoch if stop else settings.epochs, **losses, score=score)
        if collapsed_run >= settings.patience:
            result.collapsed = True
            result.reason = f"mode collapse: the monitor flagged {collapsed_run} epochs in a row"
            break
        if stale >= settings.patience:
            result.stopped_early = True
            break
    bar.close()
    _flag_collapse_at_end(result)
    model.load_state_dict(best_state)
    result.model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    return result


def _gan_step(
    model: ConditionalGAN, settings: TrainSettings, noise: torch.Generator, autocast: Callable
) -> Step:
    """One critic update and one generator update per batch, on the same labels."""
    critic = model.discriminator
    opt_d = torch.optim.Adam(critic.parameters(), lr=settings.lr, betas=settings.betas)
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=settings.lr, betas=settings.betas)
    latent = model.config.latent

    def step(real: Tensor, y: Tensor) -> dict[str, Tensor]:
        z = torch.randn(len(y), latent, generator=noise, device=y.device)
        with autocast():
            fake = model(z, y)
            d_loss, real_h = model.discriminator_loss(real, fake, y)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        critic.requires_grad_(False)  # the generator step needs no critic weight gradients
        with autocast():
            g_loss = model.generator_loss(fake, y, real_h)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        critic.requires_grad_(True)
        return {"d_loss": d_loss, "g_loss": g_loss}

    return step


def _vae_step(
    model: ConditionalVAE, settings: TrainSettings, noise: torch.Generator, autocast: Callable
) -> Step:
    """One Adam step on recon + beta * KL (Adam's default betas: the VAE loss is not a game)."""
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)

    def step(x: Tensor, y: Tensor) -> dict[str, Tensor]:
        with autocast():
            losses = model.loss(x, y, generator=noise)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        return losses

    return step


def _divergence(kind: str, history: list[dict[str, Any]]) -> str | None:
    """Why the latest epoch counts as diverged, or None."""
    latest = history[-1]
    for name in ("d_loss", "g_loss", "loss", "recon", "kl"):
        if name in latest and not math.isfinite(latest[name]):
            return f"diverged: {name} is {latest[name]} in epoch {latest['epoch']}"
    if kind != "cgan":
        return None
    for name in ("d_loss", "g_loss"):
        if abs(latest[name]) > GAN_LOSS_EXPLODED:
            return f"diverged: |{name}| over {GAN_LOSS_EXPLODED:g} in epoch {latest['epoch']}"
    won = [r["d_loss"] < CRITIC_WON and r["g_loss"] > GENERATOR_LOST for r in history[-WON_EPOCHS:]]
    if len(won) == WON_EPOCHS and all(won):
        return (
            f"diverged: critic loss under {CRITIC_WON} with generator loss over "
            f"{GENERATOR_LOST} for {WON_EPOCHS} epochs (last: {latest['epoch']})"
        )
    return None


def _recovering(history: list[dict[str, Any]]) -> bool:
    """Whether the latest epoch's distinctness beat every earlier one by 10%: a model still learning
    to vary (a VAE's first epochs decode near-identical blurs) is not stopped as collapsed; one
    that stays collapsed is. A final or best epoch still collapsed is reported all the same."""
    values = [r.get("distinctness") for r in history]
    if len(values) < 2 or any(v is None for v in values):
        return False
    return values[-1] > RECOVERY * max(values[:-1])


def _flag_collapse_at_end(result: TrainResult) -> None:
    """A collapsed final or best epoch is reported even when no streak stopped training."""
    if result.collapsed:
        return
    flagged = [r["epoch"] for r in result.history if r.get("collapsed")]
    ends = {result.history[-1]["epoch"] if result.history else None, result.best_epoch}
    if ends & set(flagged):
        result.collapsed = True
        note = f"mode collapse: the monitor flagged epoch(s) {sorted(ends & set(flagged))}"
        result.reason = f"{result.reason}; {note}" if result.reason else note


def _check_data(images: Tensor, labels: Tensor, config: GANConfig | VAEConfig) -> None:
    side, c = config.image_size, config.channels
    if images.ndim != 4 or tuple(images.shape[1:]) != (c, side, side):
        raise ValueError(f"images must be (N, {c}, {side}, {side})")
    if not images.is_floating_point():
        raise ValueError("images must be floating point in [-1, 1]")
    if labels.shape != (len(images),) or labels.dtype != torch.long:
        raise ValueError("labels must be a LongTensor with one label per image")
    if len(labels) < 2 or labels.min() < 0 or labels.max() >= config.classes:
        raise ValueError(f"labels must lie in [0, {config.classes}) and there must be 2+ images")


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _progress(settings: TrainSettings) -> Any:
    from tqdm.auto import tqdm  # imported on use: importing synth stays fast

    return tqdm(total=settings.epochs, desc="epochs", disable=not settings.progress, leave=False)


def _short(value: Any) -> Any:
    return f"{value:.3g}" if isinstance(value, float) else value


@torch.no_grad()
def sample(
    model: nn.Module,
    labels: Tensor,
    *,
    seed: int,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> Tensor:
    """One image per label, (N, C, H, W) in [-1, 1] as CPU float; `model` moves to `device`."""
    device = resolve_device(device)
    model.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    chunks: list[Tensor] = []
    for i in range(0, len(labels), batch_size):
        batch = labels[i : i + batch_size].to(device)
        chunks.append(model.sample(batch, generator=generator).cpu())
        progress.advance("sample", len(chunks[-1]), len(labels))
    c = model.config
    return torch.cat(chunks) if chunks else torch.empty(0, c.channels, c.image_size, c.image_size)


def redraw(
    model: nn.Module,
    labels: Tensor,
    images: Tensor,
    keep: Callable[[Tensor], Tensor],
    *,
    seed: int,
    rounds: int,
) -> tuple[Tensor, int, int]:
    """Replace the images `keep` rejects with fresh draws for the same labels, round r seeded from
    `seed` and r, for up to `rounds` rounds (the image privacy filter; synth.redraw, per slot).
    Returns the images, how many were rejected at first, and how many are still rejected."""

    def draw(slots, round_: int) -> Tensor:  # slots: a numpy array of the rejected images
        with progress.silenced():  # replacements, not more of the planned images
            return sample(model, labels[slots], seed=seed + 7919 * round_)

    draws, tally = refill(images, keep=keep, draw=draw, max_rounds=rounds, per_slot=True)
    images = images.clone()
    for redrawn in draws[1:]:  # a slot still rejected keeps its last round's draw
        images[redrawn.slots] = redrawn.items
    return images, tally.replaced, tally.shortfall
