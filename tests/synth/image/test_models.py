"""Conditional image generators on scikit-learn's 8x8 digits (and resized copies of them)."""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from synth.image.models import ConditionalGAN, ConditionalVAE, GANConfig, VAEConfig, load, save
from synth.image.monitor import diversity_monitor
from synth.image.train import TrainSettings, _divergence, sample, train

FAST = {"epochs": 2, "batch_size": 64, "device": "cpu", "progress": False}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny convolutions run far faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def digits(rows: int = 1797, *, size: int = 8, channels: int = 1) -> tuple[Tensor, Tensor]:
    """The first `rows` digits in [-1, 1], resized to `size` and repeated over `channels`."""
    from sklearn.datasets import load_digits

    data = load_digits()
    images = torch.tensor(data.images[:rows], dtype=torch.float32)[:, None] / 8 - 1
    if size != 8:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.repeat(1, channels, 1, 1), torch.tensor(data.target[:rows], dtype=torch.long)


def tiny(kind: str, size: int = 8, channels: int = 1) -> GANConfig | VAEConfig:
    if kind == "cgan":
        return GANConfig(size, channels, 10, latent=8, width=8)
    return VAEConfig(size, channels, 10, latent=4, width=8)


def build(kind: str, size: int = 8, channels: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return (ConditionalGAN if kind == "cgan" else ConditionalVAE)(tiny(kind, size, channels))


@pytest.mark.parametrize("kind", ["cgan", "cvae"])
@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_models_sample_images_of_the_configured_shape(kind: str, size: int, channels: int) -> None:
    model = build(kind, size, channels)
    labels = torch.tensor([0, 3, 9])
    images = model.sample(labels, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1
    real, y = digits(4, size=size, channels=channels)
    if kind == "cgan":
        logits, features = model.discriminator(real, y)
        assert logits.shape == (4,) and features.ndim == 2
    else:
        losses = model.loss(real, y)
        assert all(math.isfinite(float(v.detach())) for v in losses.values())


@pytest.mark.parametrize("kind", ["cgan", "cvae"])
def test_save_load_round_trip_gives_identical_samples(kind: str, tmp_path: Path) -> None:
    model = build(kind, 16)
    manifest = save(model, tmp_path)
    assert manifest["kind"] == kind and manifest["config"]["image_size"] == 16
    labels = torch.arange(10)
    before = sample(model, labels, seed=3)
    assert torch.equal(sample(load(tmp_path), labels, seed=3), before)


def test_tampered_weights_raise_value_error(tmp_path: Path) -> None:
    save(build("cgan"), tmp_path)
    weights = tmp_path / "model.pt"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(ValueError, match=r"model\.pt"):
        load(tmp_path)


class Payload:
    """Anything but tensors: a weights-only load must refuse to build it."""


def test_load_refuses_pickled_objects_even_with_a_matching_hash(tmp_path: Path) -> None:
    import hashlib
    import json

    save(build("cvae"), tmp_path)
    torch.save({"payload": Payload()}, tmp_path / "model.pt")
    manifest = json.loads((tmp_path / "model.json").read_text())
    manifest["sha256"] = hashlib.sha256((tmp_path / "model.pt").read_bytes()).hexdigest()
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(pickle.UnpicklingError):
        load(tmp_path)


@pytest.mark.parametrize("kind", ["cgan", "cvae"])
def test_training_is_deterministic_on_cpu(kind: str) -> None:
    images, labels = digits(384)
    runs = [train(kind, images, labels, tiny(kind), TrainSettings(**FAST)) for _ in range(2)]
    drop = ("seconds", "images_per_s")
    first, second = (
        [{k: v for k, v in r.items() if k not in drop} for r in run.history] for run in runs
    )
    assert first == second and len(first) == 2
    wanted = torch.arange(10).repeat(3)
    assert torch.equal(sample(runs[0].model, wanted, seed=1), sample(runs[1].model, wanted, seed=1))


def test_cvae_reduces_its_loss_on_digits() -> None:
    images, labels = digits()
    settings = TrainSettings(**{**FAST, "epochs": 4, "lr": 2e-3})
    result = train("cvae", images, labels, tiny("cvae"), settings)
    losses = [r["loss"] for r in result.history]
    assert not result.diverged and len(losses) == 4
    assert losses[-1] < 0.8 * losses[0]
    assert result.best_epoch == 4  # the monitor's score is -loss on held training images


def test_cvae_samples_from_a_mixture_fitted_where_its_training_images_land() -> None:
    images, labels = digits(600)
    result = train("cvae", images, labels, tiny("cvae"), TrainSettings(**FAST))
    model = result.model
    mu, logvar = model.encode(images, labels)
    for c in range(10):
        weight = model.prior_weight[c]
        assert weight.sum() == pytest.approx(1.0, abs=1e-5) and (weight > 0).sum() > 1
        mixture_mean = (weight[:, None] * model.prior_mean[c]).sum(0)
        # fitted to one posterior draw per image: its mean is the means' mean, up to that noise
        se = (logvar[labels == c].exp().mean(0) / (labels == c).sum()).sqrt()
        assert ((mixture_mean - mu[labels == c].mean(0)).abs() < 4 * se + 1e-3).all()
    drawn = model.draw_latents(torch.full((4000,), 3), torch.Generator().manual_seed(0))
    expected = (model.prior_weight[3][:, None] * model.prior_mean[3]).sum(0)
    torch.testing.assert_close(drawn.mean(0), expected, atol=0.08, rtol=0)
    # a class with too few images to fit keeps N(0, I)
    fresh = build("cvae")
    fresh.fit_prior(images[:3], labels[:3])
    assert torch.equal(fresh.prior_scale[0, 0], torch.eye(4)) and not fresh.prior_mean.any()


def test_cgan_trains_a_few_epochs_without_diverging() -> None:
    images, labels = digits()
    result = train("cgan", images, labels, tiny("cgan"), TrainSettings(**{**FAST, "epochs": 3}))
    assert not result.diverged and result.reason is None
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in result.history)
    assert {"diversity", "fidelity", "score", "collapsed"} <= result.history[-1].keys()
    fakes = sample(result.model, torch.arange(10), seed=0)
    assert fakes.shape == (10, 1, 8, 8) and fakes.abs().max() <= 1


class Stub(nn.Module):
    """A 'generator' that ignores z: it answers from a fixed bank of real images per class,
    one image per class (`pick=False`, a collapsed generator) or a random one (`pick=True`)."""

    def __init__(self, images: Tensor, labels: Tensor, *, pick: bool) -> None:
        super().__init__()
        self.bank = nn.Parameter(images.clone(), requires_grad=False)
        self.register_buffer("labels", labels.clone())
        self.pick = pick
        self.config = SimpleNamespace(channels=images.shape[1], image_size=images.shape[2])

    def sample(self, labels: Tensor, *, generator: torch.Generator) -> Tensor:
        rows = []
        for label in labels.tolist():  # a test double: a loop is fine here
            members = (self.labels == label).nonzero().squeeze(1)
            at = torch.randint(len(members), (1,), generator=generator) if self.pick else 0
            rows.append(self.bank[members[at]].reshape(self.bank.shape[1:]))
        return torch.stack(rows)


def test_monitor_flags_a_generator_that_returns_one_image_per_class() -> None:
    images, labels = digits()
    report = diversity_monitor(images, labels)(Stub(images, labels, pick=False), 1)
    assert report["collapsed"] is True and report["min_diversity"] == 0.0


def test_monitor_flags_a_generator_that_repeats_a_few_modes_per_class() -> None:
    """Four real images per class, each repeated with faint noise: the spread across samples stays
    high (four modes keep most of it) but every sample has a near twin."""
    images, labels = digits()
    few = torch.cat([(labels == c).nonzero().squeeze(1)[:4] for c in range(10)])

    class Modes(Stub):
        def sample(self, labels: Tensor, *, generator: torch.Generator) -> Tensor:
            drawn = super().sample(labels, generator=generator)
            noise = torch.randn(drawn.shape, generator=generator)
            return (drawn + 0.02 * noise).clamp(-1, 1)

    report = diversity_monitor(images, labels)(Modes(images[few], labels[few], pick=True), 1)
    assert report["collapsed"] is True
    assert report["min_diversity"] > 0.3 and report["distinctness"] < 0.3


def test_monitor_does_not_flag_real_images() -> None:
    images, labels = digits()
    report = diversity_monitor(images, labels)(Stub(images, labels, pick=True), 1)
    assert report["collapsed"] is False
    assert 0.8 < report["diversity"] < 1.2 and report["distinctness"] > 0.6


def test_a_monitor_reporting_collapse_marks_the_run_collapsed() -> None:
    images, labels = digits(256)
    settings = TrainSettings(**{**FAST, "epochs": 4, "patience": 2})

    def collapsed(model: nn.Module, epoch: int) -> dict:
        return {"score": float(epoch), "collapsed": True}

    result = train("cgan", images, labels, tiny("cgan"), settings, monitor=collapsed)
    assert result.collapsed and len(result.history) == 2
    assert result.reason is not None and result.reason.startswith("mode collapse")


def test_an_exploding_learning_rate_stops_training_as_diverged() -> None:
    images, labels = digits(256)
    settings = TrainSettings(**{**FAST, "lr": 1e10})
    result = train("cvae", images, labels, tiny("cvae"), settings)
    assert result.diverged and "nan" in result.reason
    assert result.best_epoch == 0 and len(result.history) == 1


def test_a_nan_loss_after_a_good_epoch_keeps_that_epochs_weights(monkeypatch) -> None:
    images, labels = digits(256)
    batches_per_epoch, calls = 256 // 64, {"n": 0}
    honest = ConditionalGAN.generator_loss

    def poisoned(self: ConditionalGAN, *args: Tensor) -> Tensor:
        calls["n"] += 1
        loss = honest(self, *args)
        return loss * float("nan") if calls["n"] > batches_per_epoch else loss

    monkeypatch.setattr(ConditionalGAN, "generator_loss", poisoned)
    result = train("cgan", images, labels, tiny("cgan"), TrainSettings(**{**FAST, "epochs": 3}))
    # (one epoch of a tiny GAN also repeats itself, so the reason may add that it collapsed)
    assert result.diverged and result.reason.startswith("diverged: d_loss is nan in epoch 2")
    assert result.best_epoch == 1 and len(result.history) == 2
    assert all(torch.isfinite(v).all() for v in result.model.state_dict().values())


def test_a_critic_that_wins_outright_counts_as_divergence() -> None:
    won = {"d_loss": 0.001, "g_loss": 40.0}
    assert _divergence("cgan", [{"epoch": 1, **won}]) is None
    assert "critic loss" in _divergence("cgan", [{"epoch": 1, **won}, {"epoch": 2, **won}])


def test_redraw_replaces_only_rejected_images_deterministically() -> None:
    from synth.image.train import redraw

    model = build("cvae").eval()
    labels = torch.arange(10).repeat(5)
    first = sample(model, labels, seed=0)

    def keep(images: Tensor) -> Tensor:  # rejects the brighter half, whatever the draw
        return images.flatten(1).mean(1) < first.flatten(1).mean(1).median()

    out, rejected, left = redraw(model, labels, first, keep, seed=0, rounds=20)
    again = redraw(model, labels, first, keep, seed=0, rounds=20)[0]
    kept = keep(first)
    assert rejected == int((~kept).sum()) > 0 and left < rejected
    assert torch.equal(out[kept], first[kept]) and torch.equal(out, again)
    assert int((~keep(out)).sum()) == left
