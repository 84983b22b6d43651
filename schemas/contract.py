"""The Contract: the declared schema joined with what the real data shows.

It is built once from the source (synth.io.contract) and read by every later step: the engines learn
which columns to model, the writer derives the Arrow schema, the checks derive expectations. It holds
category domains in memory for those checks; `summary()` is what may leave the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.spec import ColumnSpec, ColumnType, PiiKind, Role, TableConstraint

Physical = Literal["int64", "float64", "bool", "string", "timestamp"]


@dataclass(frozen=True)
class ColumnContract:
    name: str
    spec: ColumnSpec
    physical: Physical
    null_share: float
    categories: tuple[Any, ...] | None = None  # real domain; in memory only, never reported
    minimum: float | None = None
    maximum: float | None = None
    pii_kind: PiiKind | None = None  # declared or detected, for pii and free-text columns
    written: bool = False  # free text the engine's language model writes (JobSpec.written_text)

    @property
    def type(self) -> ColumnType:
        return self.spec.type

    @property
    def roles(self) -> frozenset[Role]:
        return self.spec.roles

    @property
    def is_modelled(self) -> bool:
        """Whether an engine sees this column; identifiers and free text never do."""
        return not (
            self.roles & {Role.pii, Role.key} or self.type in (ColumnType.id, ColumnType.text)
        )

    @property
    def is_generated_key(self) -> bool:
        return Role.key in self.roles or self.type is ColumnType.id

    @property
    def is_written(self) -> bool:
        return self.written and not self.is_modelled

    @property
    def is_faked(self) -> bool:
        return not self.is_modelled and not self.is_generated_key and not self.is_written


@dataclass(frozen=True)
class Contract:
    source: str  # a label for messages: file name or "sql query"
    rows: int
    columns: tuple[ColumnContract, ...]
    fingerprint: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    constraints: tuple[TableConstraint, ...] = ()
    # per fixed_combinations constraint (by index), the real combinations as joined keys; in memory only
    combinations: dict[int, frozenset[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnContract:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def modelled(self) -> list[ColumnContract]:
        return [c for c in self.columns if c.is_modelled]

    @property
    def written(self) -> list[ColumnContract]:
        """Free-text columns a language model writes given the modelled ones."""
        return [c for c in self.columns if c.is_written]

    def with_role(self, role: Role) -> list[str]:
        """Names of the modelled columns that have `role`."""
        return [c.name for c in self.modelled if role in c.roles]

    def summary(self) -> list[dict[str, Any]]:
        """Aggregates only: types, roles, null shares and domain sizes; no values."""
        return [
            {
                "column": c.name,
                "type": c.type.value,
                "roles": sorted(r.value for r in c.roles),
                "physical": c.physical,
                "null_share": round(c.null_share, 4),
                "categories": None if c.categories is None else len(c.categories),
                "modelled": c.is_modelled,
                **({"written": True} if c.is_written else {}),
            }
            for c in self.columns
        ]


def combination_keys(frame: Any, columns: list[str]) -> Any:
    """One text key per row for a fixed-combinations check (nulls read as '<NA>')."""
    keys = frame[columns[0]].astype("string").fillna("<NA>")
    for name in columns[1:]:
        keys = keys + "\x1f" + frame[name].astype("string").fillna("<NA>")
    return keys
