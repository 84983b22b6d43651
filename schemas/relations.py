"""How the tables of a linked job hang together, once their contracts are known.

A linked job is a tree of tables under one root: every table but the root names one parent, and
each of its rows belongs to one parent row through a foreign key. The root's rows are the
subjects (patients, customers, schools): the split, the privacy checks and differential privacy
all count subjects, never rows. A panel that ships as one table (`subject:` instead of a parent)
hangs under a virtual root: one row per subject, its key only, never published.

    relations.root                 # the root's TableLink
    relations.children("people")   # tables whose parent is people, in spec order
    relations.path("visits")       # root ... visits: the tables a visit row hangs under
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.contract import Contract

__all__ = ["Relations", "TableLink"]


@dataclass(frozen=True)
class TableLink:
    """One table of a linked job: its contract and its place in the tree."""

    name: str
    contract: Contract  # typed columns and roles; key columns (primary, foreign) have role key
    primary_key: str | None = None
    parent: str | None = None  # the parent table's name; None for the root
    foreign_key: str | None = None  # this table's column holding the parent's primary key
    order_by: str | None = None  # within one parent, the rows' order (a datetime or a number)
    virtual: bool = False  # a root made from a panel's subject column: its key only, not published

    @property
    def sequential(self) -> bool:
        """Whether the rows under one parent are events in order (else an unordered group)."""
        return self.order_by is not None


@dataclass(frozen=True)
class Relations:
    """The tables, parents before children; `tables[0]` is the root."""

    tables: tuple[TableLink, ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("table names must be unique")
        seen: set[str] = set()
        for i, table in enumerate(self.tables):
            if (table.parent is None) != (i == 0):
                raise ValueError("exactly the first table is the root")
            if table.parent is not None and table.parent not in seen:
                raise ValueError(f"table {table.name!r} comes before its parent {table.parent!r}")
            seen.add(table.name)

    def __getitem__(self, name: str) -> TableLink:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    @property
    def root(self) -> TableLink:
        return self.tables[0]

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]

    @property
    def published(self) -> list[TableLink]:
        """The tables a run writes (all but a virtual root)."""
        return [t for t in self.tables if not t.virtual]

    def children(self, name: str) -> list[TableLink]:
        return [t for t in self.tables if t.parent == name]

    def parent_of(self, name: str) -> TableLink | None:
        parent = self[name].parent
        return None if parent is None else self[parent]

    def path(self, name: str) -> list[TableLink]:
        """The root, ..., `name`."""
        chain = [self[name]]
        while chain[-1].parent is not None:
            chain.append(self[chain[-1].parent])
        return chain[::-1]
