"""A free-text column's language model, trained from scratch on that column only, given its row.

    model = TextModel.fit(texts, row_tokens, vocab, max_length=256, seed=0)
    written = model.sample(row_tokens_of_new_rows, seed=1, temperature=0.9, top_p=0.95)
    state, config = model.state(), model.config   # tensors and JSON: loaded weights_only

Tokens are bytes (UTF-8), so there is no tokeniser to train, ship or trust, and no word outside
the vocabulary; three more ids mark the start, the end and padding. A text longer than
`max_length` bytes is cut at a character boundary and still ends (`truncated` counts them).

The row enters as the start of the recurrence: every column token of the row (the table model's
own codec tokens: a category, a number's bin) has an embedding, their sum goes through a layer
into the GRU's initial state, so a category changes what is written from the first byte. Training
is teacher-forced cross-entropy with AdamW, gradients clipped, the best validation loss kept
(early stopping), and a time bound. Sampling runs every row of a batch at once, one byte a step,
with temperature and nucleus (top-p) truncation.

The layers are batch-first torch modules with no buffers, the same shape of model the table
engine trains with Opacus; differential privacy for text is not offered yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TextConfig", "TextModel", "encode_texts"]

_log = logging.getLogger(__name__)

BOS, EOS, PAD = 256, 257, 258
VOCAB = 259


@dataclass
class TextConfig:
    vocab: list[int]  # tokens per row column (the condition), in column order
    max_length: int = 256  # bytes
    width: int = 64  # byte embedding
    hidden: int = 256  # GRU state
    layers: int = 1


class TextNet(nn.Module):
    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.offsets = [int(x) for x in np.concatenate([[0], np.cumsum(cfg.vocab)[:-1]])]
        self.row = nn.Embedding(max(sum(cfg.vocab), 1), cfg.hidden)
        self.start = nn.Linear(cfg.hidden, cfg.hidden * cfg.layers)
        self.byte = nn.Embedding(VOCAB, cfg.width)
        self.gru = nn.GRU(cfg.width, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.out = nn.Linear(cfg.hidden, VOCAB)

    def initial(self, rows: Tensor) -> Tensor:
        """(B, C) row tokens -> (layers, B, hidden) initial state."""
        if rows.shape[1] == 0:
            summed = torch.zeros(len(rows), self.cfg.hidden, device=rows.device)
        else:
            offsets = torch.tensor(self.offsets, device=rows.device)
            summed = self.row(rows + offsets).sum(1)
        state = torch.tanh(self.start(summed))
        return state.view(len(rows), self.cfg.layers, self.cfg.hidden).transpose(0, 1).contiguous()

    def forward(self, rows: Tensor, inputs: Tensor) -> Tensor:
        hidden, _ = self.gru(self.byte(inputs), self.initial(rows))
        return self.out(hidden)


def encode_texts(texts: Sequence[object], max_length: int) -> tuple[np.ndarray, int]:
    """(N, max_length + 1) byte ids ending with EOS then PAD; and how many texts were cut."""
    out = np.full((len(texts), max_length + 1), PAD, dtype=np.int64)
    truncated = 0
    for i, text in enumerate(texts):
        data = b"" if text is None or text != text else str(text).encode("utf-8")
        if len(data) > max_length:
            truncated += 1
            data = data[:max_length]
            while data and (data[-1] & 0xC0) == 0x80:  # never half a character
                data = data[:-1]
            if data and data[-1] >= 0xC0:
                data = data[:-1]
        out[i, : len(data)] = np.frombuffer(data, dtype=np.uint8)
        out[i, len(data)] = EOS
    return out, truncated


@dataclass
class TextReport:
    epochs: int
    best_validation_loss: float
    truncated: int
    stopped_by: str  # "early stopping", "epochs" or "time"
    fit_seconds: float


class TextModel:
    def __init__(self, net: TextNet) -> None:
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
        max_length: int = 256,
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
        net = TextNet(TextConfig(vocab=list(vocab), max_length=max_length, hidden=hidden))
        data, truncated = encode_texts(texts, max_length)
        targets = torch.from_numpy(data)
        inputs = torch.cat([torch.full((len(data), 1), BOS), targets[:, :-1]], 1)
        inputs = inputs.masked_fill(inputs == PAD, EOS)  # past the end: never a target anyway
        condition = torch.from_numpy(np.asarray(rows, dtype=np.int64).reshape(len(data), -1))
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
                    logits.reshape(-1, VOCAB), targets[batch, :width].reshape(-1), ignore_index=PAD
                )
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimiser.step()
            loss = _loss(net, condition[val], inputs[val], targets[val])
            spent = time.perf_counter() - started
            eta = spent / epoch * (epochs - epoch)
            _log.info(
                "text epoch %d/%d: validation loss %.4f per byte, %.0f s, at most %.0f s more",
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
        model.report = TextReport(epoch, round(best, 5), truncated, stopped, seconds)
        return model

    @classmethod
    def from_state(cls, config: dict, state: dict[str, Tensor]) -> TextModel:
        net = TextNet(TextConfig(**config))
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


def _loss(net: TextNet, condition: Tensor, inputs: Tensor, targets: Tensor) -> float:
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(targets), 256):
            t = targets[start : start + 256]
            logits = net(condition[start : start + 256], inputs[start : start + 256])
            loss = F.cross_entropy(
                logits.reshape(-1, VOCAB), t.reshape(-1), ignore_index=PAD, reduction="sum"
            )
            total += float(loss)
            count += int((t != PAD).sum())
    return total / max(count, 1)


def _sample_batch(
    net: TextNet, rows: Tensor, generator: Tensor, temperature: float, top_p: float
) -> list[str]:
    n, limit = len(rows), net.cfg.max_length
    state = net.initial(rows)
    token = torch.full((n, 1), BOS)
    written = torch.full((n, limit), PAD)
    done = torch.zeros(n, dtype=torch.bool)
    for step in range(limit + 1):
        hidden, state = net.gru(net.byte(token), state)
        logits = net.out(hidden[:, -1]) / temperature
        logits[:, BOS] = logits[:, PAD] = float("-inf")
        if step == limit:
            break
        probs = _nucleus(torch.softmax(logits, -1), top_p)
        token = torch.multinomial(probs, 1, generator=generator)
        ended = token[:, 0] == EOS
        written[:, step] = torch.where(done | ended, PAD, token[:, 0])
        done |= ended
        if bool(done.all()):
            break
    out = []
    for row in written.numpy():
        data = bytes(int(b) for b in row if b < 256)
        out.append(data.decode("utf-8", errors="ignore"))
    return out


def _nucleus(probs: Tensor, top_p: float) -> Tensor:
    """Keep the most likely tokens whose probabilities sum to `top_p` (at least one)."""
    if top_p >= 1.0:
        return probs
    sorted_p, index = probs.sort(-1, descending=True)
    keep = sorted_p.cumsum(-1) - sorted_p < top_p
    sorted_p = sorted_p * keep
    return torch.zeros_like(probs).scatter(-1, index, sorted_p)
