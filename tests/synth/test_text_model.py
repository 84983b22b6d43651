"""The text column's language model: the row changes what is written, a word fewer than
`min_count` texts use is never written, texts are cut at `max_length` tokens, sampling is
seeded, and its state loads with weights_only."""

from __future__ import annotations

import io

import numpy as np
import torch

from synth.tabular.autoregressive.text import (
    EOS,
    PAD,
    TextModel,
    detokenize,
    encode_texts,
    split_words,
)


def _two_kinds(n: int = 240) -> tuple[list[str], np.ndarray]:
    kinds = np.arange(n) % 2
    texts = [
        "A library for parsing files." if k == 0 else "Documentation and examples (HTML)."
        for k in kinds
    ]
    texts[0] = "A library for parsing Zyxqwv files."  # a word of one text
    return texts, kinds.reshape(-1, 1)


def test_the_row_changes_what_is_written_and_a_rare_word_never_is() -> None:
    texts, rows = _two_kinds()
    model = TextModel.fit(
        texts, rows, [2], max_length=16, min_count=5, seed=0, epochs=30, hidden=64
    )
    written = model.sample(np.array([[0]] * 20 + [[1]] * 20), seed=1, temperature=0.5)
    assert sum("library" in t for t in written[:20]) >= 18, written[:20]
    assert sum("Documentation" in t for t in written[20:]) >= 18, written[20:]
    assert "Zyxqwv" not in model.config["words"] and not any("Zyxqwv" in t for t in written)
    again = model.sample(np.array([[0]] * 20 + [[1]] * 20), seed=1, temperature=0.5)
    assert again == written


def test_long_texts_are_cut_and_still_end() -> None:
    words = ["a", "b", "."]
    data, truncated = encode_texts(["a b a b a b .", "a rare b", None], words, max_length=4)
    assert truncated == 1
    assert list(data[0]) == [3, 4, 3, 4, EOS]
    assert list(data[1, :3]) == [3, 4, EOS]  # "rare" is not in the vocabulary
    assert data[2, 0] == EOS and (data[2, 1:] == PAD).all()


def test_words_are_joined_back_as_written() -> None:
    text = "Tools (GNU) for C, C++ and files: fast!"
    assert detokenize(split_words(text)) == "Tools (GNU) for C, C + + and files: fast!"


def test_its_state_round_trips_through_weights_only() -> None:
    texts, rows = _two_kinds(64)
    model = TextModel.fit(texts, rows, [2], max_length=16, min_count=2, seed=0, epochs=2, hidden=32)
    buffer = io.BytesIO()
    torch.save(model.state(), buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    loaded = TextModel.from_state(model.config, state)
    rows_new = np.array([[0], [1], [0]])
    assert loaded.sample(rows_new, seed=3) == model.sample(rows_new, seed=3)


def test_the_fast_draw_keeps_to_each_rows_nucleus() -> None:
    from synth.tabular.autoregressive.nucleus import draw, nucleus

    generator = torch.Generator().manual_seed(0)
    peaked = torch.softmax(torch.randn(64, 2000, generator=generator) * 6, -1)
    flat = torch.softmax(torch.randn(64, 2000, generator=generator) * 0.1, -1)  # 256 hold < 0.9
    probs = torch.cat([peaked, flat])
    allowed = nucleus(probs, 0.9) > 0
    for _ in range(20):
        token = draw(probs, 0.9, generator)
        assert allowed.gather(1, token).all()
    counts = torch.zeros(2000)
    row = peaked[:1].expand(4000, -1)
    counts.index_add_(0, draw(row, 0.9, generator)[:, 0], torch.ones(4000))
    expected = nucleus(peaked[:1], 0.9)[0]
    expected = expected / expected.sum()
    assert (counts / 4000 - expected).abs().max() < 0.03
