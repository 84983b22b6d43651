"""Conditioning cells: a class crossed with one value of every sensitive per-image column.

With `images.sensitive: [skin_tone]`, the generator is conditioned on (class, skin tone) cells
rather than on the class alone, so every synthetic image carries its group, the groups keep their
shares within each class exactly (no rejection sampling), and the checks can ask whether one group's
images came out worse than another's. Without sensitive columns the cells are the classes.

    cells = conditioning_cells(images, ["skin_tone"])
    counts = cells.allot({0: 400, 1: 400}, train)   # images per cell, shares as in training
    cells.labels[cell_ids], cells.groups.iloc[cell_ids]   # class and groups of sampled images
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from schemas.errors import SpecError
from synth.image.data import ImageSet

__all__ = ["MISSING", "Cells", "conditioning_cells"]

MISSING = "<missing>"  # a missing sensitive value is a group of its own, never dropped


@dataclass(frozen=True)
class Cells:
    labels: np.ndarray  # int64 (K,): the class of each cell
    groups: pd.DataFrame  # (K, sensitive columns) of strings: the groups of each cell
    index: np.ndarray  # int64 (N,): the cell of each image

    def __len__(self) -> int:
        return len(self.labels)

    def allot(self, per_class: Mapping[int, int], rows: np.ndarray) -> dict[int, int]:
        """Images per cell: each class's count split over its cells by their shares among `rows`
        (the training images), with the largest-remainder rule so the counts add up exactly.
        Cells without training images get none."""
        seen = np.bincount(self.index[rows], minlength=len(self))
        counts: dict[int, int] = {}
        for label, total in per_class.items():
            mine = np.flatnonzero((self.labels == label) & (seen > 0))
            if not len(mine) or total <= 0:
                continue
            exact = total * seen[mine] / seen[mine].sum()
            whole = np.floor(exact).astype(int)
            order = np.argsort(-(exact - whole), kind="stable")
            whole[order[: total - whole.sum()]] += 1
            counts.update({int(c): int(n) for c, n in zip(mine, whole, strict=True) if n})
        return counts


def conditioning_cells(images: ImageSet, sensitive: Sequence[str]) -> Cells:
    """The cells present in `images`, in order of class and then group values."""
    if not sensitive:
        k = len(images.classes)
        return Cells(np.arange(k), pd.DataFrame(index=range(k)), images.labels.astype(np.int64))
    available = [] if images.extra is None else [str(c) for c in images.extra.columns]
    for column in sensitive:
        if column not in available:
            raise SpecError(
                f"images.sensitive: {column!r} is not a per-image column of the source "
                f"(it has: {', '.join(available) or 'none'})"
            )
    groups = images.extra[list(sensitive)].astype("string").fillna(MISSING).reset_index(drop=True)
    keys = groups.assign(_label=images.labels)
    table = keys.drop_duplicates().sort_values(["_label", *sensitive], kind="stable")
    table = table.reset_index(drop=True)
    index = keys.merge(table.reset_index(names="_cell"), on=["_label", *sensitive], how="left")
    return Cells(
        table["_label"].to_numpy(np.int64),
        table[list(sensitive)].astype(str).reset_index(drop=True),
        index["_cell"].to_numpy(np.int64),
    )
