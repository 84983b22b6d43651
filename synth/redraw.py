"""Redraw what a filter rejects: the loop the privacy filters of tables and images share.

A first draw fills `len(first)` slots; `keep` rejects some; each round draws again for the slots
still empty (`draw(slots, round)`, seeded by the round) until every slot holds a kept item or
`max_rounds` rounds have run. Two ways to fill a slot:
- pooled (rows): any kept item fits any slot, so a round may draw more than it needs and the first
  kept items fill the empty slots in order;
- per slot (images of a conditioning cell): a round draws one item per empty slot, for that slot,
  and only a kept one fills it.
The caller assembles its items from the draws (rows are concatenated, images written into their
slots); the loop only decides which draw fills which slot, and tallies what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["Draw", "Tally", "redraw"]

T = TypeVar("T")


@dataclass(frozen=True)
class Draw(Generic[T]):
    """One draw: the empty slots it was made for (the first: every slot), the items, and which
    of the items (`taken`) fill which slots (`filled`)."""

    slots: np.ndarray
    items: T
    taken: np.ndarray
    filled: np.ndarray


@dataclass
class Tally:
    """What the filter did, aggregates only: items rejected in the first draw, redraw rounds run,
    slots still empty after the last round."""

    replaced: int = 0
    rounds: int = 0
    shortfall: int = 0


def redraw(
    first: T,
    *,
    keep: Callable[[T], Any],
    draw: Callable[[np.ndarray, int], T],
    max_rounds: int,
    per_slot: bool,
) -> tuple[list[Draw[T]], Tally]:
    """The draws that fill `len(first)` slots (the first draw included), and the tally.

    `keep(items)` is a bool per item (a numpy array or a CPU tensor); `draw(slots, round)` draws
    for the empty `slots` (ascending) in round 1, 2, ...: one item per slot when `per_slot`, else
    any number, of which the first kept ones fill the slots in order.
    """
    draws = [_fill(np.arange(len(first)), first, keep, per_slot)]
    empty = np.setdiff1d(draws[0].slots, draws[0].filled)
    tally = Tally(replaced=len(empty))
    for round_ in range(1, max_rounds + 1):
        if not len(empty):
            break
        draws.append(_fill(empty, draw(empty, round_), keep, per_slot))
        empty = empty[~np.isin(empty, draws[-1].filled)]
        tally.rounds = round_
    tally.shortfall = len(empty)
    return draws, tally


def _fill(slots: np.ndarray, items: T, keep: Callable[[T], Any], per_slot: bool) -> Draw[T]:
    kept = np.asarray(keep(items), dtype=bool)
    taken = np.flatnonzero(kept)
    if per_slot:
        filled = slots[kept]
    else:
        taken = taken[: len(slots)]
        filled = slots[: len(taken)]
    return Draw(slots, items, taken, filled)
