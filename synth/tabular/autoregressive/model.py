"""An any-order autoregressive model over a table's columns (each a small token vocabulary).

For every target column j, its context is a sum of one embedding per column of the row: the
column's token when visible, its mask token when not. A small MLP per target (LayerNorm, GELU,
`depth` residual layers, an output layer) turns that into logits over j's tokens. Narrow tables
(columns x width <= `context`) give every token one width-sized slice per target; wider ones pool
one shared `context`-sized embedding per row and project it to each target's slice (a rank-
`context` factoring of the same table), so parameters and compute grow linearly with the columns,
not with their square. Training hides
a random subset of columns per row (half the time a suffix of the fixed column order, half the
time a random one) and predicts every hidden column at once, so the model learns
p(x_j | any visible subset). Sampling reveals the columns one at a time in
order, each drawn from that conditional; conditions are visible from the start, which makes
conditioning exact with no rejection.

Every layer is batch-first with no buffers, so Opacus can clip per-row gradients (DP-SGD).

    model = TabularAR(ARConfig(vocab=[9, 16, 2]))
    loss = model.loss(tokens, visible)                      # tokens (B, C) long, visible (B, C) bool
    tokens = model.sample(1000, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ARConfig", "TabularAR", "hidden_loss", "random_visibility"]

# a wide model samples through the per-target table (tokens x columns * width, its embedding times
# its projection) when that holds at most this many numbers (64 MiB): 3x the rows/s of the running
# sum at 25-100 columns; wider, the table would grow with the columns' square, so it is not made
UNFOLD_LIMIT = 16 * 2**20


@dataclass
class ARConfig:
    vocab: list[int]  # tokens per column, in column order
    width: int = 32  # context size per target column
    depth: int = 0  # residual layers per target column (0: one hidden layer, the pooled context)
    dropout: float = 0.0
    order: list[int] = field(default_factory=list)  # sampling order; empty: column order
    context: int = 512  # the shared row context of wide tables (columns * width above it)

    @property
    def factored(self) -> bool:
        """Wide: a shared pooled context projected per target, instead of per-target slices."""
        return len(self.vocab) * self.width > self.context


class ColumnLinear(nn.Module):
    """C independent linear maps, one per column: (B, C, n_in) -> (B, C, n_out)."""

    def __init__(self, columns: int, n_in: int, n_out: int, std: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(columns, n_in, n_out) * std)
        self.bias = nn.Parameter(torch.zeros(columns, n_out))

    def forward(self, x: Tensor) -> Tensor:
        # columns-first for the batched matmul: twice as fast as "bci,cio->bco" on CPU
        return (
            torch.einsum("cbi,cio->cbo", x.transpose(0, 1), self.weight).transpose(0, 1) + self.bias
        )


class TabularAR(nn.Module):
    def __init__(self, cfg: ARConfig) -> None:
        super().__init__()
        self.cfg = cfg
        columns, width = len(cfg.vocab), cfg.width
        # one row per token of every column, then one mask token per column; narrow: each row
        # holds one width-sized slice per target column (C^2 x width in all, but exact)
        self.embed = nn.Embedding(
            sum(cfg.vocab) + columns, cfg.context if cfg.factored else columns * width
        )
        nn.init.normal_(self.embed.weight, std=0.02)
        self.project: nn.Linear | None = None
        if cfg.factored:  # wide: the pooled row context, projected to every target's slice
            self.project = nn.Linear(cfg.context, columns * width, bias=False)
            nn.init.normal_(self.project.weight, std=cfg.context**-0.5)
        self.norm = nn.LayerNorm(width)
        self.hidden = nn.ModuleList(
            ColumnLinear(columns, width, width, width**-0.5) for _ in range(cfg.depth)
        )
        # one output layer per column at its own vocabulary size: no padding to the widest
        self.out = nn.ModuleList(nn.Linear(width, size) for size in cfg.vocab)
        for layer in self.out:
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)
        self.dropout = nn.Dropout(cfg.dropout)
        self.per_sample_gradients = False  # set for DP-SGD training
        self.register_buffer("offsets", torch.tensor([0, *cfg.vocab[:-1]]).cumsum(0), False)
        self.register_buffer("mask_ids", sum(cfg.vocab) + torch.arange(columns), False)

    def ids(self, tokens: Tensor, visible: Tensor) -> Tensor:
        return torch.where(visible, tokens + self.offsets, self.mask_ids)

    def forward(self, tokens: Tensor, visible: Tensor) -> list[Tensor]:
        """Logits of every column given the visible ones: one (B, vocab_j) tensor per column."""
        rows, columns = tokens.shape
        ids = self.ids(tokens, visible)
        if self.per_sample_gradients:  # Opacus computes them for nn.Embedding's own call
            pooled = self.embed(ids).sum(1)
        else:  # the same sum, five times faster to train on CPU
            pooled = F.embedding_bag(ids, self.embed.weight, mode="sum")
        if self.project is not None:
            pooled = self.project(pooled)
        context = pooled.view(rows, columns, -1)
        h = F.gelu(self.norm(context))
        for layer in self.hidden:
            h = h + self.dropout(F.gelu(layer(h)))
        return [layer(x) for x, layer in zip(h.unbind(1), self.out, strict=True)]

    def loss(self, tokens: Tensor, visible: Tensor) -> Tensor:
        return hidden_loss(self(tokens, visible), tokens, visible).mean()

    @torch.inference_mode()
    def sample(
        self,
        rows: int,
        *,
        generator: torch.Generator,
        fixed: dict[int, int] | None = None,
        given: dict[int, Tensor] | None = None,
        temperature: float = 1.0,
        chunk: int = 8192,
    ) -> Tensor:
        """(rows, C) tokens; columns in `fixed` (index -> token) are given, and so are those in
        `given` (index -> one token per row: a linked table's parent context, say), the rest drawn
        in order, each conditioned on every column before it and on the given ones. Rows go in
        chunks small enough for the CPU's caches, through plain 2-D matmuls per column. A wide
        model whose per-target table would pass `UNFOLD_LIMIT` keeps each row's pooled context
        as a running sum instead (a revealed column adds its token's embedding and takes away
        its mask's) rather than pooling again every step."""
        device = self.embed.weight.device
        columns, fixed, given = len(self.cfg.vocab), fixed or {}, given or {}
        tokens = torch.zeros(rows, columns, dtype=torch.long, device=device)
        for j, token in fixed.items():
            tokens[:, j] = token
        for j, per_row in given.items():
            tokens[:, j] = per_row
        known = torch.zeros(columns, dtype=torch.bool, device=device)
        known[[*fixed, *given]] = True
        steps = [j for j in self.cfg.order or range(columns) if j not in fixed and j not in given]
        table = self.embed.weight
        unfold = self.project is None or table.shape[0] * self.project.out_features <= UNFOLD_LIMIT
        if self.project is not None and unfold:
            table = table @ self.project.weight.T  # the narrow layout's table, for speed
        layers = {j: self._column_weights(j, table if unfold else None) for j in steps}
        for start in range(0, rows, chunk):
            part = tokens[start : start + chunk]
            ids = self.ids(part, known.expand_as(part))
            pooled = None if unfold else F.embedding_bag(ids, table, mode="sum")
            for j in steps:
                slice_w, hidden, out_w, out_b = layers[j]
                if pooled is None:  # column j's own slice of every visible token's embedding
                    x = F.embedding_bag(ids, slice_w, mode="sum")
                else:  # the running row context, projected to column j
                    x = pooled @ slice_w
                h = F.gelu(self.norm(x))
                for w, b in hidden:
                    h = h + F.gelu(torch.addmm(b, h, w))
                logits = torch.addmm(out_b, h, out_w)
                if temperature != 1.0:
                    logits = logits / temperature
                cdf = torch.softmax(logits, -1).cumsum_(-1)
                draw = torch.rand(len(part), 1, generator=generator, device=device)
                # inverse CDF; the clamp catches a draw above a total rounded below 1
                token = torch.searchsorted(cdf, draw).squeeze_(1).clamp_(max=self.cfg.vocab[j] - 1)
                part[:, j] = token
                ids[:, j] = token + self.offsets[j]
                if pooled is not None:
                    pooled += table[ids[:, j]] - table[self.mask_ids[j]]
        return tokens

    def _column_weights(
        self, j: int, table: Tensor | None
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]], Tensor, Tensor]:
        """Column j's slices of every layer, as contiguous 2-D matrices: first its slice of the
        per-target `table` or, without one, of the context projection (transposed)."""
        width = self.cfg.width
        if table is not None:
            first = table[:, j * width : (j + 1) * width].contiguous()
        else:
            first = self.project.weight[j * width : (j + 1) * width].T.contiguous()
        hidden = [(layer.weight[j].contiguous(), layer.bias[j]) for layer in self.hidden]
        out = self.out[j]
        return first, hidden, out.weight.T.contiguous(), out.bias


def hidden_loss(logits: list[Tensor], tokens: Tensor, visible: Tensor) -> Tensor:
    """Per row, the mean cross-entropy of its hidden columns."""
    nll = torch.stack(
        [F.cross_entropy(x, tokens[:, j], reduction="none") for j, x in enumerate(logits)], 1
    )  # (B, C)
    hidden = (~visible).float()
    return (nll * hidden).sum(1) / hidden.sum(1).clamp(min=1)


def random_visibility(
    rows: int, columns: int, rank: Tensor, *, generator: torch.Generator, prefix_share: float = 0.5
) -> Tensor:
    """(rows, columns) visibility: k ~ U{0..C-1} columns visible per row; for `prefix_share` of
    rows the first k of the fixed order (`rank`: each column's place in it), else a random k."""
    device = rank.device
    k = torch.randint(0, columns, (rows, 1), generator=generator, device=device)
    random_rank = (
        torch.rand(rows, columns, generator=generator, device=device).argsort(1).argsort(1)
    )
    use_prefix = torch.rand(rows, 1, generator=generator, device=device) < prefix_share
    return torch.where(use_prefix, rank.expand(rows, -1), random_rank) < k
