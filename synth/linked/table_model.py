"""One linked table's model: codecs over its own columns and a `TabularAR` whose leading
columns are the given context (the tables above it; for events also the position under the
parent and the previous event's own tokens).

The context columns are always visible in training and given per row in sampling, so the model
learns p(own columns | context) and is never asked to predict its parent. An event table is
sampled step by step: every parent with more than t events draws its event t at once, given its
event t - 1.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from synth.tabular.autoregressive.codecs import Codec, codec_from_json, codec_to_json
from synth.tabular.autoregressive.model import ARConfig, TabularAR

__all__ = ["TableModel"]

FORGET = 0.5  # share of later events trained without their history (see `_forgotten`)


class TableModel:
    """Codecs + `TabularAR` for one table; without own columns, no network at all."""

    def __init__(
        self,
        codecs: list[Codec],
        context: list[int],
        *,
        sequential: bool,
        max_position: int,
        width: int,
        depth: int,
        breadth: int,
        levels: list[Codec] | None = None,
        bounds: dict[str, list[float]] | None = None,
    ) -> None:
        self.codecs = codecs
        self.context = context  # vocabularies of the tables-above tokens
        self.sequential = sequential
        self.max_position = max_position
        # events: numbers modelled as changes; the previous event's value is context, in tokens
        # of a codec over all their values, and each sampled value stays in the training range
        self.levels = levels or []
        self.bounds = bounds or {}
        own = self.own_vocab
        steps = [max_position + 1, *(v + 1 for v in own), *(c.size + 1 for c in self.levels)]
        steps = steps if sequential else []
        self.given = len(context) + len(steps)
        vocab = [*context, *steps, *own]
        self.net: TabularAR | None = None
        if own:
            self.net = TabularAR(ARConfig(vocab=vocab, width=width, depth=depth, context=breadth))

    @property
    def own_vocab(self) -> list[int]:
        return [c.size for c in self.codecs]

    @property
    def own_names(self) -> list[str]:
        return [name for codec in self.codecs for name in codec.columns]

    # -- tokens ---------------------------------------------------------------------------------

    def encode(self, own: pd.DataFrame) -> np.ndarray:
        if not self.codecs:
            return np.zeros((len(own), 0), dtype=np.int64)
        return np.stack([c.encode(own) for c in self.codecs], axis=1)

    def training_tokens(
        self,
        context: np.ndarray,
        position: np.ndarray,
        own: np.ndarray,
        levels: pd.DataFrame | None = None,
        *,
        seed: int = 0,
    ) -> np.ndarray:
        """Context, then (events) position, previous event and previous values, then own
        tokens, per row."""
        if not self.sequential:
            return np.concatenate([context, own], axis=1)
        capped, prev = self._step_context(position, own, own)
        level = self._level_tokens(levels, position == 0, shift=True)
        forgot = self._forgotten(position, seed)
        if forgot.any():  # these later events are shown as starts: no event before them
            prev[forgot] = np.asarray(self.own_vocab, dtype=np.int64)
            level[forgot] = np.asarray([c.size for c in self.levels], dtype=np.int64)
            own = own.copy()
            for j, codec in enumerate(self.codecs):
                if codec.columns[0].startswith("__delta__."):  # no change without a before
                    own[forgot, j] = codec.encode(pd.DataFrame({codec.columns[0]: [np.nan]}))[0]
        return np.concatenate([context, capped, prev, level, own], axis=1)

    @staticmethod
    def _forgotten(position: np.ndarray, seed: int) -> np.ndarray:
        """Later events whose history training hides (`FORGET` of them, seeded): a start is
        drawn with no event before it, and a subject has one start however long its history,
        so on its own the starts' joint distribution is learned from one row per subject (too
        few: 48 states of a 17-year panel). Shown without their history, the later events
        teach it too, the position telling the model where in the sequence they stand."""
        rng = np.random.default_rng([seed, 20])
        return (position > 0) & (rng.random(len(position)) < FORGET)

    def _level_tokens(
        self, values: pd.DataFrame | None, first: np.ndarray, shift: bool
    ) -> np.ndarray:
        """The previous event's values as level tokens (one past the vocabulary at a start)."""
        rows = len(first)
        if not self.levels or values is None:
            return np.zeros((rows, 0), dtype=np.int64)
        tokens = np.stack([c.encode(values) for c in self.levels], axis=1)
        if shift:
            tokens = np.concatenate([tokens[:1], tokens[:-1]], axis=0) if rows else tokens
        start = np.asarray([c.size for c in self.levels], dtype=np.int64)[None, :]
        return np.where(first[:, None], start, tokens).astype(np.int64)

    def _step_context(
        self, position: np.ndarray, own: np.ndarray, previous: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Position (capped) and the previous event's own tokens (`previous` shifted by one row;
        the start token, one past each vocabulary, at position 0)."""
        capped = np.minimum(position, self.max_position)[:, None]
        start = np.asarray(self.own_vocab, dtype=np.int64)[None, :]
        shifted = np.concatenate([start, previous[:-1]], axis=0) if len(previous) else previous
        prev = np.where((position == 0)[:, None], start, shifted)
        return capped.astype(np.int64), prev.astype(np.int64)

    # -- sampling -------------------------------------------------------------------------------

    def sample(
        self,
        context: np.ndarray,
        position: np.ndarray,
        *,
        generator: torch.Generator,
        rng: np.random.Generator,
        temperature: float,
        fixed: dict[int, int] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Own tokens for rows with this `context` (and, for events, `position`; rows grouped
        by parent, in order), and the values of the columns modelled as changes."""
        rows = len(context)
        values = {c.columns[0]: np.full(rows, np.nan) for c in self.levels}
        if self.net is None or rows == 0:
            return np.zeros((rows, len(self.codecs)), dtype=np.int64), values
        if not self.sequential:
            return self._draw(context, generator, temperature, fixed), values
        own = np.zeros((rows, len(self.codecs)), dtype=np.int64)
        order = np.argsort(position, kind="stable")
        bounds = np.searchsorted(position[order], np.arange(int(position.max()) + 2))
        start = np.asarray(self.own_vocab, dtype=np.int64)[None, :]
        for step in range(int(position.max()) + 1):
            at = order[bounds[step] : bounds[step + 1]]
            capped = np.full((len(at), 1), min(step, self.max_position), dtype=np.int64)
            prev = own[at - 1] if step else np.repeat(start, len(at), axis=0)
            before = pd.DataFrame({k: v[at - 1] if step else v[at] for k, v in values.items()})
            level = self._level_tokens(before, np.full(len(at), step == 0), shift=False)
            given = np.concatenate([context[at], capped, prev, level], axis=1)
            own[at] = self._draw(given, generator, temperature, None)
            self._advance(values, own, at, step, rng)
        return own, values

    def _advance(
        self,
        values: dict[str, np.ndarray],
        own: np.ndarray,
        at: np.ndarray,
        step: int,
        rng: np.random.Generator,
    ) -> None:
        """Each change column's value at these events: its drawn start where there is no
        previous value, else the previous value plus the drawn change, kept in range."""
        index = {c.columns[0]: j for j, c in enumerate(self.codecs)}
        for codec in self.levels:
            name = codec.columns[0]
            absolute = self._number(index[name], own[at], rng)
            change = self._number(index[f"__delta__.{name}"], own[at], rng)
            prev = values[name][at - 1] if step else np.full(len(at), np.nan)
            value = np.where(np.isnan(prev), absolute, prev + change)
            low, high, missing = self.bounds.get(name, [-np.inf, np.inf, 1.0])
            if not missing:  # never missing in training: a missing draw keeps the last value
                value = np.where(np.isnan(value), np.where(np.isnan(prev), absolute, prev), value)
                value = np.where(np.isnan(value), low, value)
            values[name][at] = np.clip(value, low, high)

    def _number(self, j: int, own: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        decoded = next(iter(self.codecs[j].decode(own[:, j], rng).values()))
        return pd.to_numeric(pd.Series(decoded), errors="coerce").to_numpy(dtype="float64")

    def _draw(
        self,
        given: np.ndarray,
        generator: torch.Generator,
        temperature: float,
        fixed: dict[int, int] | None,
    ) -> np.ndarray:
        assert self.net is not None
        columns = torch.from_numpy(np.ascontiguousarray(given.T))
        per_row = {j: columns[j] for j in range(given.shape[1])}
        shifted = {self.given + j: t for j, t in (fixed or {}).items()}
        tokens = self.net.sample(
            len(given), generator=generator, given=per_row, fixed=shifted, temperature=temperature
        )
        return tokens[:, self.given :].numpy()

    def decode(self, own: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for j, codec in enumerate(self.codecs):
            out.update(codec.decode(own[:, j], rng))
        return out

    # -- persistence ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "codecs": [codec_to_json(c) for c in self.codecs],
            "context": self.context,
            "sequential": self.sequential,
            "max_position": self.max_position,
            "levels": [codec_to_json(c) for c in self.levels],
            "bounds": self.bounds,
            "config": asdict(self.net.cfg) if self.net is not None else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], state: dict[str, Tensor] | None) -> TableModel:
        config = raw["config"] or {}
        model = cls(
            [codec_from_json(c) for c in raw["codecs"]],
            raw["context"],
            sequential=raw["sequential"],
            max_position=raw["max_position"],
            width=config.get("width", 1),
            depth=config.get("depth", 0),
            breadth=config.get("context", 1),
            levels=[codec_from_json(c) for c in raw.get("levels", [])],
            bounds=raw.get("bounds", {}),
        )
        if model.net is not None and state is not None:
            model.net.load_state_dict(state)
            model.net.eval()
        return model
