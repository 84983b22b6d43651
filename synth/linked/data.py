"""A linked job's tables, read, typed, key-checked and split by subject.

Every problem is one line naming the table and column, never a value: a primary key that repeats
or is missing, a foreign key whose values are not of the parent key's kind, child rows whose
foreign key names no parent row (orphans: refused, or dropped and counted with `orphans: drop`).
The split keeps subjects whole: a root row goes to the holdout with every row under it, in every
table, so no check meets a subject it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.dataset import ColumnSpec, ColumnType, DatasetSchema, Role
from schemas.errors import DataError
from schemas.linked_spec import LinkedJobSpec, LinkedTable
from schemas.relations import Relations, TableLink
from synth.io import build_contract, read_source, source_fingerprint, split_holdout
from synth.io.readers import source_label, tables_fingerprint
from synth.linked.keys import is_number, key_values

__all__ = ["LinkedData", "LinkedSource", "link", "read_linked", "split_subjects"]


@dataclass(frozen=True)
class LinkedSource:
    frames: dict[str, pd.DataFrame]  # as read, by table name
    fingerprints: dict[str, str]

    @property
    def fingerprint(self) -> str:
        """One hash of every table's content hash."""
        return tables_fingerprint(self.fingerprints)


@dataclass(frozen=True)
class LinkedData:
    relations: Relations
    tables: dict[str, pd.DataFrame]  # typed by their contracts; a virtual root included
    orphans: dict[str, int] = field(default_factory=dict)  # rows dropped per table

    @property
    def subjects(self) -> int:
        return len(self.tables[self.relations.root.name])


def read_linked(spec: LinkedJobSpec) -> LinkedSource:
    frames, prints = {}, {}
    for table in spec.tables:
        frame = read_source(table.source)
        frames[table.name] = frame
        prints[table.name] = source_fingerprint(table.source, frame)
    return LinkedSource(frames, prints)


def link(source: LinkedSource, spec: LinkedJobSpec) -> LinkedData:
    """Type every table by its schema (key columns as keys), check the keys, drop or refuse
    orphans, and hang the tables in one tree (a panel under a virtual root of its subjects)."""
    links: list[TableLink] = []
    tables: dict[str, pd.DataFrame] = {}
    orphans: dict[str, int] = {}
    written = spec.written_text()
    for table in spec.tables:
        label = f"tables.{table.name} ({source_label(table.source)})"
        if table.primary_key is not None and table.primary_key in source.frames[table.name]:
            _require_unique(
                source.frames[table.name][table.primary_key], f"tables.{table.name}.primary_key"
            )
        contract, typed = build_contract(
            source.frames[table.name],
            _keys_as_keys(table),
            label=label,
            fingerprint=source.fingerprints[table.name],
            written=written[table.name],
        )
        parent = table.parent
        if table.subject is not None:
            root, frame = _subjects_root(table, typed, label)
            links.append(root)
            tables[root.name] = frame
            parent = root.name
        if parent is not None:
            typed, dropped = _orphans(table, typed, tables[parent], links, parent)
            if dropped:
                orphans[table.name] = dropped
        links.append(
            TableLink(
                name=table.name,
                contract=contract,
                primary_key=table.primary_key,
                parent=parent,
                foreign_key=table.link_column if parent is not None else None,
                order_by=table.order_by,
            )
        )
        tables[table.name] = typed.reset_index(drop=True)
    return LinkedData(Relations(tuple(links)), tables, orphans)


def split_subjects(
    data: LinkedData, *, share: float, seed: int
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(train, holdout): the root's rows split by a seeded shuffle, every other table's rows
    following their parent's side."""
    relations = data.relations
    root = relations.root
    train_root, holdout_root = split_holdout(data.tables[root.name], share=share, seed=seed)
    train, holdout = {root.name: train_root}, {root.name: holdout_root}
    for table in relations.tables[1:]:
        frame = data.tables[table.name]
        parent = relations[table.parent]
        keys = key_values(train[parent.name][parent.primary_key])
        mine = np.isin(key_values(frame[table.foreign_key]), keys)
        train[table.name] = frame[mine].reset_index(drop=True)
        holdout[table.name] = frame[~mine].reset_index(drop=True)
    return train, holdout


def _keys_as_keys(table: LinkedTable) -> DatasetSchema:
    """The table's schema with its key columns never modelled, always regenerated: the primary
    key in role `key` (unique, never missing), a foreign key or subject column as an `id`
    (repeated: a parent's children share it)."""
    columns: dict[str, ColumnSpec] = dict(table.dataset.columns)
    if table.primary_key is not None:
        spec = columns[table.primary_key]
        roles = [*(spec.roles - {Role.key}), Role.key]
        columns[table.primary_key] = spec.model_copy(update={"role": sorted(roles)})
    if table.link_column is not None and table.link_column != table.primary_key:
        spec = columns[table.link_column]
        roles = sorted(spec.roles - {Role.key})
        columns[table.link_column] = spec.model_copy(
            update={"type": ColumnType.id, "role": roles or None}
        )
    return table.dataset.model_copy(update={"columns": columns})


def _require_unique(keys: pd.Series, where: str) -> None:
    missing = int(keys.isna().sum())
    if missing:
        raise DataError(f"{where}: column {keys.name!r} is missing in {missing} rows")
    repeated = int(keys.duplicated().sum())
    if repeated:
        raise DataError(f"{where}: column {keys.name!r} repeats a value in {repeated} rows")


def _orphans(
    table: LinkedTable,
    typed: pd.DataFrame,
    parent_frame: pd.DataFrame,
    links: list[TableLink],
    parent: str,
) -> tuple[pd.DataFrame, int]:
    parent_link = next(t for t in links if t.name == parent)
    column, where = table.link_column, f"tables.{table.name}.foreign_keys"
    assert column is not None and parent_link.primary_key is not None
    child_keys, parent_keys = typed[column], parent_frame[parent_link.primary_key]
    if is_number(child_keys) != is_number(parent_keys):
        raise DataError(
            f"{where}: column {column!r} and {parent}.{parent_link.primary_key} hold different "
            "kinds of value (numbers and text)"
        )
    known = np.isin(key_values(child_keys), key_values(parent_keys)) & child_keys.notna().to_numpy()
    dropped = int((~known).sum())
    if dropped and table.orphans == "error":
        raise DataError(
            f"{where}: {dropped} rows name no {parent!r} row in column {column!r} (orphans; "
            "set orphans: drop to drop and count them)"
        )
    return typed[known], dropped


def _subjects_root(
    table: LinkedTable, typed: pd.DataFrame, label: str
) -> tuple[TableLink, pd.DataFrame]:
    """A panel's subjects as a virtual root table: one row per subject, its key only."""
    column = table.subject
    assert column is not None
    if typed[column].isna().any():
        raise DataError(f"tables.{table.name}.subject: column {column!r} is missing in some rows")
    frame = pd.DataFrame({column: typed[column].drop_duplicates().reset_index(drop=True)})
    spec = table.dataset.columns[column]
    schema = DatasetSchema(columns={column: spec.model_copy(update={"role": [Role.key]})})
    frame = frame.astype({column: typed[column].dtype})
    contract: Contract
    contract, frame = build_contract(frame, schema, label=label)
    name = f"{table.name}_subjects"
    return TableLink(name=name, contract=contract, primary_key=column, virtual=True), frame
