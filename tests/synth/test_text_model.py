"""The text column's language model: the row changes what is written, texts are cut whole
characters at `max_length`, sampling is seeded, and its state loads with weights_only."""

from __future__ import annotations

import io

import numpy as np
import torch

from synth.tabular.autoregressive.text import EOS, PAD, TextModel, encode_texts


def _two_kinds(n: int = 240) -> tuple[list[str], np.ndarray]:
    kinds = np.arange(n) % 2
    texts = ["library for parsing files" if k == 0 else "documentation and examples" for k in kinds]
    return texts, kinds.reshape(-1, 1)


def test_the_row_changes_what_is_written() -> None:
    texts, rows = _two_kinds()
    model = TextModel.fit(texts, rows, [2], max_length=32, seed=0, epochs=30, hidden=64)
    written = model.sample(np.array([[0]] * 20 + [[1]] * 20), seed=1, temperature=0.5)
    assert sum("librar" in t for t in written[:20]) >= 18, written[:20]
    assert sum("document" in t for t in written[20:]) >= 18, written[20:]
    again = model.sample(np.array([[0]] * 20 + [[1]] * 20), seed=1, temperature=0.5)
    assert again == written


def test_long_texts_are_cut_at_a_character_and_still_end() -> None:
    data, truncated = encode_texts(["ab", "é" * 10, None], max_length=5)
    assert truncated == 1
    assert list(data[0, :3]) == [97, 98, EOS]
    cut = bytes(int(b) for b in data[1] if b < 256)
    assert cut.decode("utf-8") == "éé" and EOS in data[1]
    assert data[2, 0] == EOS and (data[2, 1:] == PAD).all()


def test_its_state_round_trips_through_weights_only() -> None:
    texts, rows = _two_kinds(64)
    model = TextModel.fit(texts, rows, [2], max_length=32, seed=0, epochs=2, hidden=32)
    buffer = io.BytesIO()
    torch.save(model.state(), buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    loaded = TextModel.from_state(model.config, state)
    rows_new = np.array([[0], [1], [0]])
    assert loaded.sample(rows_new, seed=3) == model.sample(rows_new, seed=3)
