"""Column codecs: each turns one modelled column (or one fixed combination of columns) into tokens
and back, and round-trips through JSON.

- `Categories`: one token per value seen in training (categoricals, booleans, numbers with few
  distinct values, and `fixed_combinations` groups as tuples, so every sampled combination is real).
- `Bins`: numbers and datetimes with many distinct values: quantile bins as tokens, and within each
  bin a piecewise-linear CDF through `steps` + 1 sub-quantiles, which a uniform draw inverts.

How many tokens a number gets scales with the rows that hold it: `exact_up_to` and `bins` are caps,
and a token (an exact value or a bin) gets on average at least `ROWS_PER_TOKEN` (40) training rows.
With a token per value of a 400-row table the model learns each row, not the column: tokens are
unordered, so nothing learnt about one bin carries over to its neighbours, and the 64 bins of a
400-row table left the model over-fitting from its first epoch (quality 0.74 on caschool; 0.84
with 40 rows a token, over three fit seeds). Adult-sized tables keep both caps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError
from schemas.spec import ColumnType

__all__ = [
    "Bins",
    "Categories",
    "Codec",
    "bin_count",
    "build_codecs",
    "codec_from_json",
    "condition_tokens",
    "exact",
    "exact_cap",
]

ROWS_PER_TOKEN = 40  # training rows per exact value or quantile bin, on average, at least
MIN_BINS = 4
# Whole numbers may keep this many times `exact_up_to` values: integer codes (a lecturer, a ward,
# a product stored as a number) mean nothing between two codes, and bins of them would merge
# lecturers; with 40 rows a value on average there are rows enough to learn each one. On InstEval
# (73k ratings, 1,128 lecturers coded 1-2160) the lecturer carries most of what predicts a rating
# (real-data R2 0.111, 0.029 without it): binned, the synthetic model kept a ratio of 0.59 of it;
# kept exactly, 0.80. Fractional numbers are measurements: bins and within-bin quantiles fit them.
INTEGER_CAP_FACTOR = 16


def exact(distinct: int, rows: int, up_to: int) -> bool:
    """Whether a number with `distinct` values over `rows` non-missing rows keeps them exactly (as
    categories): at most `up_to` of them, and on average `ROWS_PER_TOKEN` rows or more each. Value
    protection asks the same question, so a column is protected as the codec will model it."""
    return distinct <= min(up_to, rows // ROWS_PER_TOKEN)


def exact_cap(column: Any, up_to: int) -> int:
    """The most distinct values `column` (a `ColumnContract`) may keep exactly: `up_to`, times
    `INTEGER_CAP_FACTOR` for a whole-number numerical column."""
    whole = column.type is ColumnType.numerical and column.physical == "int64"
    return up_to * INTEGER_CAP_FACTOR if whole else up_to


def bin_count(rows: int, up_to: int) -> int:
    """Quantile bins for a number over `rows` non-missing rows: `ROWS_PER_TOKEN` rows each on
    average, at least `MIN_BINS` and at most `up_to`."""
    return max(MIN_BINS, min(up_to, rows // ROWS_PER_TOKEN))


def _plain(value: Any) -> Any:
    """A JSON-safe Python scalar (numpy scalars and pandas NA unwrapped)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _key(value: Any) -> Any:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _numbers(values: pd.Series, kind: str) -> np.ndarray:
    """Floats (datetimes as nanoseconds since the epoch), NaN where missing."""
    if kind == "datetime":
        stamps = pd.to_datetime(values).astype("datetime64[ns]")
        numbers = stamps.astype("int64").astype("float64").to_numpy()
        numbers[stamps.isna().to_numpy()] = np.nan
        return numbers
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


@dataclass
class Categories:
    columns: list[str]
    values: list[Any]  # one per token; a list of values (a tuple) when len(columns) > 1
    null: bool  # a trailing token for missing values (single columns only)
    numeric: str = ""  # "number" or "datetime" (as int64 nanoseconds) for a numeric column

    @property
    def size(self) -> int:
        return len(self.values) + self.null

    def _keys(self, frame: pd.DataFrame) -> list[Any]:
        if self.numeric:
            return [
                None if np.isnan(v) else v for v in _numbers(frame[self.columns[0]], self.numeric)
            ]
        if len(self.columns) == 1:
            return [_key(v) for v in frame[self.columns[0]].astype(object)]
        parts = [frame[c].astype(object) for c in self.columns]
        return [tuple(_key(v) for v in row) for row in zip(*parts, strict=True)]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        index = {(tuple(v) if isinstance(v, list) else v): i for i, v in enumerate(self.values)}
        missing = len(self.values) if self.null else -1
        tokens = np.array(
            [index.get(k, missing) if k is not None else missing for k in self._keys(frame)],
            dtype=np.int64,
        )
        return tokens

    def condition(self, values: Mapping[str, Any]) -> int:
        """The token that fixes these columns to `values`; every column of the codec is given."""
        if self.numeric:
            number = _numbers(pd.Series([values[self.columns[0]]]), self.numeric)[0]
            values = {self.columns[0]: None if np.isnan(number) else number}
        want = tuple(_key(values[c]) for c in self.columns)
        for i, value in enumerate(self.values):
            have = tuple(value) if len(self.columns) > 1 else (value,)
            if have == want or tuple(map(str, have)) == tuple(map(str, want)):
                return i
        if self.null and all(v is None for v in want):
            return len(self.values)
        raise SpecError(
            f"sample.conditions: {', '.join(self.columns)}: value never seen in training"
        )

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Values by token: one lookup table per column, indexed by the tokens (no Python loop
        over rows)."""
        out = {}
        for i, column in enumerate(self.columns):
            values = [v[i] if isinstance(v, list) else v for v in self.values]
            if self.numeric:
                table = np.array([*values, np.nan] if self.null else values, dtype="float64")
                picked = table[tokens]
                if self.numeric == "datetime":
                    picked = pd.to_datetime(picked, unit="ns").to_numpy()
            else:
                table = np.empty(self.size, dtype=object)
                table[: len(values)] = values
                if self.null:
                    table[-1] = None
                picked = table[tokens]
            out[column] = picked
        return out


@dataclass
class Bins:
    columns: list[str]  # exactly one
    edges: list[float]  # bin b holds edges[b] <= x < edges[b + 1] (the last bin is closed)
    cdf: list[list[float]]  # per bin, steps + 1 sub-quantiles from its minimum to its maximum
    null: bool
    integer: bool
    datetime: bool

    @property
    def size(self) -> int:
        return len(self.cdf) + self.null

    def _numbers(self, values: pd.Series) -> np.ndarray:
        return _numbers(values, "datetime" if self.datetime else "number")

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        numbers = self._numbers(frame[self.columns[0]])
        inner = np.asarray(self.edges[1:-1])
        tokens = np.searchsorted(inner, numbers, side="right").astype(np.int64)
        missing = np.isnan(numbers)
        if missing.any():
            tokens[missing] = len(self.cdf) if self.null else 0
        return tokens

    def condition(self, values: Mapping[str, Any]) -> int:
        number = self._numbers(pd.Series([values[self.columns[0]]]))[0]
        if np.isnan(number):
            if self.null:
                return len(self.cdf)
            raise SpecError(f"sample.conditions: {self.columns[0]}: never missing in training")
        if not self.edges[0] <= number <= self.edges[-1]:
            raise SpecError(f"sample.conditions: {self.columns[0]}: outside the training range")
        return int(np.searchsorted(np.asarray(self.edges[1:-1]), number, side="right"))

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        cdf = np.asarray(self.cdf)  # (bins, steps + 1)
        steps = cdf.shape[1] - 1
        bins = np.minimum(tokens, len(cdf) - 1)
        position = rng.random(len(tokens)) * steps
        low = np.minimum(position.astype(np.int64), steps - 1)
        frac = position - low
        numbers = cdf[bins, low] + frac * (cdf[bins, low + 1] - cdf[bins, low])
        if self.integer:
            numbers = np.round(numbers)
        numbers[tokens >= len(cdf)] = np.nan
        if self.datetime:
            return {self.columns[0]: pd.to_datetime(numbers, unit="ns").to_numpy()}
        return {self.columns[0]: numbers}


Codec = Categories | Bins


def codec_from_json(raw: Mapping[str, Any]) -> Codec:
    kind = raw["kind"]
    fields = {k: v for k, v in raw.items() if k != "kind"}
    return Categories(**fields) if kind == "categories" else Bins(**fields)


def codec_to_json(codec: Codec) -> dict[str, Any]:
    return {"kind": "categories" if isinstance(codec, Categories) else "bins", **asdict(codec)}


def build_codecs(
    train: pd.DataFrame, contract: Contract, *, bins: int, steps: int, exact_up_to: int
) -> list[Codec]:
    """One codec per modelled column, in contract order; each fixed combination becomes one
    codec at the place of its first column. Numbers keep their values exactly when `exact` says
    so (at most `exact_cap`: `exact_up_to`, more for whole numbers); others get `bin_count`
    quantile bins (at most `bins`)."""
    groups = [list(r.columns) for r in contract.constraints if r.kind == "fixed_combinations"]
    if any(r.kind == "inequality" for r in contract.constraints):
        raise SpecError(
            "model.engine: autoregressive does not enforce inequality constraints; "
            "use gaussian_copula for this job"
        )
    grouped = {c for g in groups for c in g}
    codecs: list[Codec] = []
    for column in contract.modelled:
        if column.name in grouped:
            group = next(g for g in groups if column.name in g)
            if group[0] == column.name:
                codecs.append(_combinations(train, group))
            continue
        values = train[column.name]
        null = bool(values.isna().any())
        numeric = column.type in (ColumnType.numerical, ColumnType.datetime)
        distinct = values.dropna().unique()
        present = int(values.notna().sum())
        if numeric and not exact(len(distinct), present, exact_cap(column, exact_up_to)):
            codecs.append(
                _bins(
                    column.name,
                    values,
                    null,
                    column.physical == "int64",
                    column.type is ColumnType.datetime,
                    bin_count(present, bins),
                    steps,
                )
            )
        elif numeric:
            kind = "datetime" if column.type is ColumnType.datetime else "number"
            numbers = _numbers(values, kind)
            ordered = np.unique(numbers[~np.isnan(numbers)]).tolist()
            codecs.append(Categories([column.name], ordered, null, kind))
        else:
            ordered = sorted((_plain(v) for v in distinct), key=lambda v: (str(type(v)), v))
            codecs.append(Categories([column.name], ordered, null))
    return codecs


def _combinations(train: pd.DataFrame, columns: Sequence[str]) -> Categories:
    seen = train[list(columns)].astype(object).drop_duplicates()
    rows = sorted(([_plain(v) for v in row] for row in seen.itertuples(index=False)), key=str)
    return Categories(list(columns), rows, False)


def _bins(
    name: str, values: pd.Series, null: bool, integer: bool, is_time: bool, bins: int, steps: int
) -> Bins:
    numbers = _numbers(values, "datetime" if is_time else "number")
    numbers = np.sort(numbers[~np.isnan(numbers)])
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([numbers[0], numbers[0]])
    index = np.searchsorted(edges[1:-1], numbers, side="right")
    grid = np.linspace(0, 1, steps + 1)
    cdf = []
    for b in range(len(edges) - 1):
        inside = numbers[index == b]
        cdf.append(
            np.quantile(inside, grid).tolist() if len(inside) else [float(edges[b])] * (steps + 1)
        )
    return Bins([name], edges.tolist(), cdf, null, integer, is_time)


def condition_tokens(codecs: Sequence[Codec], conditions: Mapping[str, Any]) -> dict[int, int]:
    """The token each conditioned codec is fixed to (codec index -> token); a fixed combination
    is conditioned on all of its columns or none."""
    known = {c for codec in codecs for c in codec.columns}
    for column in conditions:
        if column not in known:
            raise SpecError(f"sample.conditions: column {column!r} is not modelled")
    fixed: dict[int, int] = {}
    for j, codec in enumerate(codecs):
        given = [c for c in codec.columns if c in conditions]
        if not given:
            continue
        if len(given) < len(codec.columns):
            raise SpecError(
                f"sample.conditions: {', '.join(codec.columns)} form a fixed combination; "
                "condition on all of them or none"
            )
        fixed[j] = codec.condition(conditions)
    return fixed
