"""The linked job spec: several tables under one subject (patients and their encounters,
customers, accounts and transactions, schools and students), generated together.

    kind: linked
    name: wages
    tables:
      - name: people
        source: {path: data/people.parquet}
        schema: {columns: {id: {type: id}, ed: {type: numerical}, sex: {type: categorical}}}
        primary_key: id
      - name: years
        source: {path: data/years.parquet}
        schema: {columns: {id: {type: id}, year: {type: numerical}, lwage: {type: numerical}}}
        foreign_keys: [{column: id, parent: people}]
        order_by: year

A panel that ships as one table names its `subject` column instead of a parent. Every table but
the first hangs under one parent; the first table (or a panel's subjects) is the root, whose rows
are the subjects the split, the privacy checks and differential privacy count.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt, model_validator

from schemas.base import EngineParams, OutputBase, SpecBase, SplitBase, _Strict
from schemas.checks import ExpectationChecks, QualityChecks, ReportSpec, TextChecks
from schemas.dataset import ColumnType, DatasetSchema, Role, Scalar
from schemas.sources import SourceSpec
from schemas.spec import DifferentialPrivacy, ValueProtection
from schemas.text import modelled_text_problem, written_text

__all__ = [
    "ForeignKey",
    "LinkedChecks",
    "LinkedJobSpec",
    "LinkedModel",
    "LinkedPrivacyChecks",
    "LinkedSample",
    "LinkedTable",
    "SequenceChecks",
]

_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class ForeignKey(_Strict):
    column: str = Field(description="This table's column holding the parent's key.")
    parent: str = Field(description="The parent table's name.")
    parent_column: str | None = Field(
        default=None, description="The parent's column it refers to; default its primary_key."
    )


class LinkedTable(_Strict):
    """One table: its source and schema as in a table job, and its place among the others."""

    name: str = Field(pattern=_NAME)
    source: SourceSpec
    dataset: DatasetSchema = Field(alias="schema")
    primary_key: str | None = Field(default=None, description="A column unique per row.")
    foreign_keys: list[ForeignKey] = Field(
        default_factory=list, max_length=1, description="The parent this table's rows belong to."
    )
    subject: str | None = Field(
        default=None,
        description="A panel in one table: the column naming whose row it is (instead of a "
        "parent table); every subject's rows are generated together.",
    )
    order_by: str | None = Field(
        default=None,
        description="The order of a parent's rows (a datetime or a number): they are events, "
        "generated in order with the time between them.",
    )
    orphans: Literal["error", "drop"] = Field(
        default="error",
        description="A row whose foreign key names no parent row: refused, or dropped and counted.",
    )

    @property
    def parent(self) -> str | None:
        return self.foreign_keys[0].parent if self.foreign_keys else None

    @property
    def link_column(self) -> str | None:
        """The column that says which subject or parent row a row belongs to."""
        return self.foreign_keys[0].column if self.foreign_keys else self.subject

    def key_columns(self) -> list[str]:
        named = [self.primary_key, self.link_column]
        return [c for c in dict.fromkeys(named) if c is not None]

    @model_validator(mode="after")
    def _columns_are_declared(self) -> LinkedTable:
        where = f"tables.{self.name}"
        if self.foreign_keys and self.subject is not None:
            raise ValueError(f"{where}: give a parent (foreign_keys) or a subject, not both")
        for field, column in (
            ("primary_key", self.primary_key),
            ("foreign_keys.column", self.link_column if self.foreign_keys else None),
            ("subject", self.subject),
            ("order_by", self.order_by),
        ):
            if column is not None and column not in self.dataset.columns:
                raise ValueError(f"{where}.{field}: column {column!r} is not declared in schema")
        for column in self.key_columns():
            spec = self.dataset.columns[column]
            if spec.type not in (ColumnType.id, ColumnType.numerical, ColumnType.categorical):
                raise ValueError(
                    f"{where}: key column {column!r} must be id, numerical or categorical"
                )
        if self.order_by is not None:
            spec = self.dataset.columns[self.order_by]
            if spec.type not in (ColumnType.datetime, ColumnType.numerical):
                raise ValueError(
                    f"{where}.order_by: column {self.order_by!r} must be datetime or numerical"
                )
            if self.order_by in self.key_columns() or spec.roles & {Role.pii, Role.key}:
                raise ValueError(
                    f"{where}.order_by: column {self.order_by!r} is a key, not modelled"
                )
            if self.link_column is None:
                raise ValueError(
                    f"{where}.order_by: events need a parent (foreign_keys) or a subject"
                )
        return self


class LinkedModel(_Strict):
    engine: Literal["autoregressive"] = Field(
        default="autoregressive",
        description="Our autoregressive engine in its sequential mode: each parent row, then its "
        "children conditioned on it (and on the events before them), lengths included.",
    )
    params: EngineParams = Field(default_factory=dict)
    cache: bool = True
    differential_privacy: DifferentialPrivacy | None = Field(
        default=None,
        description="Per subject (user-level): a subject's whole history, in every table, is "
        "what the (epsilon, delta) guarantee protects.",
    )
    value_protection: ValueProtection = ValueProtection()

    def engine_params(self) -> dict[str, Any]:
        dp = self.differential_privacy
        return {**self.params, **(dp.model_dump() if dp else {})}


class LinkedSample(_Strict):
    subjects: PositiveInt | None = Field(
        default=None, description="Subjects (root rows) to generate; default as many as the real."
    )
    seed: int = 0
    conditions: dict[str, Scalar] = Field(
        default_factory=dict,
        description="Exact values of the root table's modelled columns every subject takes.",
    )


class SequenceChecks(_Strict):
    """Fidelity across tables, each judged against unseen real subjects (the holdout)."""

    enabled: bool = True
    max_length_distance: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Children per parent: total variation distance from the real distribution.",
    )
    max_gap_distance: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Time between consecutive events: Kolmogorov-Smirnov distance.",
    )
    min_consistency: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        description="Share of synthetic parents keeping constant the columns every real parent "
        "keeps constant across its children.",
    )
    min_transition_similarity: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Consecutive events' category pairs: 1 - total variation distance.",
    )
    min_pair_similarity: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Child-parent column pairs: mean SDMetrics pair similarity.",
    )
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)


class LinkedPrivacyChecks(_Strict):
    """Privacy per subject: whole histories (the root row and every row under it) compared."""

    enabled: bool = True
    subjects: PositiveInt = Field(default=2_000, description="Subjects sampled per side.")
    max_dcr_share: float = Field(
        default=0.55,
        ge=0.0,
        le=1.0,
        description="Share of synthetic subjects whose history is closer to a training subject's "
        "than to any holdout subject's (0.5 honest).",
    )
    max_copy_excess: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Share of synthetic histories identical to a training subject's, beyond the "
        "holdout's own share.",
    )
    max_copied_subjects: int | None = Field(
        default=0,
        ge=0,
        description="Synthetic histories identical to a training subject's (of two events or "
        "more) when more common than among holdout subjects; null turns the rule off.",
    )
    max_attack_auc: float = Field(
        default=0.60, ge=0.5, le=1.0, description="Membership attack by subject, ROC AUC."
    )
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)


class LinkedChecks(_Strict):
    expectations: ExpectationChecks = ExpectationChecks()
    quality: QualityChecks = QualityChecks()
    sequences: SequenceChecks = SequenceChecks()
    privacy: LinkedPrivacyChecks = LinkedPrivacyChecks()
    text: TextChecks = TextChecks()  # each table's written text columns


class LinkedJobSpec(SpecBase):
    """Linked tables or event sequences, generated subject by subject."""

    kind: Literal["linked"] = Field(description="What the job synthesises.")
    engines: ClassVar[tuple[str, ...]] = ("autoregressive",)
    default_engine: ClassVar[str] = "autoregressive"
    rows_field: ClassVar[str] = "sample.subjects"  # `--rows` counts subjects
    tables: list[LinkedTable] = Field(min_length=1)
    split: SplitBase = SplitBase()
    model: LinkedModel = LinkedModel()
    sample: LinkedSample = LinkedSample()
    checks: LinkedChecks = LinkedChecks()
    report: ReportSpec = ReportSpec()
    output: OutputBase = OutputBase()

    def table(self, name: str) -> LinkedTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def written_text(self) -> dict[str, frozenset[str]]:
        """Per table, the free-text columns a language model writes (schemas/text.py)."""
        return {t.name: written_text(t.dataset, self.model) for t in self.tables}

    def _meaning(self) -> dict[str, Any]:
        """As every spec's, plus the tables' free-text columns a language model writes, so a
        spec without them hashes as before and one whose text is now modelled gets a new model."""
        written = {name: sorted(cols) for name, cols in self.written_text().items() if cols}
        return {**super()._meaning(), **({"written_text": written} if written else {})}

    @model_validator(mode="after")
    def _modelled_text_needs_no_dp(self) -> LinkedJobSpec:
        for table in self.tables:
            problem = modelled_text_problem(table.dataset, self.model)
            if problem is not None:
                raise ValueError(f"tables.{table.name}: {problem}")
        return self

    @model_validator(mode="after")
    def _one_tree(self) -> LinkedJobSpec:
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise ValueError("tables: a table name is given twice")
        root = self.tables[0]
        if root.foreign_keys:
            raise ValueError(f"tables.{root.name}: the first table is the root; it has no parent")
        if root.subject is None and root.primary_key is None and len(self.tables) > 1:
            raise ValueError(f"tables.{root.name}.primary_key: a parent table needs one")
        for i, table in enumerate(self.tables[1:], 1):
            where = f"tables.{table.name}"
            if not table.foreign_keys:
                raise ValueError(
                    f"{where}.foreign_keys: every table after the first names its parent"
                )
            key = table.foreign_keys[0]
            if key.parent not in names[:i]:
                raise ValueError(
                    f"{where}.foreign_keys.parent: {key.parent!r} is not a table listed before it"
                )
            parent = self.tables[names.index(key.parent)]
            if parent.subject is not None:
                raise ValueError(
                    f"{where}.foreign_keys.parent: {key.parent!r} is a panel (subject)"
                )
            wanted = key.parent_column or parent.primary_key
            if wanted is None or wanted != parent.primary_key:
                raise ValueError(
                    f"{where}.foreign_keys.parent_column: must be {key.parent!r}'s primary_key"
                )
        if self.tables[0].subject is not None and len(self.tables) > 1:
            raise ValueError(f"tables.{root.name}.subject: a panel is a job's only table")
        for column in self.sample.conditions:
            spec = root.dataset.columns.get(column)
            if spec is None or column in root.key_columns() or spec.roles & {Role.pii, Role.key}:
                raise ValueError(
                    f"sample.conditions: {column!r} is not a modelled column of {root.name!r}"
                )
        return self
