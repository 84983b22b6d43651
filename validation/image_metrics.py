"""The measuring instruments of the image checks: a small classifier trained here on the real images
(nothing is downloaded) whose penultimate layer is the feature space, and what is measured in it.

- `fit_classifier`, `embed`, `classify`, `conditional_accuracy`, `per_class_accuracy`;
- `fid`, `kid` (unbiased MMD^2, cubic kernel, L2-normalised features) and `prdc` (precision, recall,
  density, coverage; Naeem et al. 2020), computed in chunks, never a full N x M matrix;
- `memorisation`: each image's pixel distance to its nearest training image, and duplicates.

Images are float tensors (N, C, H, W) in [-1, 1] with LongTensor labels (N,).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from validation.distance import DistanceFloor

__all__ = [
    "NEAR",
    "DistanceGuard",
    "ImageClassifier",
    "classify",
    "conditional_accuracy",
    "embed",
    "fid",
    "fit_classifier",
    "kid",
    "memorisation",
    "per_class_accuracy",
    "prdc",
]

NEAR = 2.0 / 255.0  # one 8-bit grey level on the [-1, 1] scale: a mean gap below it is a near copy
_CELLS = 2**24  # distance-matrix cells per chunk (64 MiB of float32)


# --- the feature space ---------------------------------------------------------------------------


class ImageClassifier(nn.Module):
    """Three blocks of conv 3x3, group norm, ReLU and a 2x2 max-pool that keeps odd edges (8 px ends
    at 1x1, 64 px at 8x8), global average pooling, and a linear layer over the classes."""

    def __init__(self, channels: int, classes: int, *, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        before = channels
        for after in (width, 2 * width, 4 * width):
            layers += [
                nn.Conv2d(before, after, 3, padding=1),
                nn.GroupNorm(8, after),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            before = after
        self.body = nn.Sequential(*layers)
        self.num_features = before
        self.head = nn.Linear(before, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def fit_classifier(
    images: Tensor,
    labels: Tensor,
    classes: int,
    *,
    seed: int = 0,
    epochs: int = 10,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    holdout_images: Tensor | None = None,
    holdout_labels: Tensor | None = None,
) -> tuple[ImageClassifier, dict[str, Any]]:
    """Train the feature network on real images; seeded (weights on the CPU generator, a private
    shuffling generator) and deterministic on the CPU. Returns it in eval mode with its accuracies."""
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = ImageClassifier(images.shape[1], classes)
    clf.to(device)
    order = torch.Generator().manual_seed(seed)
    batches = math.ceil(len(images) / batch_size)
    opt = torch.optim.AdamW(clf.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * batches)
    clf.train()
    for _ in range(epochs):
        for picked in torch.randperm(len(images), generator=order).split(batch_size):
            x = images[picked].to(device, torch.float32)
            loss = nn.functional.cross_entropy(clf(x), labels[picked].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    clf.eval()
    info: dict[str, Any] = {"train_accuracy": conditional_accuracy(clf, images, labels)}
    if holdout_images is not None and holdout_labels is not None:
        info["holdout_accuracy"] = conditional_accuracy(clf, holdout_images, holdout_labels)
    info.update(epochs=epochs, device=str(device), seconds=round(time.perf_counter() - start, 3))
    return clf, info


@torch.inference_mode()
def embed(clf: ImageClassifier, images: Tensor, *, batch_size: int = 512) -> Tensor:
    """Penultimate features (N, num_features), float32 on the CPU."""
    clf.eval()
    device = _device(clf)
    out = [
        clf.features(chunk.to(device, torch.float32)).cpu() for chunk in images.split(batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0, clf.num_features)


@torch.inference_mode()
def classify(clf: ImageClassifier, features: Tensor) -> Tensor:
    return clf.head(features.to(_device(clf))).argmax(dim=1).cpu()


def _device(clf: ImageClassifier) -> torch.device:
    return next(clf.parameters()).device


def conditional_accuracy(clf: ImageClassifier, images: Tensor, labels: Tensor) -> float:
    """Share of images the classifier recognises as the class they carry (were asked for)."""
    if not len(images):
        return 0.0
    return float((classify(clf, embed(clf, images)) == labels.cpu()).float().mean())


def per_class_accuracy(
    clf: ImageClassifier, images: Tensor, labels: Tensor, classes: int | Sequence[str]
) -> dict[int, float]:
    """Accuracy per class index; classes without images are left out."""
    labels = labels.cpu()
    hit = classify(clf, embed(clf, images)) == labels
    count = classes if isinstance(classes, int) else len(classes)
    return {c: float(hit[labels == c].float().mean()) for c in range(count) if (labels == c).any()}


# --- distribution measures on features -----------------------------------------------------------


def fid(real_feats: Tensor, fake_feats: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the two feature sets (0 when identical)."""
    from scipy import linalg

    a, b = (np.asarray(f.detach().cpu(), dtype=np.float64) for f in (real_feats, fake_feats))
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(root).all():  # singular product: nudge both covariances off the boundary
        eps = 1e-6 * np.eye(len(s1))
        root = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    root = np.real(root)  # rounding leaves tiny imaginary parts on near-singular products
    diff = a.mean(axis=0) - b.mean(axis=0)
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root)), 0.0)


def kid(
    real_feats: Tensor,
    fake_feats: Tensor,
    *,
    subsets: int = 10,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic kernel (<x, y> + 1)^3 on L2-normalised features (the usual
    (<x, y>/d + 1)^3 on features scaled to norm sqrt(d)); mean and std over random subsets."""
    x, y = (nn.functional.normalize(f.detach().double(), dim=1) for f in (real_feats, fake_feats))
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("kid needs at least 2 feature rows on each side")
    rng = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(len(x), generator=rng)[:m].to(x.device)]
        b = y[torch.randperm(len(y), generator=rng)[:m].to(y.device)]
        kxx, kyy, kxy = ((p @ q.T + 1.0) ** 3 for p, q in ((a, a), (b, b), (a, b)))
        within = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1))
        values.append(float(within - 2.0 * kxy.mean()))
    spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), spread


def _rows(other: int) -> int:
    return max(1, _CELLS // max(other, 1))


def _kth_distance(points: Tensor, k: int) -> Tensor:
    """Distance from each point to its k-th nearest other point (itself excluded)."""
    out = [
        torch.cdist(chunk, points).topk(k + 1, dim=1, largest=False).values[:, -1]
        for chunk in points.split(_rows(len(points)))
    ]
    return torch.cat(out)


def prdc(real_feats: Tensor, fake_feats: Tensor, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020) with k-nearest-neighbour balls,
    distances computed in chunks (never a full N x M matrix beyond _CELLS cells)."""
    real, fake = real_feats.detach().float(), fake_feats.detach().float().to(real_feats.device)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"prdc needs more than k={k} feature rows on each side")
    real_radius, fake_radius = _kth_distance(real, k), _kth_distance(fake, k)
    inside = torch.cat(  # for each fake point: how many real balls hold it
        [(torch.cdist(c, real) < real_radius).sum(dim=1) for c in fake.split(_rows(len(real)))]
    )
    recalled, covered = [], []
    for start, chunk in zip(
        range(0, len(real), _rows(len(fake))), real.split(_rows(len(fake))), strict=True
    ):
        d = torch.cdist(chunk, fake)
        recalled.append((d < fake_radius).any(dim=1))
        covered.append(d.min(dim=1).values < real_radius[start : start + len(chunk)])
    return {
        "precision": float((inside > 0).float().mean()),
        "recall": float(torch.cat(recalled).float().mean()),
        "density": float(inside.float().mean() / k),
        "coverage": float(torch.cat(covered).float().mean()),
    }


# --- memorisation in pixel space -----------------------------------------------------------------


def _nearest(query: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    """L2 distance to, and mean absolute gap from, each query row's nearest reference row. The
    neighbour is found with matrix products; both numbers are then computed exactly against it."""
    ref_sq = (reference * reference).sum(dim=1)
    dist, gap = [], []
    for chunk in query.split(_rows(len(reference))):
        d2 = ref_sq - 2.0 * chunk @ reference.T  # the query's own norm does not move the argmin
        diff = chunk - reference[d2.argmin(dim=1)]
        dist.append(diff.norm(dim=1))
        gap.append(diff.abs().mean(dim=1))
    return torch.cat(dist).cpu(), torch.cat(gap).cpu()


def memorisation(
    train: Tensor, holdout: Tensor, synthetic: Tensor, *, quantile: float = 0.05
) -> dict[str, Any]:
    """Nearest-training-image distances of synthetic images against the holdout's (the honest
    baseline): the share below the holdout's `quantile` (ideal: the holdout's own share, about
    `quantile`), and exact (gap 0) and near (mean gap < one grey level) duplicate shares for both."""
    t = train.detach().flatten(1).float()
    h, s = (x.detach().flatten(1).float().to(t.device) for x in (holdout, synthetic))
    h_dist, h_gap = _nearest(h, t)
    s_dist, s_gap = _nearest(s, t)
    cut = DistanceFloor.fit(h_dist, quantile).threshold

    def share(mask: Tensor) -> float:
        return float(mask.float().mean()) if len(mask) else 0.0

    return {
        "threshold": cut,
        "memorised_share": share(s_dist <= cut),
        "memorised_share_holdout": share(h_dist <= cut),
        "exact_duplicates": share(s_gap == 0),
        "exact_duplicates_holdout": share(h_gap == 0),
        "near_duplicates": share(s_gap < NEAR),
        "near_duplicates_holdout": share(h_gap < NEAR),
        "exact_duplicate_count": int((s_gap == 0).sum()),
        "near_duplicate_count": int((s_gap < NEAR).sum()),
        "synthetic_images": len(s),
        "holdout_images": len(h),
        "synthetic_distances": s_dist.numpy(),
        "holdout_distances": h_dist.numpy(),
    }


class DistanceGuard:
    """The image privacy filter's test: `validation.distance.DistanceFloor` over pixel distances
    to the nearest training image, where identical means a mean gap of exactly 0."""

    def __init__(self, train: Tensor, holdout: Tensor, *, quantile: float) -> None:
        self.train = train.detach().flatten(1).float()
        distances, _ = _nearest(holdout.detach().flatten(1).float(), self.train)
        self.floor = DistanceFloor.fit(distances, quantile)

    @property
    def threshold(self) -> float:
        return self.floor.threshold

    def keep(self, images: Tensor) -> Tensor:
        """A bool per image: far enough to publish."""
        distances, gaps = _nearest(images.detach().flatten(1).float(), self.train)
        return self.floor.keep(distances, gaps == 0)
