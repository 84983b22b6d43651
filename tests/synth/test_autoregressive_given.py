"""Per-row given tokens (how the linked engine conditions a child row on its parent): every row
keeps its own given values exactly, and a given column all rows agree on draws as `fixed` does."""

from __future__ import annotations

import numpy as np
import torch

from synth.tabular.autoregressive.model import ARConfig, TabularAR


def test_given_per_row_equals_fixed_when_all_rows_agree() -> None:
    model = TabularAR(ARConfig(vocab=[3, 5, 4, 6], width=8)).eval()
    fixed = model.sample(300, generator=torch.Generator().manual_seed(1), fixed={1: 2})
    given = model.sample(
        300,
        generator=torch.Generator().manual_seed(1),
        given={1: torch.full((300,), 2, dtype=torch.long)},
    )
    assert torch.equal(fixed, given)
    per_row = torch.from_numpy(np.arange(300) % 5)
    mixed = model.sample(300, generator=torch.Generator().manual_seed(1), given={1: per_row})
    assert torch.equal(mixed[:, 1], per_row)
