"""What a table holds: column types and roles, per-column and cross-column constraints.

The declared schema is half of the contract (schemas/contract.py); the data supplies the rest.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import _Strict

__all__ = [
    "ColumnConstraints",
    "ColumnSpec",
    "ColumnType",
    "DatasetSchema",
    "FixedCombinations",
    "Inequality",
    "PiiKind",
    "Role",
    "Scalar",
    "TableConstraint",
]

Scalar = str | int | float | bool


class ColumnType(StrEnum):
    numerical = "numerical"
    categorical = "categorical"
    boolean = "boolean"
    datetime = "datetime"
    id = "id"
    text = "text"


class Role(StrEnum):
    pii = "pii"
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"
    target = "target"
    key = "key"


class PiiKind(StrEnum):
    name = "name"
    first_name = "first_name"
    last_name = "last_name"
    email = "email"
    phone = "phone"
    ssn = "ssn"
    address = "address"
    city = "city"
    postcode = "postcode"
    iban = "iban"
    credit_card = "credit_card"
    ip = "ip"
    username = "username"
    text = "text"


class ColumnConstraints(_Strict):
    """Per-column constraints the real data must meet and the synthetic data is checked against."""

    min: float | None = None
    max: float | None = None
    values: list[Scalar] | None = Field(default=None, description="Allowed values (categorical).")
    unique: bool = False
    nullable: bool = True


def _meets(constraints: ColumnConstraints, value: Scalar) -> bool:
    if constraints.values is not None and str(value) not in {str(v) for v in constraints.values}:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if constraints.min is not None and value < constraints.min:
            return False
        if constraints.max is not None and value > constraints.max:
            return False
    return True


class ColumnSpec(_Strict):
    type: ColumnType
    role: Role | list[Role] | None = None
    pii_kind: PiiKind | None = Field(
        default=None, description="What fakes replace a pii column; detected when omitted."
    )
    datetime_format: str | None = Field(default=None, description="strftime format to parse.")
    constraints: ColumnConstraints = ColumnConstraints()
    generate: Literal["auto", "model", "fake"] = Field(
        default="auto",
        description="A free-text column that is not pii: `model` writes it with a language model "
        "trained on this column given the row (the autoregressive engine, without differential "
        "privacy), `fake` fills it with Faker text, `auto` (default) models it where it can.",
    )
    max_length: int = Field(
        default=128,
        ge=4,
        le=2048,
        description="A modelled text's length cap, in tokens (words and punctuation marks); "
        "longer texts are cut for training, and counted.",
    )
    temperature: float = Field(
        default=1.0,
        gt=0.0,
        le=5.0,
        description="A modelled text's sampling temperature (below 1: safer words, less variety, "
        "and a detector tells them apart sooner).",
    )
    top_p: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description="A modelled text's nucleus: each token is drawn from the most likely ones "
        "that hold this share of the probability.",
    )
    bands: list[float | str] | None = Field(
        default=None,
        min_length=1,
        description="Increasing edges that cut a numerical or datetime column into bands "
        "('< e1', '[e1, e2)', ..., '>= en'): its groups in the bias check, rebalance and parity. "
        "Default: a few bands near its quantiles, each with at least bias.min_count rows.",
    )

    @property
    def roles(self) -> frozenset[Role]:
        if self.role is None:
            return frozenset()
        return frozenset([self.role] if isinstance(self.role, Role) else self.role)

    @model_validator(mode="after")
    def _pii_kind_needs_pii_role(self) -> ColumnSpec:
        if self.pii_kind is not None and Role.pii not in self.roles:
            raise ValueError("pii_kind is only allowed on a column with role pii")
        return self

    @model_validator(mode="after")
    def _text_settings_on_free_text(self) -> ColumnSpec:
        text_fields = [
            name
            for name in ("generate", "max_length", "temperature", "top_p")
            if getattr(self, name) != type(self).model_fields[name].default
        ]
        if text_fields and self.type is not ColumnType.text:
            raise ValueError(f"{sorted(text_fields)[0]}: only a text column is generated as text")
        if self.generate == "model" and self.roles & {Role.pii, Role.key}:
            raise ValueError("generate: model: a pii column is never modelled (its fakes are new)")
        return self

    @property
    def writes_text(self) -> bool:
        """Free text a language model may write (not `fake`, not an identifier)."""
        return (
            self.type is ColumnType.text
            and not self.roles & {Role.pii, Role.key}
            and self.generate != "fake"
        )

    @field_validator("bands", mode="before")
    @classmethod
    def _dates_as_text(cls, bands: Any) -> Any:
        # YAML reads 2020-01-01 as a date; keep it as ISO text, which a datetime column parses
        if isinstance(bands, list):
            return [b.isoformat() if isinstance(b, date) else b for b in bands]
        return bands

    @model_validator(mode="after")
    def _bands_are_increasing_edges(self) -> ColumnSpec:
        if self.bands is None:
            return self
        if self.type is ColumnType.numerical:
            if any(isinstance(b, str) for b in self.bands):
                raise ValueError("bands: edges of a numerical column are numbers")
            edges: list[Any] = list(self.bands)
        elif self.type is ColumnType.datetime:
            try:
                edges = [datetime.fromisoformat(str(b)) for b in self.bands]
            except ValueError:
                raise ValueError("bands: edges of a datetime column are ISO dates") from None
        else:
            raise ValueError("bands are only allowed on a numerical or datetime column")
        if any(edges[k + 1] <= edges[k] for k in range(len(edges) - 1)):
            raise ValueError("bands: edges must increase")
        return self


class Inequality(_Strict):
    """`high` is greater than (or equal to, unless strict) `low` on every row where both are set."""

    kind: Literal["inequality"] = "inequality"
    low: str
    high: str
    strict: bool = False

    @property
    def columns(self) -> list[str]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.high} {'>' if self.strict else '>='} {self.low}"


class FixedCombinations(_Strict):
    """Only combinations of these columns' values that occur in the real data may occur."""

    kind: Literal["fixed_combinations"] = "fixed_combinations"
    columns: list[str] = Field(min_length=2)

    def describe(self) -> str:
        return f"fixed combinations of {', '.join(self.columns)}"


TableConstraint = Annotated[Inequality | FixedCombinations, Field(discriminator="kind")]


class DatasetSchema(_Strict):
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    undeclared: Literal["error", "drop"] = Field(
        default="error", description="What to do with source columns the schema does not declare."
    )
    constraints: list[TableConstraint] = Field(
        default_factory=list,
        description="Rules across columns; checked on real and synthetic data.",
    )

    @model_validator(mode="after")
    def _constraints_name_modelled_columns(self) -> DatasetSchema:
        for i, constraint in enumerate(self.constraints):
            for name in constraint.columns:
                column = self.columns.get(name)
                if column is None:
                    raise ValueError(f"constraints[{i}]: column {name!r} is not declared")
                if column.roles & {Role.pii, Role.key} or column.type in (
                    ColumnType.id,
                    ColumnType.text,
                ):
                    raise ValueError(f"constraints[{i}]: column {name!r} is not modelled")
            if isinstance(constraint, Inequality):
                kinds = {self.columns[n].type for n in constraint.columns}
                if len(kinds) != 1 or not kinds <= {ColumnType.numerical, ColumnType.datetime}:
                    raise ValueError(
                        f"constraints[{i}]: an inequality compares two numerical or two datetime "
                        "columns"
                    )
            if len(set(constraint.columns)) != len(constraint.columns):
                raise ValueError(f"constraints[{i}]: a column is named twice")
        return self
