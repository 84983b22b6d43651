"""An any-order autoregressive model over a table's columns (each a small token vocabulary).

For every target column j, its context is a sum of one embedding per column of the row: the
column's token when visible, its mask token when not (one `embedding_bag`). A small residual MLP
per target turns that into logits over j's tokens. Training hides a random subset of columns per
row (half the time a prefix of the fixed column order, half the time a random one) and predicts all
hidden columns at once, so the model learns p(x_j | any visible subset). Sampling then reveals the
columns one at a time in order, each from that conditional; conditions are simply visible from the
start, which makes conditioning exact with no rejection.

    model = TabularAR(ARConfig(vocab=[9, 16, 2]))
    loss = model.loss(tokens, visible)                      # tokens (B, C) long, visible (B, C) bool
    tokens = model.sample(1000, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ARConfig", "TabularAR", "random_visibility"]


@dataclass
class ARConfig:
    vocab: list[int]  # tokens per column, in column order
    width: int = 64  # context size per target column
    depth: int = 1  # residual layers per target column
    dropout: float = 0.0
    order: list[int] = field(default_factory=list)  # sampling order; empty: column order


class ColumnContext(nn.Module):
    """(B, C) tokens and visibility -> (C, B, width): each target's sum of source embeddings."""

    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        columns = len(cfg.vocab)
        offsets = torch.tensor([0, *cfg.vocab[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("mask_ids", sum(cfg.vocab) + torch.arange(columns), persistent=False)
        self.rows_per_target = sum(cfg.vocab) + columns  # every token, then one mask per column
        self.table = nn.Embedding(columns * self.rows_per_target, cfg.width)
        nn.init.normal_(self.table.weight, std=0.02)

    def ids(self, tokens: Tensor, visible: Tensor) -> Tensor:
        return torch.where(visible, tokens + self.offsets, self.mask_ids)

    def forward(self, ids: Tensor, targets: Tensor) -> Tensor:
        """Context of each target in `targets` (T,) for every row of `ids` (B, C): (T, B, width)."""
        shifted = ids.unsqueeze(0) + (targets * self.rows_per_target).view(-1, 1, 1)
        flat = shifted.reshape(-1, ids.shape[1])
        pooled = F.embedding_bag(flat, self.table.weight, mode="sum")
        return pooled.view(len(targets), ids.shape[0], -1)


class ColumnHeads(nn.Module):
    """Per-target residual MLP and output layer, batched over targets with `baddbmm`."""

    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        columns, width, widest = len(cfg.vocab), cfg.width, max(cfg.vocab)
        self.norm = nn.LayerNorm(width)
        self.hidden_w = nn.Parameter(torch.randn(cfg.depth, columns, width, width) / width**0.5)
        self.hidden_b = nn.Parameter(torch.zeros(cfg.depth, columns, 1, width))
        self.out_w = nn.Parameter(torch.randn(columns, width, widest) * 0.02)
        self.out_b = nn.Parameter(torch.zeros(columns, 1, widest))
        pad = torch.full((columns, 1, widest), float("-inf"))
        for j, size in enumerate(cfg.vocab):
            pad[j, :, :size] = 0.0
        self.register_buffer("pad", pad, persistent=False)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, context: Tensor, targets: Tensor) -> Tensor:
        """(T, B, width) contexts of `targets` -> (T, B, widest) logits (padding at -inf)."""
        h = F.gelu(self.norm(context))
        for w, b in zip(self.hidden_w[:, targets], self.hidden_b[:, targets], strict=True):
            h = h + self.dropout(F.gelu(torch.baddbmm(b, h, w)))
        return torch.baddbmm(self.out_b[targets], h, self.out_w[targets]) + self.pad[targets]


class TabularAR(nn.Module):
    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.context = ColumnContext(cfg)
        self.heads = ColumnHeads(cfg)
        self.register_buffer("all_targets", torch.arange(len(cfg.vocab)), persistent=False)

    def forward(self, tokens: Tensor, visible: Tensor) -> Tensor:
        """Logits (C, B, widest) of every column given the visible ones."""
        targets = self.all_targets
        return self.heads(self.context(self.context.ids(tokens, visible), targets), targets)

    def loss(self, tokens: Tensor, visible: Tensor) -> Tensor:
        """Mean over rows of the mean cross-entropy of the hidden columns (per-row losses with
        `reduction="none"`, for callers that need them)."""
        return self.row_losses(tokens, visible).mean()

    def row_losses(self, tokens: Tensor, visible: Tensor) -> Tensor:
        logits = self(tokens, visible)  # (C, B, V)
        columns, rows, widest = logits.shape
        nll = F.cross_entropy(logits.reshape(-1, widest), tokens.T.reshape(-1), reduction="none")
        hidden = (~visible).T.reshape(-1).float()
        per_row = (nll * hidden).view(columns, rows).sum(0)
        return per_row / hidden.view(columns, rows).sum(0).clamp(min=1)

    @torch.no_grad()
    def sample(
        self,
        rows: int,
        *,
        generator: torch.Generator,
        fixed: dict[int, int] | None = None,
        temperature: float = 1.0,
    ) -> Tensor:
        """(rows, C) tokens; columns in `fixed` (index -> token) are given, the rest drawn in
        order, each conditioned on every column before it and on the fixed ones."""
        device = self.context.table.weight.device
        columns = len(self.cfg.vocab)
        tokens = torch.zeros(rows, columns, dtype=torch.long, device=device)
        visible = torch.zeros(rows, columns, dtype=torch.bool, device=device)
        for j, token in (fixed or {}).items():
            tokens[:, j], visible[:, j] = token, True
        ids = self.context.ids(tokens, visible)
        for j in self.cfg.order or range(columns):
            if fixed and j in fixed:
                continue
            target = self.all_targets[j : j + 1]
            logits = self.heads(self.context(ids, target), target)[0, :, : self.cfg.vocab[j]]
            probs = torch.softmax(logits / temperature, dim=-1)
            draw = torch.rand(rows, 1, generator=generator, device=device)
            token = (probs.cumsum(-1) < draw).sum(-1).clamp(max=self.cfg.vocab[j] - 1)
            ids[:, j] = token + self.context.offsets[j]
            tokens[:, j] = token
        return tokens


def random_visibility(
    rows: int, columns: int, order: Tensor, *, generator: torch.Generator, prefix_share: float = 0.5
) -> Tensor:
    """(rows, columns) visibility: k ~ U{0..C-1} columns visible per row, those first in the fixed
    `order` (its rank per column) for `prefix_share` of rows, else a random k of them."""
    device = order.device
    k = torch.randint(0, columns, (rows, 1), generator=generator, device=device)
    random_rank = (
        torch.rand(rows, columns, generator=generator, device=device).argsort(1).argsort(1)
    )
    use_prefix = torch.rand(rows, 1, generator=generator, device=device) < prefix_share
    rank = torch.where(use_prefix, order.expand(rows, -1), random_rank)
    return rank < k
