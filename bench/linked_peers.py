"""The methods `bench/linked.py` compares, behind one interface: fit on the training tables, then
sample a number of subjects as a dict of tables keyed like the real ones.

- `ours`: synth.linked.engine.LinkedEngine (the autoregressive engine's sequential mode).
- `hma`: SDV's HMASynthesizer over every table (a Gaussian copula per table, parent rows
  augmented with their children's parameters).
- `par`: SDV's PARSynthesizer on the child table: the parent's columns as context columns, the
  foreign key as sequence key, `order_by` (if any) as sequence index; the parent table is read
  back from the sampled context. Epochs capped (`--par-epochs`).
- `tabularargn`: mostlyai-engine's TabularARGN, a flat model of the parent and a sequential model
  of the child with the parent as context, run by bench/linked_argn_worker.py under `.venv-argn`.

Every peer gets the same training tables, as plain numpy/object columns; keys are whatever it
generates, renumbered only where it returns no key of its own (PAR's parent, ARGN's parents).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas.dataset import ColumnType
from schemas.relations import Relations, TableLink

REPO = Path(__file__).resolve().parents[1]
ARGN_PYTHON = REPO / ".venv-argn" / "bin" / "python"
ARGN_WORKER = REPO / "bench" / "linked_argn_worker.py"
Tables = dict[str, pd.DataFrame]


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Extension dtypes as numpy ones: what a peer's user would hand it."""
    out = {}
    for name in frame.columns:
        values = frame[name]
        kind = str(values.dtype)
        if kind in ("Int64", "Float64"):
            out[name] = values.astype("int64" if values.notna().all() else "float64")
        elif kind == "boolean":
            out[name] = values.astype(bool) if values.notna().all() else values.astype(object)
        elif kind == "string":
            out[name] = values.astype(object).where(values.notna(), None)
        else:
            out[name] = values
    return pd.DataFrame(out, index=frame.index)


def modelled_names(table: TableLink) -> list[str]:
    return [c.name for c in table.contract.modelled]


def _two_levels(relations: Relations) -> tuple[TableLink, TableLink]:
    if len(relations.tables) != 2:
        raise ValueError("PAR and TabularARGN run on one parent and one child table here")
    return relations.tables[0], relations.tables[1]


class Ours:
    name = "ours"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.info: dict[str, Any] = {}

    def fit(self, train: Tables, relations: Relations, *, seed: int) -> None:
        from synth.linked.engine import LinkedEngine

        self.engine = LinkedEngine(**self.params)
        self.engine.fit(train, relations, seed=seed)
        tables = self.engine.info().get("tables", {})
        self.info = {
            "params": self.params,
            "epochs": {n: t.get("epochs") for n, t in tables.items()},
        }

    def sample(self, subjects: int, *, seed: int) -> Tables:
        return self.engine.sample(subjects, seed=seed)


def _sdtype(table: TableLink, name: str) -> dict[str, str]:
    column = table.contract[name]
    if name in (table.primary_key, table.foreign_key) or column.type is ColumnType.id:
        return {"sdtype": "id"}
    return {"sdtype": column.type.value}


class HMA:
    name = "hma"

    def __init__(self) -> None:
        self.info: dict[str, Any] = {"settings": "SDV defaults (Gaussian copula per table)"}

    def fit(self, train: Tables, relations: Relations, *, seed: int) -> None:
        from sdv.metadata import Metadata
        from sdv.multi_table import HMASynthesizer

        tables: dict[str, Any] = {}
        for table in relations.tables:
            columns = {n: _sdtype(table, n) for n in train[table.name].columns}
            tables[table.name] = {"columns": columns}
            if table.primary_key is not None:
                tables[table.name]["primary_key"] = table.primary_key
        links = [
            {
                "parent_table_name": t.parent,
                "parent_primary_key": relations[t.parent].primary_key,
                "child_table_name": t.name,
                "child_foreign_key": t.foreign_key,
            }
            for t in relations.tables[1:]
        ]
        metadata = Metadata.load_from_dict({"tables": tables, "relationships": links})
        self.root = relations.root.name
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = HMASynthesizer(metadata, verbose=False)
            self.model.fit({name: plain(frame) for name, frame in train.items()})

    def sample(self, subjects: int, *, seed: int) -> Tables:
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.sample(num_rows=subjects, main_table_name=self.root)


class PAR:
    name = "par"

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.info: dict[str, Any] = {"epochs": epochs}

    def fit(self, train: Tables, relations: Relations, *, seed: int) -> None:
        import torch
        from sdv.metadata import Metadata
        from sdv.sequential import PARSynthesizer

        parent, child = _two_levels(relations)
        self.parent, self.child = parent, child
        self.context = modelled_names(parent)
        self.events = modelled_names(child)
        joined = plain(train[child.name])[[child.foreign_key, *self.events]].merge(
            plain(train[parent.name])[[parent.primary_key, *self.context]],
            left_on=child.foreign_key,
            right_on=parent.primary_key,
            how="left",
        )
        if parent.primary_key != child.foreign_key:
            joined = joined.drop(columns=[parent.primary_key])
        if child.order_by is not None:
            joined = joined.sort_values([child.foreign_key, child.order_by], kind="stable")
        columns = {child.foreign_key: {"sdtype": "id"}}
        columns |= {n: _sdtype(parent, n) for n in self.context}
        columns |= {n: _sdtype(child, n) for n in self.events}
        table: dict[str, Any] = {"columns": columns, "sequence_key": child.foreign_key}
        if child.order_by is not None:
            table["sequence_index"] = child.order_by
        metadata = Metadata.load_from_dict({"tables": {child.name: table}})
        torch.manual_seed(seed)
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = PARSynthesizer(
                metadata,
                context_columns=self.context,
                epochs=self.epochs,
                cuda=False,
                verbose=False,
            )
            # SDV 2 takes a one-table dict, even here
            self.model.fit({self.child.name: joined.reset_index(drop=True)})

    def sample(self, subjects: int, *, seed: int) -> Tables:
        import torch

        torch.manual_seed(seed)
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = self.model.sample_sequences(num_sequences=subjects)
        if isinstance(rows, dict):
            rows = rows[self.child.name]
        fk, pk = self.child.foreign_key, self.parent.primary_key
        # PAR keys its sequences itself; the parent table is each sequence's context
        parents = rows.groupby(fk, sort=False)[self.context].first().reset_index()
        parents = parents.rename(columns={fk: pk})
        children = rows[[fk, *self.events]].reset_index(drop=True)
        if self.child.primary_key is not None:
            children.insert(0, self.child.primary_key, np.arange(len(children)))
        return {self.parent.name: parents, self.child.name: children}


class TabularARGN:
    name = "tabularargn"

    def __init__(self, max_epochs: float | None, threads: int) -> None:
        self.max_epochs, self.threads = max_epochs, threads
        self.info: dict[str, Any] = {"max_epochs": max_epochs}

    def fit(self, train: Tables, relations: Relations, *, seed: int) -> None:
        # ARGN fits and samples in one worker run; fit() only stages the job, sample() runs it
        self.train, self.relations, self.seed = train, relations, seed

    def sample(self, subjects: int, *, seed: int) -> Tables:
        parent, child = _two_levels(self.relations)
        with tempfile.TemporaryDirectory(prefix="linked-argn-") as tmp:
            directory = Path(tmp)
            events = plain(self.train[child.name])
            if child.order_by is not None:
                events = events.sort_values([child.foreign_key, child.order_by], kind="stable")
            plain(self.train[parent.name]).to_parquet(directory / "parent.parquet")
            events.reset_index(drop=True).to_parquet(directory / "child.parquet")
            job = {
                "parent_key": parent.primary_key,
                "child_key": child.foreign_key,
                "child_primary_key": child.primary_key,
                "subjects": subjects,
                "seed": seed,
                "max_epochs": self.max_epochs,
                "threads": self.threads,
            }
            (directory / "job.json").write_text(json.dumps(job))
            started = time.perf_counter()
            done = subprocess.run(
                [str(ARGN_PYTHON), str(ARGN_WORKER), "--dir", str(directory)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"ARGN worker failed:\n{done.stderr[-3000:]}")
            self.wall_seconds = time.perf_counter() - started
            line = [x for x in done.stdout.splitlines() if x.startswith("ARGN-RESULT ")][-1]
            self.info |= json.loads(line.removeprefix("ARGN-RESULT "))
            return {
                parent.name: pd.read_parquet(directory / "synthetic_parent.parquet"),
                child.name: pd.read_parquet(directory / "synthetic_child.parquet"),
            }
