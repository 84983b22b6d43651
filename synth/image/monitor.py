"""The default training monitor: is each class's sample as varied as its real images?

Each epoch, `per_class` samples per class are compared with real images of that class: their mean
pairwise spread and their median nearest-neighbour gap, as ratios of the real images' own. A class
below COLLAPSE_RATIO of the spread or DISTINCT_RATIO of the gap has collapsed (a few modes
repeated). A VAE also scores its held-out loss, a sound and low-noise signal for picking the best
epoch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from synth.image.models import ConditionalVAE
from synth.image.train import Monitor, sample

__all__ = ["diversity_monitor"]

COLLAPSE_RATIO = 0.1  # within-class spread of samples below 10% of the real images' spread
# Median distance from a sample to its nearest other sample of the class, over the same among as
# many real images: a generator that repeats a few modes (1, 2, 4 or 8 distinct images among 32,
# with small noise) scores about 0.1 on MNIST; real images about 0.9-1.0, blurred averages of two
# real images 0.73. The mean spread above misses all but one mode: two modes keep half of it.
DISTINCT_RATIO = 0.3
REAL_PER_CLASS = 256  # real images per class the fallback monitor compares against


def diversity_monitor(
    images: Tensor,
    labels: Tensor,
    *,
    per_class: int = 32,
    seed: int = 0,
    features: Callable[[Tensor], Tensor] | None = None,
) -> Monitor:
    """The fallback monitor: `per_class` samples of every class, compared with real images of it,
    as pixels or, given `features` (images -> (N, D) on the CPU, e.g. a judge classifier's), in
    that feature space, where blur does not read as sameness: on 8x8 digits, lightly smoothed real
    images score 0.35-0.4 in pixel distinctness but 0.67-1.0 in a classifier's features, while a
    few repeated modes score under 0.2 in both.

    diversity: mean pairwise L2 distance of a class's samples / the same among its real images;
    distinctness: median distance from a sample to its nearest other sample of the class / the
    same among `per_class` real images of it, which falls to about 0.1 when a few modes repeat;
    collapsed when any class falls under 0.1 in diversity or 0.3 in distinctness. fidelity: mean
    distance from a sample to its nearest real image of the class, on the same scale. score: -loss on 1,024 fixed
    training images for a cVAE (its likelihood bound is a sound model-selection signal); for a
    cGAN, whose losses are not, mean over classes of min(diversity, 1) - fidelity: spread up to
    the real spread is rewarded, and noise (spread but far from every real image) is not.
    """
    embed = features or (lambda batch: batch.flatten(1).float())
    picker = torch.Generator().manual_seed(seed)
    classes = [c for c in labels.unique().tolist() if int((labels == c).sum()) >= 2]
    real = []
    for c in classes:
        members = (labels == c).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=picker)[:REAL_PER_CLASS]]
        real.append(embed(images[members]))
    real_spread = torch.stack([_mean_pairwise(r[None])[0] for r in real])
    real_gap = torch.stack([_median_nearest(r[None, :per_class])[0] for r in real])
    held = torch.randperm(len(images), generator=picker)[:1024]
    held_images, held_labels = images[held].float(), labels[held]
    wanted = torch.tensor(classes).repeat_interleave(per_class)

    def monitor(model: nn.Module, epoch: int) -> dict[str, Any]:
        device = next(itertools.chain(model.parameters(), model.buffers())).device
        fakes = embed(sample(model, wanted, seed=seed, device=device))
        fakes = fakes.view(len(classes), per_class, -1)
        diversity = _mean_pairwise(fakes) / real_spread
        distinct = _median_nearest(fakes) / real_gap.clamp_min(1e-12)
        fidelity = torch.stack(
            [torch.cdist(f, r).min(dim=1).values.mean() for f, r in zip(fakes, real, strict=True)]
        )
        fidelity = fidelity / real_spread
        report = {
            "diversity": float(diversity.mean()),
            "min_diversity": float(diversity.min()),
            "distinctness": float(distinct.min()),
            "fidelity": float(fidelity.mean()),
            "collapsed": bool(diversity.min() < COLLAPSE_RATIO or distinct.min() < DISTINCT_RATIO),
        }
        if isinstance(model, ConditionalVAE):
            report["score"] = -_held_loss(model, held_images, held_labels, seed, device)
        else:
            report["score"] = float((diversity.clamp(max=1.0) - fidelity).mean())
        return report

    return monitor


def _median_nearest(points: Tensor) -> Tensor:
    """Median distance from each point to its nearest other point, per group: (G, K, D) -> (G,)."""
    d = torch.cdist(points, points)
    d.diagonal(dim1=1, dim2=2).fill_(math.inf)
    return d.min(dim=2).values.median(dim=1).values


def _mean_pairwise(points: Tensor) -> Tensor:
    """Mean L2 distance over distinct pairs, per leading group: (G, K, D) -> (G,)."""
    k = points.shape[1]
    return torch.cdist(points, points).sum(dim=(1, 2)) / (k * (k - 1))


@torch.no_grad()
def _held_loss(model: nn.Module, x: Tensor, y: Tensor, seed: int, device: torch.device) -> float:
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    loss = model.loss(x.to(device), y.to(device), generator=generator)["loss"]
    model.train(was_training)
    return float(loss)
