"""A free-text column's language model, trained from scratch on that column only, given its row.

    model = TextModel.fit(texts, row_tokens, vocab, max_length=128, seed=0)
    written = model.sample(row_tokens_of_new_rows, seed=1, temperature=0.8, top_p=0.9)
    state, config = model.state(), model.config   # tensors and JSON: loaded weights_only

Tokens are words and single punctuation marks, as they are written (`\\w+|[^\\w\\s]`), and the
vocabulary is the tokens that at least `min_count` training texts use: a word of fewer texts (a
name, a number, a rare term) is left out of training and can never be written, which is value
protection for text built into the model. Texts are joined back with spaces, none before a
closing mark or after an opening one. A text longer than `max_length` tokens is cut and still
ends (`truncated` counts them). Words rather than bytes: a sentence is five times fewer steps, so
the same minutes of a CPU learn far more (bytes left the Debian descriptions misspelt and their
section unreadable after five minutes' training).

The row enters the recurrence twice: every column token of the row (the table model's own codec
tokens: a category, a number's bin) has an embedding, and their sum makes the GRU's initial state
and, projected, sits beside every token's embedding at its input, so a category changes what is
written from the first word to the last. Training is teacher-forced cross-entropy with AdamW,
gradients clipped, the best validation loss kept (early stopping), and a time bound. Sampling
runs every row of a batch at once, one token a step, with temperature and nucleus (top-p)
truncation. Under differential privacy the vocabulary and the training are DP (text_dp.py).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from synth.tabular.autoregressive.nucleus import draw

__all__ = [
    "TextConfig",
    "TextModel",
    "WindowNet",
    "detokenize",
    "encode_texts",
    "make_net",
    "split_words",
    "teacher_forced",
]

_log = logging.getLogger(__name__)

PAD, BOS, EOS = 0, 1, 2
SPECIAL = 3
MAX_WORDS = 20_000
_WORD = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}'])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def split_words(text: object) -> list[str]:
    return [] if text is None or text != text else _WORD.findall(str(text))


def detokenize(words: Sequence[str]) -> str:
    text = " ".join(words)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


@dataclass
class TextConfig:
    vocab: list[int]  # tokens per row column (the condition), in column order
    words: list[str] = field(default_factory=list)  # used by >= min_count training texts
    max_length: int = 128  # tokens
    width: int = 128  # token embedding
    hidden: int = 256  # GRU state
    layers: int = 1
    kind: str = "gru"  # or "window": the feed-forward model DP trains (text_dp.py)
    window: int = 4  # "window": the words before the next one that it sees one by one

    @property
    def size(self) -> int:
        return SPECIAL + len(self.words)


class TextNet(nn.Module):
    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.offsets = [int(x) for x in np.concatenate([[0], np.cumsum(cfg.vocab)[:-1]])]
        self.row = nn.Embedding(max(sum(cfg.vocab), 1), cfg.hidden)
        self.start = nn.Linear(cfg.hidden, cfg.hidden * cfg.layers)
        self.token = nn.Embedding(cfg.size, cfg.width)
        self.every = nn.Linear(cfg.hidden, cfg.width)  # the row again at every token
        self.gru = nn.GRU(2 * cfg.width, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.out = nn.Linear(cfg.hidden, cfg.size)

    def row_vector(self, rows: Tensor) -> Tensor:
        return _row_vector(self, rows)

    def initial(self, row: Tensor) -> Tensor:
        """(B, hidden) row vector -> (layers, B, hidden) initial state."""
        state = torch.tanh(self.start(row))
        return state.view(len(row), self.cfg.layers, self.cfg.hidden).transpose(0, 1).contiguous()

    def step_inputs(self, row: Tensor, inputs: Tensor) -> Tensor:
        """Each token's embedding beside the row's: a long text does not forget its row."""
        every = self.every(row).unsqueeze(1).expand(-1, inputs.shape[1], -1)
        return torch.cat([self.token(inputs), every], -1)

    def forward(self, rows: Tensor, inputs: Tensor) -> Tensor:
        row = self.row_vector(rows)
        hidden, _ = self.gru(self.step_inputs(row, inputs), self.initial(row))
        return self.out(hidden)

    def begin(self, row: Tensor) -> Tensor:
        return self.initial(row)

    def step(self, row: Tensor, token: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """(n, 1) tokens -> the next token's (n, size) logits and the new state."""
        hidden, state = self.gru(self.step_inputs(row, token), state)
        return self.out(hidden[:, -1]), state


class WindowNet(nn.Module):
    """A feed-forward language model (Bengio et al., 2003), the one DP-SGD trains: the next word
    from the last `window` words one by one, the mean of every word before them and the row.
    Embeddings and linear layers only, over the whole text at once, so Opacus' per-text
    gradients are one product per layer, not one per token (a GRU's loop made DP 10x slower)."""

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.offsets = [int(x) for x in np.concatenate([[0], np.cumsum(cfg.vocab)[:-1]])]
        self.row = nn.Embedding(max(sum(cfg.vocab), 1), cfg.hidden)
        self.token = nn.Embedding(cfg.size, cfg.width)
        self.hidden = nn.Linear((cfg.window + 1) * cfg.width + cfg.hidden, cfg.hidden)
        self.out = nn.Linear(cfg.hidden, cfg.size)

    def row_vector(self, rows: Tensor) -> Tensor:
        return _row_vector(self, rows)

    def _next(self, row: Tensor, recent: list[Tensor], mean: Tensor) -> Tensor:
        x = torch.cat([*recent, mean, row], -1)
        return self.out(torch.tanh(self.hidden(x)))

    def forward(self, rows: Tensor, inputs: Tensor) -> Tensor:
        row = self.row_vector(rows)
        e = self.token(inputs)  # (B, L, width): position t sees inputs t, t-1, ... and the mean
        recent = [F.pad(e, (0, 0, j, 0))[:, : e.shape[1]] for j in range(self.cfg.window)]
        seen = torch.arange(1, e.shape[1] + 1, device=e.device).view(1, -1, 1)
        every = row.unsqueeze(1).expand(-1, e.shape[1], -1)
        return self._next(every, recent, e.cumsum(1) / seen)

    def begin(self, row: Tensor) -> tuple[Tensor, Tensor, int]:
        zeros = torch.zeros(len(row), self.cfg.window, self.cfg.width, device=row.device)
        return zeros, zeros[:, 0], 0

    def step(self, row: Tensor, token: Tensor, state: tuple) -> tuple[Tensor, tuple]:
        recent, total, count = state
        e = self.token(token[:, 0])
        recent = torch.cat([e.unsqueeze(1), recent[:, :-1]], 1)
        total, count = total + e, count + 1
        logits = self._next(row, list(recent.unbind(1)), total / count)
        return logits, (recent, total, count)


def make_net(cfg: TextConfig) -> nn.Module:
    return WindowNet(cfg) if cfg.kind == "window" else TextNet(cfg)


def _row_vector(net: TextNet | WindowNet, rows: Tensor) -> Tensor:
    """The sum of the row's column-token embeddings (zeros for a row of no columns)."""
    if rows.shape[1] == 0:
        return torch.zeros(len(rows), net.cfg.hidden, device=rows.device)
    return net.row(rows + torch.tensor(net.offsets, device=rows.device)).sum(1)


def vocabulary(texts: Sequence[object], min_count: int) -> list[str]:
    """The tokens at least `min_count` texts use, most used first (ties by the token)."""
    used: Counter = Counter()
    for text in texts:
        used.update(set(split_words(text)))
    kept = [w for w, c in used.items() if c >= min_count]
    return sorted(kept, key=lambda w: (-used[w], w))[:MAX_WORDS]


def encode_texts(
    texts: Sequence[object], words: Sequence[str], max_length: int
) -> tuple[np.ndarray, int]:
    """(N, max_length + 1) token ids ending with EOS then PAD (tokens outside `words` left
    out); and how many texts were cut."""
    index = {w: i + SPECIAL for i, w in enumerate(words)}
    out = np.full((len(texts), max_length + 1), PAD, dtype=np.int64)
    truncated = 0
    for i, text in enumerate(texts):
        ids = [index[w] for w in split_words(text) if w in index]
        if len(ids) > max_length:
            truncated += 1
            ids = ids[:max_length]
        out[i, : len(ids)] = ids
        out[i, len(ids)] = EOS
    return out, truncated


def teacher_forced(data: np.ndarray, rows: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """The row tokens, the inputs (BOS, then each target but the last) and the targets."""
    targets = torch.from_numpy(data)
    inputs = torch.cat([torch.full((len(data), 1), BOS), targets[:, :-1]], 1)
    inputs = inputs.masked_fill(inputs == PAD, EOS)  # past the end: never a target anyway
    condition = torch.from_numpy(np.asarray(rows, dtype=np.int64).reshape(len(data), -1))
    return condition, inputs, targets


@dataclass
class TextReport:
    epochs: int
    best_validation_loss: float | None  # None under DP: no rows are held out of training
    truncated: int
    stopped_by: str  # "early stopping", "epochs" or "time"
    fit_seconds: float
    words: int = 0  # the vocabulary's size
    privacy: dict | None = None  # under DP: the (epsilon, delta) spent (text_dp.py)


class TextModel:
    def __init__(self, net: TextNet | WindowNet) -> None:
        self.net = net.eval()
        self.config = asdict(net.cfg)
        self.report: TextReport | None = None

    @classmethod
    def fit(
        cls,
        texts: Sequence[object],
        rows: np.ndarray,
        vocab: list[int],
        *,
        max_length: int = 128,
        min_count: int = 10,
        seed: int = 0,
        epochs: int = 40,
        patience: int = 3,
        batch_size: int = 64,
        lr: float = 3e-3,
        max_seconds: float = 600.0,
        validation_share: float = 0.1,
        hidden: int = 256,
    ) -> TextModel:
        started = time.perf_counter()
        torch.manual_seed(seed)
        words = vocabulary(texts, min_count)
        cfg = TextConfig(vocab=list(vocab), words=words, max_length=max_length, hidden=hidden)
        net = TextNet(cfg)
        data, truncated = encode_texts(texts, words, max_length)
        condition, inputs, targets = teacher_forced(data, rows)
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(data), generator=generator)
        n_val = max(1, int(len(data) * validation_share))
        val, fit_rows = order[:n_val], order[n_val:]
        optimiser = torch.optim.AdamW(net.parameters(), lr=lr)
        best, best_state, waited, epoch, stopped = float("inf"), None, 0, 0, "epochs"
        for epoch in range(1, epochs + 1):
            net.train()
            shuffled = fit_rows[torch.randperm(len(fit_rows), generator=generator)]
            for start in range(0, len(shuffled), batch_size):
                batch = shuffled[start : start + batch_size]
                width = int((targets[batch] != PAD).sum(1).max())
                logits = net(condition[batch], inputs[batch, :width])
                loss = F.cross_entropy(
                    logits.reshape(-1, net.cfg.size),
                    targets[batch, :width].reshape(-1),
                    ignore_index=PAD,
                )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimiser.step()
            loss = _loss(net, condition[val], inputs[val], targets[val])
            spent = time.perf_counter() - started
            eta = spent / epoch * (epochs - epoch)
            _log.info(
                "text epoch %d/%d: validation loss %.4f per token, %.0f s, at most %.0f s more",
                epoch,
                epochs,
                loss,
                spent,
                min(eta, max(max_seconds - spent, 0.0)),
            )
            if loss < best - 1e-4:
                best, waited = loss, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= patience:
                    stopped = "early stopping"
                    break
            if time.perf_counter() - started > max_seconds:
                stopped = "time"
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        model = cls(net)
        seconds = round(time.perf_counter() - started, 3)
        model.report = TextReport(epoch, round(best, 5), truncated, stopped, seconds, len(words))
        return model

    @classmethod
    def from_state(cls, config: dict, state: dict[str, Tensor]) -> TextModel:
        net = make_net(TextConfig(**config))
        net.load_state_dict(state)
        return cls(net)

    def state(self) -> dict[str, Tensor]:
        return {k: v.cpu() for k, v in self.net.state_dict().items()}

    @torch.no_grad()
    def sample(
        self,
        rows: np.ndarray,
        *,
        seed: int,
        temperature: float = 1.0,
        top_p: float = 0.95,
        batch_size: int = 1024,
    ) -> list[str]:
        """One text per row of `rows` (the row's column tokens), all rows of a batch at once."""
        net, generator = self.net.eval(), torch.Generator().manual_seed(seed)
        rows = torch.from_numpy(np.asarray(rows, dtype=np.int64).reshape(len(rows), -1))
        out: list[str] = []
        for start in range(0, len(rows), batch_size):
            out += _sample_batch(
                net, rows[start : start + batch_size], generator, temperature, top_p
            )
        return out


def _loss(net: TextNet | WindowNet, condition: Tensor, inputs: Tensor, targets: Tensor) -> float:
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(targets), 256):
            t = targets[start : start + 256]
            logits = net(condition[start : start + 256], inputs[start : start + 256])
            loss = F.cross_entropy(
                logits.reshape(-1, net.cfg.size), t.reshape(-1), ignore_index=PAD, reduction="sum"
            )
            total += float(loss)
            count += int((t != PAD).sum())
    return total / max(count, 1)


def _sample_batch(
    net: TextNet | WindowNet, rows: Tensor, generator: Tensor, temperature: float, top_p: float
) -> list[str]:
    n, limit = len(rows), net.cfg.max_length
    row = net.row_vector(rows)
    state = net.begin(row)
    token = torch.full((n, 1), BOS)
    written = torch.full((n, limit), PAD)
    done = torch.zeros(n, dtype=torch.bool)
    for step in range(limit + 1):
        logits, state = net.step(row, token, state)
        logits = logits / temperature
        logits[:, BOS] = logits[:, PAD] = float("-inf")
        if step == limit:
            break
        token = draw(torch.softmax(logits, -1), top_p, generator)
        ended = token[:, 0] == EOS
        written[:, step] = torch.where(done | ended, PAD, token[:, 0])
        done |= ended
        if bool(done.all()):
            break
    words = net.cfg.words
    return [
        detokenize([words[int(t) - SPECIAL] for t in row if t >= SPECIAL])
        for row in written.numpy()
    ]
