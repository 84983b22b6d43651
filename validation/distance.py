"""Rows as points, and nearest neighbours between tables: the ground the privacy checks stand on.

Every modelled column contributes at most 1 to the squared distance between two rows:
- numbers and dates are mapped to their quantile among the reference (training) rows, so a column's
  scale and skew do not matter, and a missing value is one more dimension (present 0, missing 1);
- categories are one-hot over the contract's domain plus a missing slot, scaled by 1/sqrt(2), so two
  different categories are exactly 1 apart; a wide column (ZIP codes: tens of thousands of values)
  is kept as one code per row instead, and two rows that differ on it add exactly 1 too, so its
  memory is 4 bytes a row whatever its cardinality.

Nearest neighbours are exact, by brute force in torch, in chunks: scikit-learn's tree searches take
minutes on 30k x 30k rows of ~100 dimensions, a chunked matrix product takes seconds. Rows that are
identical (same hash over the modelled columns) are at distance exactly 0, whatever float rounding
says.

`DistanceFloor` is the privacy filters' one rule, for rows and images alike: a synthetic item is kept
only if its nearest training item is farther than the holdout's `quantile` of nearest-training
distances (honest, unseen items fall below it `quantile` of the time), and never one identical to a
training item, even where real data has duplicates and that quantile is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch

from schemas.contract import Contract
from validation.frames import features

__all__ = ["DistanceFloor", "Encoder", "Points", "distance_histogram", "nearest", "row_hashes"]

_CHUNK_CELLS = 1 << 22  # query rows x reference rows per matrix product (32 MiB at float64)
# Categorical columns with at least this many categories are compared by code instead of one-hot:
# one comparison per pair of rows costs about what 40 one-hot dimensions of the matrix product do
# (measured), and takes 4 bytes a row instead of 8 per category.
_ONE_HOT_MAX = 64

Mask = TypeVar("Mask", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class Points:
    """Encoded rows: dense coordinates, and the codes of wide categorical columns, each adding 1
    to the squared distance between two rows that differ on it (as a one-hot would, without its
    width: a 40,000-value column is one int32 per row, not 40,000 floats)."""

    dense: np.ndarray
    codes: np.ndarray  # (rows, wide columns), int32

    def __len__(self) -> int:
        return len(self.dense)

    def __getitem__(self, rows: slice | np.ndarray) -> Points:
        return Points(self.dense[rows], self.codes[rows])

    @classmethod
    def of(cls, points: Points | np.ndarray) -> Points:
        if isinstance(points, Points):
            return points
        return cls(points, np.zeros((len(points), 0), dtype=np.int32))


@dataclass(frozen=True)
class Encoder:
    """Maps a table's modelled columns to points in [0, 1]-scaled space, fitted on reference rows."""

    contract: Contract
    sorted_numbers: dict[str, np.ndarray]
    domains: dict[str, int]

    @classmethod
    def fit(cls, reference: pd.DataFrame, contract: Contract) -> Encoder:
        table = features(reference, contract)
        numbers, domains = {}, {}
        for name, values in table.items():
            if isinstance(values.dtype, pd.CategoricalDtype):
                domains[name] = len(values.cat.categories)
            else:
                present = values.to_numpy(dtype="float64")
                numbers[name] = np.sort(present[~np.isnan(present)])
        return cls(contract, numbers, domains)

    @property
    def one_hot(self) -> dict[str, int]:
        """Categorical columns encoded one-hot (the others are compared by code)."""
        return {name: n for name, n in self.domains.items() if n < _ONE_HOT_MAX}

    @property
    def dimensions(self) -> int:
        return 2 * len(self.sorted_numbers) + sum(n + 1 for n in self.one_hot.values())

    def transform(self, frame: pd.DataFrame, dtype: np.dtype = np.float64) -> Points:
        table = features(frame, self.contract)
        out = np.zeros((len(table), self.dimensions), dtype=dtype)
        one_hot = self.one_hot
        wide = [name for name in self.domains if name not in one_hot]
        coded = np.zeros((len(table), len(wide)), dtype=np.int32)
        at = 0
        for name, values in table.items():
            if name in self.domains:
                # -1: missing (or outside the domain); pandas stores small codes as int8, which
                # would overflow once offset past the 127th one-hot column
                codes = values.cat.codes.to_numpy().astype(np.int64)
                slots = np.where(codes < 0, self.domains[name], codes)
                if name in one_hot:
                    out[np.arange(len(table)), at + slots] = np.sqrt(0.5)
                    at += self.domains[name] + 1
                else:
                    coded[:, wide.index(name)] = slots
            else:
                x = values.to_numpy(dtype="float64")
                ref = self.sorted_numbers[name]
                missing = np.isnan(x)
                if len(ref):
                    rank = np.searchsorted(ref, x, "left") + np.searchsorted(ref, x, "right")
                    out[:, at] = np.where(missing, 0.0, rank / (2.0 * len(ref)))
                out[:, at + 1] = missing
                at += 2
        return Points(out, coded)


def row_hashes(frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """One uint64 per row over the modelled columns: equal rows, equal hashes."""
    return pd.util.hash_pandas_object(features(frame, contract), index=False).to_numpy()


def nearest(
    query: Points | np.ndarray,
    reference: Points | np.ndarray,
    k: int = 1,
    *,
    same: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances to the k nearest reference rows (ascending) and their indices.

    Memory is bounded by the chunk (about `_CHUNK_CELLS` query x reference cells), not by the row
    counts. `same`, if given, is a boolean vector over the query rows: True where the row is known
    to be identical to some reference row; its nearest distance is then exactly 0.
    """
    query, reference = Points.of(query), Points.of(reference)
    if len(reference) < k:
        raise ValueError(f"need at least {k} reference rows, got {len(reference)}")
    ref = torch.from_numpy(np.ascontiguousarray(reference.dense))
    ref_t = ref.T.contiguous()
    ref_norm = (ref * ref).sum(1)
    ref_codes = torch.from_numpy(np.ascontiguousarray(reference.codes.T))
    chunk = max(1, _CHUNK_CELLS // max(len(reference), 1))
    dist = np.empty((len(query), k), dtype=np.float64)
    index = np.empty((len(query), k), dtype=np.int64)
    for start in range(0, len(query), chunk):
        q = torch.from_numpy(np.ascontiguousarray(query.dense[start : start + chunk]))
        # |q - r|^2 = |q|^2 + |r|^2 - 2 q.r; |q|^2 does not change the order, so add it after top-k
        partial = torch.addmm(ref_norm, q, ref_t, beta=1.0, alpha=-2.0)
        q_codes = torch.from_numpy(np.ascontiguousarray(query.codes[start : start + chunk]))
        for column, codes in enumerate(ref_codes):
            partial += q_codes[:, column, None] != codes[None, :]
        values, where = torch.topk(partial, k, dim=1, largest=False)
        values += (q * q).sum(1, keepdim=True)
        dist[start : start + len(q)] = values.clamp_min(0).sqrt().double().numpy()
        index[start : start + len(q)] = where.numpy()
    # float rounding leaves identical rows ~1e-8 apart; snap near-ties of noise to exact zero
    dist[dist < 1e-6] = 0.0
    if same is not None:
        dist[same, 0] = 0.0
    return dist, index


@dataclass(frozen=True)
class DistanceFloor:
    """The holdout's `quantile` of nearest-training distances, below which a synthetic item sits
    closer to training than honest data does; the tables' and the images' privacy filters both
    keep only what is farther than it and not identical to a training item."""

    threshold: float

    @classmethod
    def fit(cls, holdout_distances: np.ndarray | torch.Tensor, quantile: float) -> DistanceFloor:
        """From each holdout item's distance to its nearest training item. A tensor's quantile is
        torch's and an array's numpy's: the two differ in the last bit on about one set in 200,
        and each filter keeps the threshold it always had."""
        if isinstance(holdout_distances, torch.Tensor):
            threshold = torch.quantile(holdout_distances.double(), quantile)
        else:
            threshold = np.quantile(holdout_distances, quantile)
        return cls(float(threshold))

    def keep(self, distances: Mask, identical: Mask) -> Mask:
        """True where an item is farther than the threshold and not identical to a training item
        (numpy arrays or torch tensors, as given)."""
        return (distances > self.threshold) & ~identical


def distance_histogram(
    synthetic: np.ndarray, holdout: np.ndarray, bins: int = 20
) -> dict[str, Any]:
    """Distance to the closest training record: synthetic vs holdout, shares per bin (the last bin
    holds everything beyond the 99th percentile)."""
    top = float(np.quantile(np.concatenate([synthetic, holdout]), 0.99)) or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    s, _ = np.histogram(np.clip(synthetic, 0, top), edges)
    h, _ = np.histogram(np.clip(holdout, 0, top), edges)
    return {
        "edges": [round(float(e), 4) for e in edges],
        "synthetic": [round(float(v), 4) for v in s / max(len(synthetic), 1)],
        "holdout": [round(float(v), 4) for v in h / max(len(holdout), 1)],
    }
