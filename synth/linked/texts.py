"""A linked table's written free-text columns: one language model per column, given the row.

    texts = TableTexts.fit(flat.texts, full_tokens, vocab, contract, params, seed=0)
    written = texts.sample(full_tokens_of_new_rows, seed=1)     # {column: [text, ...]}

The row a text is written from is the table's full token row, the one its own model fills in:
the own tokens of every table above it (root first: a package's section, a pupil's class and
school) and then its own codec tokens (its categories, its numbers' bins, its children's counts),
so the parent and the row both change what is written. The language model is the table engine's
(`synth.tabular.autoregressive.text.TextModel`): a word-level GRU trained from scratch on the
column's training texts only, whose vocabulary is the words at least `text_min_count` training
texts use, so a rarer word is never written. Each model is saved as a state dict of tensors
(`torch.save`, loaded with `weights_only=True`) and its config as JSON, never pickled.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract

__all__ = ["TEXT_WEIGHTS", "TableTexts"]

TEXT_WEIGHTS = "text-{}-{}.pt"  # table i (layout order), column j (contract order)
_PRIME = 7919  # seeds of a table's text columns: apart from each other and from its own model


class TableTexts:
    """The language models of one table's written text columns, by column name."""

    def __init__(self, models: Mapping[str, Any]) -> None:
        self.models: dict[str, Any] = dict(models)  # column -> TextModel

    @classmethod
    def fit(
        cls,
        texts: pd.DataFrame,
        tokens: np.ndarray,
        vocab: list[int],
        contract: Contract,
        params: Mapping[str, Any],
        *,
        seed: int,
        budget: Mapping[str, float] | None = None,
        subjects: np.ndarray | None = None,
    ) -> TableTexts:
        """A model per written column of `contract`, trained on `texts` (rows in the order of
        `tokens`, the table's full token rows; `vocab` the size of each token column). Under DP
        (`budget`: each model's epsilon and delta) each is DP per subject (`subjects`, each row's
        root row; None for the root table, whose rows are the subjects)."""
        from synth.tabular.autoregressive.engine import ONE_THREAD_BELOW, _threads
        from synth.tabular.autoregressive.text import TextModel
        from synth.tabular.autoregressive.text_dp import fit_private

        models = {}
        for j, column in enumerate(contract.written):
            spec, written = column.spec, texts[column.name].tolist()
            common = {"max_length": spec.max_length, "min_count": params["text_min_count"]}
            common |= {"seed": seed + _PRIME * (j + 1), "max_seconds": params["text_max_seconds"]}
            common |= {"hidden": params["text_hidden"]}
            with _threads(1 if len(texts) < ONE_THREAD_BELOW else None):
                if budget:
                    model = fit_private(
                        written, tokens, vocab, **budget, **common, subjects=subjects,
                        max_grad_norm=params["max_grad_norm"], batch_size=params["batch_size"],
                    )  # fmt: skip
                else:
                    model = TextModel.fit(
                        written, tokens, vocab, **common, epochs=params["text_epochs"]
                    )
            model.config["sampling"] = {"temperature": spec.temperature, "top_p": spec.top_p}
            models[column.name] = model
        return cls(models)

    def sample(self, tokens: np.ndarray, *, seed: int) -> dict[str, np.ndarray]:
        """A text per row of `tokens` for every column, with the column's temperature and top-p."""
        out = {}
        for j, (column, model) in enumerate(self.models.items()):
            knobs = model.config.get("sampling", {})
            written = model.sample(tokens, seed=seed + _PRIME * (j + 1), **knobs)
            out[column] = np.asarray(written, dtype=object)
        return out

    def report(self) -> dict[str, Any]:
        """Per column: epochs, best validation loss, texts cut at max_length, why it stopped."""
        return {c: asdict(m.report) for c, m in self.models.items() if m.report is not None}

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path, table: int) -> list[dict[str, Any]]:
        """Each model's tensors under `directory`; the JSON that `load` reads them back with."""
        import torch

        saved = []
        for j, (column, model) in enumerate(self.models.items()):
            torch.save(model.state(), directory / TEXT_WEIGHTS.format(table, j))
            saved.append({"column": column, "config": model.config})
        return saved

    @classmethod
    def load(cls, raw: list[dict[str, Any]], files: Mapping[str, bytes], table: int) -> TableTexts:
        """The models `save` wrote, from the bytes the model store checked (`files`)."""
        import torch

        from synth.tabular.autoregressive.text import TextModel

        models = {}
        for j, entry in enumerate(raw):
            state = torch.load(io.BytesIO(files[TEXT_WEIGHTS.format(table, j)]), weights_only=True)
            config = dict(entry["config"])
            sampling = config.pop("sampling", {})
            model = TextModel.from_state(config, state)
            model.config["sampling"] = sampling
            models[entry["column"]] = model
        return cls(models)
