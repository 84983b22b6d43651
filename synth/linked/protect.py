"""Value protection for linked tables, counted by parent where a value belongs to the parent.

A table job replaces values held by fewer than `min_count` training rows. Under a parent that is
not enough twice over: a child column that never changes within a parent (a person's sex in a
wage panel, a pig's diet) holds one value per parent repeated on every row, so a value one person
holds over seven years counts seven and is kept, though it names one person; and replacing rare
values row by row would give one person two sexes, so the column would no longer be constant
and the engine would model it row by row. Such columns are protected on one row per parent
(counting parents) and the protected value is given back to every row of that parent. Every
other column is protected as in a table job. The report's per-column counts for the columns
protected per parent count parents; its `rows_changed` counts rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from schemas.contract import Contract
from schemas.relations import Relations, TableLink
from synth.tabular.protection import Protection, protect_values

__all__ = ["constant_within_parents", "protect_tables"]


def protect_tables(
    train: dict[str, pd.DataFrame],
    relations: Relations,
    *,
    min_count: int,
    seed: int,
    enabled: bool,
) -> dict[str, Protection]:
    """Each table's protected training rows (see the module)."""
    done: dict[str, Protection] = {}
    for i, link in enumerate(relations.tables):
        frame = train[link.name]
        constant = constant_within_parents(frame, link) if enabled else []
        rows = protect_values(
            frame.drop(columns=constant),
            _without(link, constant),
            min_count=min_count,
            seed=seed + i,
            enabled=enabled,
        )
        if not constant:
            done[link.name] = rows
            continue
        parents = frame.drop_duplicates(link.foreign_key)
        per_parent = protect_values(
            parents[constant].reset_index(drop=True),
            _only(link, constant),
            min_count=min_count,
            seed=seed + i + 7919,
            enabled=True,
        )
        values = per_parent.train.set_axis(parents[link.foreign_key].to_numpy())
        protected = rows.train.copy()
        for column in constant:
            protected[column] = values[column].reindex(frame[link.foreign_key]).to_numpy()
        protected = protected[list(frame.columns)]
        done[link.name] = dataclasses.replace(
            rows,
            train=protected,
            rows_changed=_rows_changed(frame, protected),
            counts={**rows.counts, **per_parent.counts},
            rare={**rows.rare, **per_parent.rare},
        )
    return done


def _rows_changed(before: pd.DataFrame, after: pd.DataFrame) -> int:
    same = (before == after) | (before.isna() & after.isna())
    return int((~same).any(axis=1).sum())


def constant_within_parents(frame: pd.DataFrame, link: TableLink) -> list[str]:
    """Modelled columns with one value (missing counts as one) under every parent, when some
    parent has two rows or more; fixed combinations count only whole."""
    if link.foreign_key is None or not len(frame):
        return []
    groups = frame.groupby(frame[link.foreign_key].astype(str), sort=False)
    if groups.size().max() < 2:
        return []
    names = [c.name for c in link.contract.modelled if c.name != link.order_by]
    constant = {n for n in names if (groups[n].nunique(dropna=False) <= 1).all()}
    for rule in link.contract.constraints:
        if rule.kind == "fixed_combinations" and not set(rule.columns) <= constant:
            constant -= set(rule.columns)
    return [n for n in names if n in constant]


def _without(link: TableLink, columns: list[str]) -> Contract:
    """The table's contract less `columns` and the fixed combinations among them."""
    return _keep(link.contract, lambda name: name not in columns)


def _only(link: TableLink, columns: list[str]) -> Contract:
    """The table's contract with only `columns` and the fixed combinations among them."""
    return _keep(link.contract, lambda name: name in columns)


def _keep(contract: Contract, keep: Callable[[str], bool]) -> Contract:
    # a fixed combination is constant whole or not at all (constant_within_parents), so each
    # lies wholly on one side; protection reads no other kind of constraint
    rules = tuple(
        r
        for r in contract.constraints
        if r.kind == "fixed_combinations" and all(keep(c) for c in r.columns)
    )
    kept = tuple(c for c in contract.columns if keep(c.name))
    return dataclasses.replace(contract, columns=kept, constraints=rules, combinations={})
