"""A free-text column's language model under differential privacy: its vocabulary and its
training both spend a part of the job's (epsilon, delta), and the parts add up.

    model = fit_private(texts, row_tokens, vocab, epsilon=2.5, delta=1e-6, max_length=64, seed=0)
    model.report.privacy   # {"epsilon_spent": ..., "vocabulary": {...}, "training": {...}}

Without DP the vocabulary is the words at least `min_count` training texts use, a count read from
the data. Under DP that count is noised instead (the Gaussian mechanism with a threshold, as in
Gopi et al., "Differentially private set union", ICML 2020): each text gives weight 1/sqrt(t) to
each of its first t <= `WORDS_PER_TEXT` distinct words (so one text moves the counts by at most 1
in L2), Gaussian noise of scale sigma is added to every count, and a word is kept when its noisy
count clears `threshold`, set so that a word only one text uses is released with probability at
most delta/2. sigma comes from the analytic Gaussian mechanism (Balle and Wang, ICML 2018): opacus'
accountants are for many subsampled steps, and their RDP bound for one step needs several times
the noise. Training is DP-SGD with Opacus (`DPGRU`, the drop-in GRU its per-sample hooks support):
Poisson-sampled batches, each text's gradient clipped at `max_grad_norm`, noise set by the RDP
accountant for the fixed epochs, every row a training row (no validation split outside the
accounting, so no early stopping; the time bound still holds and spends less). The two parts
compose sequentially: epsilon and delta add. The table codecs that condition the text (a
category list, a number's bins) are read from the data, as in every DP fit (README).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from schemas.errors import SynthError
from synth.tabular.autoregressive.text import (
    MAX_WORDS,
    PAD,
    TextConfig,
    TextModel,
    TextReport,
    WindowNet,
    encode_texts,
    split_words,
    teacher_forced,
)
from synth.tabular.autoregressive.train import DP_EPOCHS, noise_multiplier, poisson_rate

__all__ = ["VOCABULARY_SHARE", "WORDS_PER_TEXT", "fit_private", "gaussian_sigma", "private_words"]

_log = logging.getLogger(__name__)

WORDS_PER_TEXT = 20  # distinct words a text adds to the vocabulary counts (its first ones)
VOCABULARY_SHARE = 0.3  # of a text column's (epsilon, delta): the rest trains its model


def gaussian_sigma(epsilon: float, delta: float) -> float:
    """The least noise (L2 sensitivity 1) for which the Gaussian mechanism is (epsilon, delta)-DP:
    Balle and Wang's exact condition delta >= Phi(1/2s - e s) - e^e Phi(-1/2s - e s), bisected."""
    from scipy.stats import norm

    def spent(sigma: float) -> float:
        a, b = 1 / (2 * sigma), epsilon * sigma
        return float(norm.cdf(a - b) - math.exp(epsilon) * norm.cdf(-a - b))

    low, high = 1e-3, 1.0
    while spent(high) > delta:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (low, mid) if spent(mid) <= delta else (mid, high)
    return high


def threshold(sigma: float, delta: float, cap: int = WORDS_PER_TEXT) -> float:
    """The noisy count a word must reach: one text's words (t of them, weight 1/sqrt(t) each)
    all clear it with probability at most `delta`, whatever t."""
    from scipy.stats import norm

    return max(
        1 / math.sqrt(t) + sigma * float(norm.isf(-math.expm1(math.log1p(-delta) / t)))
        for t in range(1, cap + 1)
    )


def private_words(
    texts: Sequence[object],
    *,
    epsilon: float,
    delta: float,
    min_count: int,
    seed: int,
    subjects: np.ndarray | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """The vocabulary under (epsilon, delta): the words whose noisy weighted count clears the
    threshold (and `min_count` texts' worth of weight), most counted first. With `subjects` (a
    code per text) the unit is the subject: its texts' words count once, its first 20."""
    counts: Counter = Counter()
    for words in _units(texts, subjects):
        first = list(dict.fromkeys(words))[:WORDS_PER_TEXT]
        for word in first:
            counts[word] += 1 / math.sqrt(len(first))
    sigma = gaussian_sigma(epsilon, delta / 2)
    bar = max(threshold(sigma, delta / 2), min_count / math.sqrt(WORDS_PER_TEXT))
    rng = np.random.default_rng([seed, 26])
    words = sorted(counts)  # noise drawn in a fixed order: the same seed, the same vocabulary
    noisy = dict(
        zip(
            words,
            np.asarray([counts[w] for w in words]) + rng.normal(0, sigma, len(words)),
            strict=True,
        )
    )
    kept = sorted((w for w in words if noisy[w] >= bar), key=lambda w: (-noisy[w], w))
    info = {
        "epsilon": epsilon,
        "delta": delta,
        "sigma": round(sigma, 4),
        "threshold": round(bar, 3),
    }
    return kept[:MAX_WORDS], {**info, "words": len(kept[:MAX_WORDS])}


def _units(texts: Sequence[object], subjects: np.ndarray | None) -> Iterator[list[str]]:
    """Each privacy unit's words in order: a text's, or a subject's texts' one after another."""
    if subjects is None:
        yield from (split_words(t) for t in texts)
        return
    by: dict[Any, list[str]] = {}
    for text, subject in zip(texts, subjects.tolist(), strict=True):
        by.setdefault(subject, []).extend(split_words(text))
    yield from by.values()


def fit_private(
    texts: Sequence[object],
    rows: np.ndarray,
    vocab: list[int],
    *,
    epsilon: float,
    delta: float,
    max_length: int = 128,
    min_count: int = 10,
    seed: int = 0,
    epochs: int = DP_EPOCHS,
    batch_size: int = 512,
    lr: float = 3e-3,
    max_grad_norm: float = 1.0,
    max_seconds: float = 600.0,
    hidden: int = 256,
    subjects: np.ndarray | None = None,
) -> TextModel:
    """A `TextModel` whose vocabulary and weights are (epsilon, delta)-DP in the texts, or in
    the subjects where `subjects` gives each text's (a child table's texts: a subject may write
    many, and the whole subject is what is protected)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    share_e, share_d = epsilon * VOCABULARY_SHARE, delta * VOCABULARY_SHARE
    words, vocabulary = private_words(
        texts, epsilon=share_e, delta=share_d, min_count=min_count, seed=seed, subjects=subjects
    )
    if not words:
        _log.warning(
            "text under DP: no word's noisy count cleared the threshold at epsilon %.3g; the "
            "column will be written empty (raise epsilon or use generate: fake)",
            share_e,
        )
    cfg = TextConfig(
        vocab=list(vocab), words=words, max_length=max_length, hidden=hidden, kind="window"
    )
    net = WindowNet(cfg)
    data, truncated = encode_texts(texts, words, max_length)
    condition, inputs, targets = teacher_forced(data, rows)
    train_e, train_d = epsilon - share_e, delta - share_d
    tensors = (condition, inputs, targets)
    codes = None if subjects is None else np.unique(subjects, return_inverse=True)[1].ravel()
    units = len(data) if codes is None else int(codes.max()) + 1
    batch = min(batch_size, max(64 if codes is None else 16, units // 20))
    rate = batch / units if codes is not None else poisson_rate(units, batch)
    unit = "texts" if codes is None else "subjects"
    noise = noise_multiplier(train_e, train_d, rate, epochs, f"{units} {unit}")
    knobs = (noise, epochs, lr, max_grad_norm, max_seconds, seed, train_d, started)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # secure_mode off, RDP orders: as in train.train_dp
        if codes is None:
            done, spent = _train(net, tensors, batch, *knobs)
        else:
            done, spent = _train_subjects(net, tensors, codes, batch, *knobs)
    if spent > train_e * 1.0001:
        raise SynthError(f"differential privacy: text spent epsilon {spent:.3f} of {train_e:.3f}")
    model = TextModel(net)
    stopped = "time" if done < epochs else "epochs"
    seconds = round(time.perf_counter() - started, 3)
    model.report = TextReport(done, None, truncated, stopped, seconds, len(words))
    training = {
        "epsilon": train_e,
        "epsilon_spent": round(spent, 4),
        "delta": train_d,
        "noise_multiplier": round(noise, 4),
        "max_grad_norm": max_grad_norm,
        "sample_rate": round(rate, 6),
        "epochs": done,
        "unit": "text" if codes is None else "subject",
    }
    model.report.privacy = {
        "epsilon_budget": epsilon,
        "epsilon_spent": round(share_e + spent, 4),
        "delta": delta,
        "vocabulary": vocabulary,
        "training": training,
        "composition": "sequential (vocabulary + training)",
    }
    return model


def _train(
    net: WindowNet,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    batch_size: int,
    noise: float,
    epochs: int,
    lr: float,
    max_grad_norm: float,
    max_seconds: float,
    seed: int,
    delta: float,
    started: float,
) -> tuple[int, float]:
    """DP-SGD for at most `epochs` (fewer if time runs out); the epochs run and epsilon spent."""
    from opacus import PrivacyEngine

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*tensors),
        batch_size=batch_size,
        generator=torch.Generator().manual_seed(seed),
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    privacy = PrivacyEngine(accountant="rdp", secure_mode=False)
    private, optimiser, loader = privacy.make_private(
        module=net,
        optimizer=optimiser,
        data_loader=loader,
        noise_multiplier=noise,
        max_grad_norm=max_grad_norm,
        poisson_sampling=True,
        noise_generator=torch.Generator().manual_seed(seed),
    )
    done = 0
    for epoch in range(1, epochs + 1):
        private.train()
        for condition, inputs, targets in loader:
            if not len(targets):
                continue
            width = int((targets != PAD).sum(1).max())
            logits = private(condition, inputs[:, :width])
            target = targets[:, :width]
            per_token = F.cross_entropy(
                logits.transpose(1, 2), target, ignore_index=PAD, reduction="none"
            )
            # each text's mean over its own tokens: its gradient does not depend on the others'
            per_text = per_token.sum(1) / (target != PAD).sum(1).clamp(min=1)
            optimiser.zero_grad(set_to_none=True)
            per_text.mean().backward()
            optimiser.step()
        done = epoch
        spent = time.perf_counter() - started
        _log.info("text DP epoch %d/%d: %.0f s", epoch, epochs, spent)  # no loss: not private
        if spent > max_seconds:
            break
    epsilon = float(privacy.get_epsilon(delta))
    private.remove_hooks()
    net.eval()
    return done, epsilon


def _train_subjects(
    net: WindowNet,
    tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    codes: np.ndarray,
    expected: int,
    noise: float,
    epochs: int,
    lr: float,
    max_grad_norm: float,
    max_seconds: float,
    seed: int,
    delta: float,
    started: float,
) -> tuple[int, float]:
    """DP-SGD per subject (subject_dp.py's steps): each step Poisson-samples subjects, sums each
    one's per-text gradients, clips that sum, adds noise; the epochs run and epsilon spent."""
    from torch.func import functional_call

    from synth.tabular.autoregressive.subject_dp import (
        clipped_group_gradient,
        noised_step,
        spent_epsilon,
        subject_batches,
    )

    def text_loss(weights: dict, condition: Tensor, inputs: Tensor, target: Tensor) -> Tensor:
        logits = functional_call(net, weights, (condition[None], inputs[None]))
        per_token = F.cross_entropy(logits[0], target, ignore_index=PAD, reduction="none")
        return per_token.sum() / (target != PAD).sum().clamp(min=1)  # a text's mean, as _train

    rate = expected / (int(codes.max()) + 1)
    steps, per_epoch = max(1, int(epochs / rate)), max(1, round(1 / rate))
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    condition, inputs, targets = tensors
    done_steps = 0
    net.train()
    for step, rows in subject_batches(codes, rate, steps, generator):
        if len(rows):
            width = int((targets[rows] != PAD).sum(1).max())
            batch = (condition[rows], inputs[rows, :width], targets[rows, :width])
            summed = clipped_group_gradient(net, text_loss, batch, codes[rows], max_grad_norm)
        else:
            summed = {k: torch.zeros_like(v) for k, v in net.named_parameters()}
        noised_step(net, optimiser, summed, noise * max_grad_norm, expected, generator)
        done_steps = step
        if step % per_epoch == 0:
            spent = time.perf_counter() - started
            _log.info("text subject DP epoch %d/%d: %.0f s", step // per_epoch, epochs, spent)
            if spent > max_seconds:
                break
    net.zero_grad(set_to_none=True)
    net.eval()
    return min(epochs, round(done_steps * rate)), spent_epsilon(noise, rate, done_steps, delta)
