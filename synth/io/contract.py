"""The contract check: declared schema vs. what the data shows. Errors count bad values, never show them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract, combination_keys
from schemas.errors import DataError, SpecError
from schemas.spec import ColumnSpec, ColumnType, DatasetSchema, Inequality, Role
from synth.pii import detect_kind

__all__ = ["build_contract", "coerce_column", "to_number"]

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def build_contract(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    *,
    label: str,
    fingerprint: str = "",
    written: frozenset[str] = frozenset(),
) -> tuple[Contract, pd.DataFrame]:
    """Check `frame` against `schema`; return the Contract and the frame typed as declared.
    `written` names the free-text columns a language model writes (JobSpec.written_text)."""
    declared = list(schema.columns)
    missing = [c for c in declared if c not in frame.columns]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(f"{label}: declared column {missing[0]!r} is missing from the data{more}")
    extra = [c for c in frame.columns if c not in schema.columns]
    if extra and schema.undeclared == "error":
        raise DataError(
            f"{label}: column {extra[0]!r} is not declared in schema.columns "
            "(declare it, or set schema.undeclared: drop)"
        )
    if frame.empty:
        raise DataError(f"{label}: the data has no rows")
    typed = pd.DataFrame(
        {
            name: coerce_column(frame[name], spec, name=name, label=label)
            for name, spec in schema.columns.items()
        }
    )
    columns = tuple(
        _column_contract(typed[name], name, spec, label, written=name in written)
        for name, spec in schema.columns.items()
    )
    notes = (f"dropped {len(extra)} undeclared column(s)",) if extra else ()
    _check_inequalities(typed, schema, label)
    combinations = {
        i: frozenset(combination_keys(typed, c.columns).unique())
        for i, c in enumerate(schema.constraints)
        if c.kind == "fixed_combinations"
    }
    contract = Contract(
        source=label,
        rows=len(typed),
        columns=columns,
        fingerprint=fingerprint,
        notes=notes,
        constraints=tuple(schema.constraints),
        combinations=combinations,
    )
    return contract, typed


def _check_inequalities(typed: pd.DataFrame, schema: DatasetSchema, label: str) -> None:
    for i, constraint in enumerate(schema.constraints):
        if not isinstance(constraint, Inequality):
            continue
        low, high = typed[constraint.low], typed[constraint.high]
        both = low.notna() & high.notna()
        broken = (high <= low) if constraint.strict else (high < low)
        count = int((broken & both).fillna(False).sum())
        if count:
            raise DataError(
                f"{label}: schema.constraints[{i}] ({constraint.describe()}) is broken by "
                f"{count} real row(s)"
            )


def coerce_column(values: pd.Series, spec: ColumnSpec, *, name: str, label: str) -> pd.Series:
    """Type one column as declared; raise a DataError counting the values that do not parse."""
    present = values.notna()
    if spec.type is ColumnType.numerical:
        typed = to_number(values)
        _count_bad(present & typed.isna(), name, label, "cannot be read as numbers")
        typed = typed.astype("float64")
        finite = typed.dropna()
        if len(finite) and np.array_equal(finite, np.round(finite)) and finite.abs().max() < 2**53:
            return typed.astype("Int64")
        return typed
    if spec.type is ColumnType.boolean:
        if values.dtype == bool:
            return values.astype("boolean")
        text = values.astype("string").str.strip().str.lower()
        typed = pd.Series(pd.NA, index=values.index, dtype="boolean")
        typed[text.isin(_TRUE).fillna(False).astype(bool)] = True
        typed[text.isin(_FALSE).fillna(False).astype(bool)] = False
        _count_bad(present & typed.isna(), name, label, "are not booleans")
        return typed
    if spec.type is ColumnType.datetime:
        return _to_datetime(values, spec, name=name, label=label)
    if spec.type is ColumnType.id or (Role.key in spec.roles and spec.type is ColumnType.numerical):
        numbers = to_number(values)
        if numbers.notna().sum() == present.sum() and np.array_equal(
            numbers.dropna(), np.round(numbers.dropna())
        ):
            return numbers.astype("Int64")
    return (
        values.astype("string").str.strip() if values.dtype == object else values.astype("string")
    )


# pandas' to_numeric crashes the interpreter on some huge exponents ("1e88174593380"): only text
# shaped like a number of sane magnitude reaches it; anything else counts as unparseable.
_NUMBER = r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?\s*$|^\s*[+-]?(?:inf|nan)\s*$"


def to_number(values: pd.Series) -> pd.Series:
    """Numbers from numbers or text; unparseable text becomes NaN (callers count it)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce")
    text = values.astype("string")
    shaped = text.str.match(_NUMBER, case=False).fillna(False).astype(bool)
    return pd.to_numeric(text.where(shaped).astype(object), errors="coerce")


# Timestamps are stored as microseconds but SDV and pandas work in nanoseconds: keep to that range.
_EARLIEST, _LATEST = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")


def _to_datetime(values: pd.Series, spec: ColumnSpec, *, name: str, label: str) -> pd.Series:
    present = values.notna()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        typed = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        typed = typed.astype("datetime64[us]")
    else:
        try:
            parsed = pd.to_datetime(
                values, errors="coerce", utc=True, format=spec.datetime_format or "mixed"
            )
        except ValueError:
            raise SpecError(
                f"schema.columns.{name}.datetime_format: not a usable strftime format"
            ) from None
        typed = parsed.dt.tz_localize(None).astype("datetime64[us]")
    _count_bad(present & typed.isna(), name, label, "cannot be read as dates")
    outside = int(((typed < _EARLIEST) | (typed > _LATEST)).sum())
    if outside:
        raise DataError(
            f"{label}: column {name!r}: {outside} dates outside the supported range 1678-2261"
        )
    return typed


def _count_bad(mask: pd.Series, name: str, label: str, what: str) -> None:
    bad = int(mask.sum())
    if bad:
        raise DataError(f"{label}: column {name!r}: {bad} of {len(mask)} values {what}")


def _physical(values: pd.Series) -> str:
    kind = str(values.dtype)
    if kind == "Int64":
        return "int64"
    if kind == "float64":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind.startswith("datetime64"):
        return "timestamp"
    return "string"


def _column_contract(
    values: pd.Series, name: str, spec: ColumnSpec, label: str, *, written: bool = False
) -> ColumnContract:
    nulls = int(values.isna().sum())
    c = spec.constraints
    if nulls and (not c.nullable or Role.key in spec.roles):
        raise DataError(f"{label}: column {name!r}: {nulls} missing values, but it may not be null")
    if Role.key in spec.roles or c.unique:
        dupes = int(values.dropna().duplicated().sum())
        if dupes:
            raise DataError(f"{label}: column {name!r}: {dupes} duplicate values in a unique key")
    minimum = maximum = None
    numeric = pd.api.types.is_numeric_dtype(values.dtype)
    if numeric and not pd.api.types.is_bool_dtype(values.dtype) and values.notna().any():
        minimum, maximum = float(values.min()), float(values.max())
        below = int((values < c.min).sum()) if c.min is not None else 0
        above = int((values > c.max).sum()) if c.max is not None else 0
        if below or above:
            raise DataError(
                f"{label}: column {name!r}: {below + above} values outside the declared range"
            )
    categories = None
    if spec.type in (ColumnType.categorical, ColumnType.boolean):
        categories = tuple(sorted(values.dropna().unique().tolist(), key=str))
        if c.values is not None:
            allowed = {str(v) for v in c.values}
            outside = int((~values.dropna().astype(str).isin(allowed)).sum())
            if outside:
                raise DataError(
                    f"{label}: column {name!r}: {outside} values outside the declared value set"
                )
            categories = tuple(c.values)
    pii_kind = None
    if Role.pii in spec.roles or spec.type is ColumnType.text:
        pii_kind = spec.pii_kind or detect_kind(name, values)
    return ColumnContract(
        name=name,
        spec=spec,
        physical=_physical(values),
        null_share=nulls / max(len(values), 1),
        categories=categories,
        minimum=minimum,
        maximum=maximum,
        pii_kind=pii_kind,
        written=written,
    )
