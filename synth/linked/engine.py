"""The autoregressive engine's linked mode: parents first, then each parent's children.

    engine = LinkedEngine(epochs=30)
    engine.fit(tables, relations, seed=0)
    synthetic = engine.sample(500, seed=1, conditions={"sex": "Female"})  # 500 root rows

Every table is flattened (`flatten`) into its own columns, which include each child table's
row count and the child columns that never change within a parent. The root's model draws the
subjects with their counts; every child table then draws `count` rows per generated parent,
given the own tokens of every table above it, so each child row has a generated parent by
construction. Event tables (`order_by`) are drawn event by event given the previous one, with
the time since it (`__gap__`). Keys are generated (row numbers, or "<table>-<n>" for text keys),
never copied. A written free-text column is drawn last, by its language model given the row's
full tokens (the tables above it and its own: `texts`); other columns neither modelled nor keys
(pii, faked text) come back empty.

With `epsilon`, every table's model is trained with DP-SGD per subject (a root row and all rows
under it): the root's rows are subjects already (row-level DP-SGD, `train_dp`); other tables'
rows are grouped by subject (`subject_dp`). The budget is split evenly over the models
(sequential composition) and reported per table and in total. Not covered, as in the table
engine: codec bins and category lists, and which columns are constant per parent, are read
from the data outside the accounting.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError
from schemas.relations import Relations
from synth.linked import training
from synth.linked.flatten import (
    CONST,
    COUNT,
    GAP,
    START,
    Layout,
    flatten,
    order_values,
    plan_layouts,
    positions,
)
from synth.linked.table_model import TableModel
from synth.linked.texts import TableTexts
from synth.tabular.autoregressive.codecs import build_codecs, condition_tokens
from synth.tabular.autoregressive.engine import AutoregressiveEngine
from synth.tabular.base import read_model, write_manifest

__all__ = ["LinkedEngine"]

CONFIG = "model.json"


class LinkedEngine:
    """Linked tables and event sequences with the autoregressive engine; see the module."""

    name: ClassVar[str] = "autoregressive"

    def __init__(self, *, max_position: int = 32, **params: Any) -> None:
        if max_position < 1:
            raise ValueError("max_position must be positive")
        self.params: dict[str, Any] = {
            **AutoregressiveEngine(**params).params,  # its checks and defaults
            "max_position": max_position,
        }
        self._layouts: dict[str, Layout] = {}
        self._models: dict[str, TableModel] = {}
        self._texts: dict[str, TableTexts] = {}  # per table with written text columns
        self._stats: dict[str, Any] = {}

    # -- training -------------------------------------------------------------------------------

    def fit(self, tables: Mapping[str, pd.DataFrame], relations: Relations, *, seed: int) -> None:
        """Learn every table of `relations` from `tables` (typed by their contracts)."""
        import torch

        started = time.perf_counter()
        p = self.params
        self._layouts = plan_layouts(dict(tables), relations)
        flats = flatten(dict(tables), relations, self._layouts)
        budget = training.budget(p, flats, relations)
        full: dict[str, np.ndarray] = {}
        self._models, self._texts, per_table = {}, {}, {}
        for i, link in enumerate(relations.tables):
            flat = flats[link.name]
            codecs = build_codecs(
                flat.own,
                flat.contract,
                bins=p["bins"],
                steps=p["steps"],
                exact_up_to=p["exact_up_to"],
            )
            levels = _level_codecs(flat, link, p)
            above = self._models[link.parent] if link.parent else None
            context = full[link.parent][flat.parent_index] if link.parent else _none(len(flat.own))
            model = TableModel(
                codecs,
                [*above.context, *above.own_vocab] if above else [],
                sequential=link.sequential,
                max_position=p["max_position"],
                width=p["width"],
                depth=p["depth"],
                breadth=p["context"],
                levels=levels,
                bounds=self._layouts[link.name].bounds,
            )
            own = model.encode(flat.own)
            full[link.name] = np.concatenate([context, own], axis=1)
            torch.manual_seed(seed + i)
            tokens = model.training_tokens(context, flat.position, own, flat.levels, seed=seed + i)
            tokens = torch.from_numpy(tokens)
            subjects = flat.subjects if link.parent else None
            per_table[link.name] = training.train_table(
                model, tokens, subjects, p, budget, seed=seed + i
            )
            self._models[link.name] = model
            self._fit_texts(link, flat, full[link.name], budget, seed=seed + i)
        self._stats = {"tables": per_table, "fit_seconds": round(time.perf_counter() - started, 3)}
        texts = {name: t.report() for name, t in self._texts.items()}
        if texts:
            self._stats["text"] = texts
        if budget:
            self._stats["differential_privacy"] = training.privacy_total(
                per_table, texts, budget, p["epsilon"]
            )

    def _fit_texts(
        self, link: Any, flat: Any, tokens: np.ndarray, budget: dict[str, float], *, seed: int
    ) -> None:
        """The table's written text columns, each given the row's full tokens (`tokens`); under
        DP each spends its share of `budget`, per subject."""
        if not link.contract.written:
            return
        model = self._models[link.name]
        vocab = [*model.context, *model.own_vocab]  # each column of `tokens`
        self._texts[link.name] = TableTexts.fit(
            flat.texts, tokens, vocab, link.contract, self.params, seed=seed, budget=budget,
            subjects=flat.subjects if link.parent else None,
        )  # fmt: skip

    # -- sampling -------------------------------------------------------------------------------

    def sample(
        self, subjects: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> dict[str, pd.DataFrame]:
        """`subjects` root rows and every row under them, table by table; `conditions` fix
        root columns exactly."""
        import torch

        assert self._models, "fit first"
        names = list(self._layouts)
        root = self._layouts[names[0]]
        fixed = self._fixed(conditions or {})
        full: dict[str, np.ndarray] = {}
        values: dict[str, dict[str, Any]] = {}
        links: dict[str, np.ndarray] = {}
        for i, name in enumerate(names):
            layout, model = self._layouts[name], self._models[name]
            if layout.parent is None:
                parent_index = np.zeros(subjects, dtype=np.int64)
                context = _none(subjects)
            else:
                counts = _counts(values[layout.parent][COUNT(name)])
                parent_index = np.repeat(np.arange(len(counts)), counts)
                context = full[layout.parent][parent_index]
            position = positions(parent_index) if layout.sequential else parent_index * 0
            generator = torch.Generator().manual_seed(_seed(seed, i))
            rng = np.random.default_rng(_seed(seed, i))
            own, changed = model.sample(
                context,
                position,
                generator=generator,
                rng=rng,
                temperature=self.params["temperature"],
                fixed=fixed if name == root.name else None,
            )
            full[name] = np.concatenate([context, own], axis=1)
            values[name] = {**model.decode(own, rng), **changed}
            if name in self._texts:  # each text given its row: the parent's tokens and its own
                values[name].update(self._texts[name].sample(full[name], seed=_seed(seed, i)))
            links[name] = parent_index
            if name == root.name:
                for column, value in (conditions or {}).items():
                    values[name][column] = np.full(subjects, value, dtype=object)  # exact
        return {name: self._table(name, values, links, positions(links[name])) for name in names}

    def _fixed(self, conditions: Mapping[str, Any]) -> dict[int, int]:
        root = self._models[next(iter(self._layouts))]
        layout = self._layouts[next(iter(self._layouts))]
        modelled = {n for n, _, kind in layout.columns if kind == "modelled"}
        for column in conditions:
            if column not in modelled:
                raise SpecError(
                    f"sample.conditions: column {column!r} is not a modelled column of the "
                    f"root table {layout.name!r}"
                )
        return condition_tokens(root.codecs, conditions)

    def _table(
        self,
        name: str,
        values: dict[str, dict[str, Any]],
        links: dict[str, np.ndarray],
        position: np.ndarray,
    ) -> pd.DataFrame:
        """One finished table: contract columns in contract order, keys generated."""
        from synth.sampling import conform

        layout = self._layouts[name]
        parent_index, own = links[name], values[name]
        rows = len(parent_index)
        out: dict[str, Any] = {}
        for column, _, kind in layout.columns:
            if column == layout.foreign_key and layout.parent is not None:
                out[column] = _keys(self._layouts[layout.parent], len(links[layout.parent]))
                out[column] = out[column][parent_index]
            elif column == layout.primary_key:
                out[column] = _keys(layout, rows)
            elif kind == "modelled" and column == layout.order_by:
                out[column] = _order(own[START], own[GAP], position, layout)
            elif kind == "modelled" and column in layout.moved:
                out[column] = values[layout.parent][CONST(name, column)][parent_index]
            elif kind == "modelled" or (kind == "written" and column in own):
                out[column] = own[column]
            else:
                out[column] = np.full(rows, None, dtype=object)
        return conform(pd.DataFrame(out, index=range(rows)), _Columns(layout))

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path) -> str:
        import torch

        assert self._models, "fit first"
        config = {
            "layouts": [layout.to_json() for layout in self._layouts.values()],
            "models": [self._models[name].to_json() for name in self._layouts],
            "texts": {
                name: self._texts[name].save(directory, i)
                for i, name in enumerate(self._layouts)
                if name in self._texts
            },
        }
        for i, name in enumerate(self._layouts):
            net = self._models[name].net
            if net is not None:
                state = {k: v.cpu() for k, v in net.state_dict().items()}
                torch.save(state, directory / f"weights-{i}.pt")
        (directory / CONFIG).write_text(json.dumps(config, default=str))
        return write_manifest(directory, engine=self.name, info=self.info())

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> LinkedEngine:
        import torch

        files = read_model(directory, engine=cls.name, manifest_sha256=manifest_sha256)
        info = files.info
        if not info.get("linked"):
            raise SpecError(f"{directory}: not a linked-tables model")
        engine = cls(**info["params"])
        config = json.loads(files[CONFIG])
        for i, (raw, model) in enumerate(zip(config["layouts"], config["models"], strict=True)):
            layout = Layout(**raw)
            weights = files.contents.get(f"weights-{i}.pt")
            state = torch.load(io.BytesIO(weights), weights_only=True) if weights else None
            engine._layouts[layout.name] = layout
            engine._models[layout.name] = TableModel.from_json(model, state)
            texts = config.get("texts", {}).get(layout.name)
            if texts:
                engine._texts[layout.name] = TableTexts.load(texts, files.contents, i)
        engine._stats = {k: v for k, v in info.items() if k not in ("engine", "params", "linked")}
        return engine

    def info(self) -> dict[str, Any]:
        return {"engine": self.name, "linked": True, "params": dict(self.params), **self._stats}


class _Columns:
    """A layout's columns as `conform` reads a contract (names and physical types)."""

    def __init__(self, layout: Layout) -> None:
        self.columns = [_Column(n, physical) for n, physical, _ in layout.columns]


class _Column:
    def __init__(self, name: str, physical: str) -> None:
        self.name, self.physical = name, physical


def _none(rows: int) -> np.ndarray:
    return np.zeros((rows, 0), dtype=np.int64)


def _seed(seed: int, table: int) -> int:
    return int(np.random.SeedSequence([seed, table]).generate_state(1)[0])


def _counts(values: Any) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").fillna(0).to_numpy()
    return np.clip(np.round(numbers), 0, None).astype(np.int64)


def _keys(layout: Layout, rows: int) -> np.ndarray:
    physical = next((p for n, p, _ in layout.columns if n == layout.primary_key), "string")
    if physical in ("int64", "float64"):
        return np.arange(rows, dtype=np.int64)
    return np.array([f"{layout.name}-{i}" for i in range(rows)], dtype=object)


def _order(start: Any, gap: Any, position: np.ndarray, layout: Layout) -> Any:
    """Event times: the first event's start, then each previous time plus its gap (>= 0),
    clipped to the training range (a late start plus many gaps would pass it, where the
    expectations' range check would fail the run)."""
    start = pd.to_numeric(pd.Series(start), errors="coerce").to_numpy(dtype="float64")
    gap = pd.to_numeric(pd.Series(gap), errors="coerce").to_numpy(dtype="float64")
    first = position == 0
    fallback = np.nanmedian(start[first]) if np.isfinite(start[first]).any() else 0.0
    step = np.where(first, np.where(np.isnan(start), fallback, start), np.nan_to_num(gap))
    step = np.where(first, step, np.clip(step, 0, None))
    group = np.cumsum(first) - 1
    totals = pd.Series(step).groupby(group).cumsum().to_numpy() if len(step) else step
    if layout.order_range:  # within the training range; clipping keeps each sequence's order
        totals = np.clip(totals, *layout.order_range)
    return order_values(totals, layout)


def _level_codecs(flat: Any, link: Any, p: dict[str, Any]) -> list[Any]:
    """Codecs over every value of an event table's change columns: the previous-value context."""
    if flat.levels is None:
        return []
    columns = tuple(link.contract[name] for name in flat.levels.columns)
    contract = Contract(source=link.name, rows=len(flat.levels), columns=columns)
    return build_codecs(
        flat.levels, contract, bins=p["bins"], steps=p["steps"], exact_up_to=p["exact_up_to"]
    )
