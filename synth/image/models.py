"""Conditional image generators: a projection cGAN and a conditional VAE, each with its own config.

Both build their resolution pyramid the same way: an image of side S is halved while it stays even
and at least 4 (28 -> 14 -> 7, 64 -> 32 -> ... -> 4), so MNIST's 28 px works without padding.
The generator and the VAE decoder share one upsampling stack with class-conditional batch norm;
the discriminator and the VAE encoder share one downsampling stack.

    model = ConditionalGAN(GANConfig(image_size=28, channels=1, classes=10))
    images = model.sample(labels, generator=torch.Generator().manual_seed(0))  # in [-1, 1]
    save(model, directory); model = load(directory)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from synth.tabular.base import file_sha256

__all__ = ["ConditionalGAN", "ConditionalVAE", "GANConfig", "VAEConfig", "load", "save"]

WEIGHTS, MANIFEST = "model.pt", "model.json"


@dataclass
class GANConfig:
    image_size: int
    channels: int
    classes: int
    latent: int = 64
    width: int = 64  # channels at full resolution; doubled per halving, capped at width * max_mult
    max_mult: int = 4
    feature_matching: float = 0.0  # weight of Salimans et al.'s feature-matching term in the G loss


@dataclass
class VAEConfig:
    image_size: int
    channels: int
    classes: int
    latent: int = 32
    width: int = 32
    max_mult: int = 4
    # Under 1: sharper reconstructions. The KL term only regularises here, since sampling draws from
    # the fitted mixture below rather than from N(0, I) (on MNIST, beta 1 -> 0.25 at latent 16 -> 32
    # lifts coverage from 0.70 to 0.85 at the same cost).
    beta: float = 0.25
    recon: Literal["bce", "mse"] = "bce"  # both on images scaled to [0, 1]
    # Sampling prior per class: a Gaussian mixture of this many components fitted to the training
    # images' posterior means after training (0: the N(0, I) the KL term pulls towards).
    prior_components: int = 10


def _pyramid(image_size: int, width: int, max_mult: int) -> tuple[int, list[int]]:
    """Base side and channel widths from the base up to full resolution."""
    if image_size < 4:
        raise ValueError("image_size must be at least 4")
    base, steps = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, steps = base // 2, steps + 1
    return base, [width * min(2 ** (steps - i), max_mult) for i in range(steps + 1)]


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose gain and bias are looked up per class (de Vries et al., 2017)."""

    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(features, affine=False)
        self.gain = nn.Embedding(classes, features)
        self.bias = nn.Embedding(classes, features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.norm(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class UpBlock(nn.Module):
    """norm(y) -> ReLU -> 2x nearest upsample -> 3x3 conv; nearest+conv avoids checkerboards."""

    def __init__(self, c_in: int, c_out: int, classes: int) -> None:
        super().__init__()
        self.norm = ConditionalBatchNorm(c_in, classes)
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = F.interpolate(F.relu(self.norm(x, y)), scale_factor=2.0, mode="nearest")
        return self.conv(x)


class Upsampler(nn.Module):
    """A code vector and a label -> image logits (N, C, S, S); the cGAN generator and cVAE decoder."""

    def __init__(
        self, code: int, image_size: int, channels: int, classes: int, width: int, mult: int
    ):
        super().__init__()
        self.base, widths = _pyramid(image_size, width, mult)
        self.project = nn.Linear(code, widths[0] * self.base**2)
        self.blocks = nn.ModuleList(UpBlock(a, b, classes) for a, b in pairwise(widths))
        self.norm = ConditionalBatchNorm(widths[-1], classes)
        self.to_image = nn.Conv2d(widths[-1], channels, 3, padding=1)

    def forward(self, code: Tensor, y: Tensor) -> Tensor:
        x = self.project(code).view(len(code), -1, self.base, self.base)
        for block in self.blocks:
            x = block(x, y)
        return self.to_image(F.relu(self.norm(x, y)))


def _conv(c_in: int, c_out: int, kernel: int, stride: int, sn: bool) -> nn.Module:
    # padding 1: a 3x3/1 conv keeps the side, a 4x4/2 conv halves it
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=1)
    return spectral_norm(conv) if sn else conv


class DownBlock(nn.Module):
    """3x3 conv -> LeakyReLU -> 4x4 stride-2 conv -> LeakyReLU (spectrally normalised in the critic)."""

    def __init__(self, c_in: int, c_out: int, sn: bool) -> None:
        super().__init__()
        self.conv1 = _conv(c_in, c_out, 3, 1, sn)
        self.conv2 = _conv(c_out, c_out, 4, 2, sn)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv2(F.leaky_relu(self.conv1(x), 0.2)), 0.2)


class Downsampler(nn.Module):
    """Image (N, C, S, S) + label -> feature map (N, width_at_base, base, base)."""

    def __init__(
        self, image_size: int, channels: int, classes: int | None, width: int, mult: int, sn: bool
    ):
        super().__init__()
        _, widths = _pyramid(image_size, width, mult)
        widths = widths[::-1]
        self.from_image = _conv(channels, widths[0], 3, 1, sn)
        # a per-class bias after the first conv = concatenating one-hot label planes, minus the cost
        self.label = nn.Embedding(classes, widths[0]) if classes else None
        self.blocks = nn.Sequential(*(DownBlock(a, b, sn) for a, b in pairwise(widths)))
        self.features = widths[-1]

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.from_image(x)
        if self.label is not None:
            x = x + self.label(y)[:, :, None, None]
        return self.blocks(F.leaky_relu(x, 0.2))


def minibatch_stddev(x: Tensor) -> Tensor:
    """Append the batch's mean feature standard deviation as one more channel (Karras et al., 2018):
    a batch of near-copies shows a small value, which lets the critic punish collapse."""
    spread = x.float().std(dim=0, unbiased=False).mean().to(x.dtype)
    return torch.cat([x, spread.expand(len(x), 1, *x.shape[2:])], dim=1)


class Discriminator(nn.Module):
    """Spectrally normalised critic with projection conditioning (Miyato & Koyama, 2018):
    logit = psi(h) + <embed(y), h>, where h is the sum-pooled feature vector."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        c = config
        self.trunk = Downsampler(c.image_size, c.channels, None, c.width, c.max_mult, sn=True)
        f = self.trunk.features
        self.head = spectral_norm(nn.Conv2d(f + 1, f, 3, padding=1))
        self.psi = spectral_norm(nn.Linear(f, 1))
        self.embed = spectral_norm(nn.Embedding(c.classes, f))

    def forward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (N,) and the features h (N, F) they were read from (for feature matching)."""
        h = F.leaky_relu(self.head(minibatch_stddev(self.trunk(x))), 0.2).sum(dim=(2, 3))
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(dim=1), h


class ConditionalGAN(nn.Module):
    """Hinge-loss projection cGAN; `forward(z, y)` is the generator, in [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        c = self.config = config
        self.label = nn.Embedding(c.classes, c.latent)
        self.generator = Upsampler(
            2 * c.latent, c.image_size, c.channels, c.classes, c.width, c.max_mult
        )
        self.discriminator = Discriminator(config)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return torch.tanh(self.generator(torch.cat([z, self.label(y)], dim=1), y))

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.label.parameters(), *self.generator.parameters()]

    def discriminator_loss(self, real: Tensor, fake: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Hinge loss on real and (detached) fake batches, and the real features h for matching."""
        real_logits, real_h = self.discriminator(real, y)
        fake_logits, _ = self.discriminator(fake.detach(), y)
        loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        return loss, real_h.detach()

    def generator_loss(self, fake: Tensor, y: Tensor, real_h: Tensor) -> Tensor:
        """-E[D(G(z))], plus feature matching against the real batch's mean critic features."""
        logits, fake_h = self.discriminator(fake, y)
        loss = -logits.mean()
        if self.config.feature_matching:
            gap = (fake_h.float().mean(0) - real_h.float().mean(0)).square().mean()
            loss = loss + self.config.feature_matching * gap
        return loss

    @torch.no_grad()
    def sample(self, labels: Tensor, *, generator: torch.Generator) -> Tensor:
        """One image per label; z is drawn from `generator` (on the model's device)."""
        z = torch.randn(len(labels), self.config.latent, generator=generator, device=labels.device)
        return _in_eval(self, lambda: self(z, labels))


class ConditionalVAE(nn.Module):
    """VAE whose encoder and decoder both see the label; loss = recon + beta * KL, per image.

    Sampling draws z from a per-class Gaussian mixture fitted to where the training images actually
    land in latent space (`fit_prior`; "ex-post density estimation", Ghosh et al. 2020), not from
    N(0, I): the aggregate posterior leaves holes in N(0, I) that decode to blurred in-betweens.
    On MNIST (width 16, latent 16, beta 1, 20 epochs) this lifts conditional accuracy from 0.79 to
    0.96 and coverage from 0.49 to 0.70 at the same weights. Until fitted, the mixture is N(0, I).
    """

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        c = self.config = config
        k = max(c.prior_components, 1)
        self.register_buffer("prior_weight", torch.full((c.classes, k), 1.0 / k))
        self.register_buffer("prior_mean", torch.zeros(c.classes, k, c.latent))
        self.register_buffer(
            "prior_scale", torch.eye(c.latent).expand(c.classes, k, -1, -1).clone()
        )
        self.encoder = Downsampler(
            c.image_size, c.channels, c.classes, c.width, c.max_mult, sn=False
        )
        base, _ = _pyramid(c.image_size, c.width, c.max_mult)
        self.posterior = nn.Linear(self.encoder.features * base**2, 2 * c.latent)
        self.label = nn.Embedding(c.classes, c.latent)
        self.decoder = Upsampler(
            2 * c.latent, c.image_size, c.channels, c.classes, c.width, c.max_mult
        )

    def decode(self, z: Tensor, y: Tensor) -> Tensor:
        """Logits of the [0, 1]-scaled image."""
        return self.decoder(torch.cat([z, self.label(y)], dim=1), y)

    def forward(
        self, x: Tensor, y: Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction logits, posterior mean and log-variance."""
        mu, logvar = self.posterior(self.encoder(x, y).flatten(1)).float().chunk(2, dim=1)
        logvar = logvar.clamp(-30.0, 20.0)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.decode(mu + eps * (0.5 * logvar).exp(), y), mu, logvar

    def loss(
        self, x: Tensor, y: Tensor, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """`loss`, `recon` and `kl`, each summed over an image's pixels/latents, meaned over images."""
        logits, mu, logvar = self(x, y, generator=generator)
        target, logits = (x.float() + 1) / 2, logits.float()
        if self.config.recon == "bce":
            recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            recon = (torch.sigmoid(logits) - target).square()
        recon = recon.flatten(1).sum(1).mean()
        kl = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1).mean()
        return {"loss": recon + self.config.beta * kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    def encode(self, x: Tensor, y: Tensor, *, batch_size: int = 1024) -> tuple[Tensor, Tensor]:
        """Posterior means and log-variances (N, latent) each, in eval mode."""
        out = _in_eval(
            self,
            lambda: torch.cat(
                [
                    self.posterior(self.encoder(a, b).flatten(1)).float()
                    for a, b in zip(x.split(batch_size), y.split(batch_size), strict=True)
                ]
            ),
        )
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    @torch.no_grad()
    def fit_prior(self, x: Tensor, y: Tensor, *, seed: int = 0) -> None:
        """Fit each class's sampling mixture to its images' aggregate posterior: one draw from each
        image's posterior (seeded), so a latent the decoder ignores keeps its N(0, 1) spread rather
        than collapsing onto the posterior means (seeded EM, full covariances; fewer components for
        a class with few images, none for a class without)."""
        from sklearn.mixture import GaussianMixture

        k = self.config.prior_components
        if k < 1:
            return
        mu, logvar = self.encode(x, y)
        generator = torch.Generator(device=mu.device).manual_seed(seed)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        means = (mu + eps * (0.5 * logvar).exp()).double().cpu().numpy()
        labels = y.cpu().numpy()
        for c in range(self.config.classes):
            points = means[labels == c]
            used = min(k, len(points) // (2 * self.config.latent))
            if used < 1:
                continue
            mixture = GaussianMixture(
                used, covariance_type="full", reg_covar=1e-4, random_state=seed
            )
            mixture.fit(points)
            weight = torch.zeros(k, dtype=torch.float64)
            weight[:used] = torch.from_numpy(mixture.weights_)
            scale = torch.linalg.cholesky(torch.from_numpy(mixture.covariances_))
            self.prior_weight[c] = weight.to(self.prior_weight)
            self.prior_mean[c, :used] = torch.from_numpy(mixture.means_).to(self.prior_mean)
            self.prior_scale[c, :used] = scale.to(self.prior_scale)

    def draw_latents(self, labels: Tensor, generator: torch.Generator) -> Tensor:
        """z for each label from its class's mixture, all randomness from `generator`."""
        component = torch.multinomial(self.prior_weight[labels], 1, generator=generator).squeeze(1)
        eps = torch.randn(
            len(labels), self.config.latent, generator=generator, device=labels.device
        )
        scale = self.prior_scale[labels, component]
        return self.prior_mean[labels, component] + (scale @ eps.unsqueeze(2)).squeeze(2)

    @torch.no_grad()
    def sample(self, labels: Tensor, *, generator: torch.Generator) -> Tensor:
        """One image per label, decoded from its class's latent mixture; in [-1, 1]."""
        z = self.draw_latents(labels, generator)
        return _in_eval(self, lambda: 2 * torch.sigmoid(self.decode(z, labels)) - 1)


def _in_eval(model: nn.Module, run: Any) -> Tensor:
    """Run in eval mode (batch norm on running stats, so a sample never depends on its batch)."""
    was_training = model.training
    model.eval()
    try:
        return run().float()
    finally:
        model.train(was_training)


KINDS: dict[str, tuple[type[nn.Module], type]] = {
    "cgan": (ConditionalGAN, GANConfig),
    "cvae": (ConditionalVAE, VAEConfig),
}


def kind_of(model: nn.Module) -> str:
    """ "cgan" or "cvae"."""
    for kind, (cls, _) in KINDS.items():
        if isinstance(model, cls):
            return kind
    raise TypeError(f"not an image model: {type(model).__name__}")


def save(model: nn.Module, directory: Path) -> dict[str, Any]:
    """Write `model.pt` (state dict only) and `model.json` (kind, config, torch version, SHA-256)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, directory / WEIGHTS)
    manifest = {
        "kind": kind_of(model),
        "config": asdict(model.config),
        "torch": torch.__version__,
        "sha256": file_sha256(directory / WEIGHTS),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load(directory: Path) -> nn.Module:
    """Rebuild a model `save` wrote, on CPU, once `model.pt` matches the recorded SHA-256;
    the weights are read with `weights_only=True`, so the file can hold tensors and nothing else."""
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST).read_text())
    if file_sha256(directory / WEIGHTS) != manifest["sha256"]:
        raise ValueError(f"{WEIGHTS} does not match the SHA-256 recorded in {MANIFEST}")
    cls, config_cls = KINDS[manifest["kind"]]
    model = cls(config_cls(**manifest["config"]))
    model.load_state_dict(torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()
