"""Shared table preparation for the statistical checks: modelled columns only, numpy-backed dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.spec import ColumnType

__all__ = ["codes", "features", "metadata", "modelled"]

TABLE = "table"


def modelled(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """The columns an engine models, with extension dtypes turned into numpy/object ones."""
    out = {}
    for c in contract.modelled:
        values = frame[c.name]
        kind = str(values.dtype)
        if kind in ("Int64", "Float64") or c.type is ColumnType.numerical:
            out[c.name] = values.astype("float64")
        elif kind.startswith("datetime64"):
            out[c.name] = values.astype("datetime64[ns]")
        else:
            out[c.name] = values.astype(object).where(values.notna(), np.nan)
    return pd.DataFrame(out, index=frame.index)


def metadata(contract: Contract) -> dict:
    """SDMetrics' metadata dict for the modelled columns (one table)."""

    def sdtype(c: ColumnContract) -> dict:
        if c.type is ColumnType.datetime:
            return {"sdtype": "datetime"}
        return {"sdtype": c.type.value}

    return {"tables": {TABLE: {"columns": {c.name: sdtype(c) for c in contract.modelled}}}}


def features(
    frame: pd.DataFrame, contract: Contract, *, drop: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Numbers as float, dates as seconds, categories as pandas categoricals over the real domain."""
    out = {}
    for c in contract.modelled:
        if c.name in drop:
            continue
        values = frame[c.name]
        if c.type is ColumnType.datetime:
            # by difference, not astype("int64"): that counts in the column's own unit, and the
            # real rows (Arrow: microseconds) and an engine's (nanoseconds) differ in it
            stamps = pd.to_datetime(values, utc=True)
            seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
            out[c.name] = pd.Series(seconds, index=values.index).astype("float64")
        elif c.type is ColumnType.numerical:
            out[c.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            domain = [str(v) for v in (c.categories or ())]
            out[c.name] = pd.Categorical(values.astype("string"), categories=domain)
    return pd.DataFrame(out)


def codes(table: pd.DataFrame, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each column of a `features` table as small integer codes: numbers binned at `edges`,
    categories by domain; missing values get a code of their own."""
    out = {}
    for name, values in table.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[name] = values.cat.codes.to_numpy().astype(np.int64) + 1  # -1 (missing) -> 0
        else:
            numbers = values.to_numpy(dtype="float64")
            cut = edges.get(name, np.array([]))
            code = np.searchsorted(cut, numbers, side="right")
            out[name] = np.where(np.isnan(numbers), len(cut) + 1, code)
    return out


def decile_edges(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Real deciles of each numeric column of a `features` table that has any value."""
    return {
        name: np.unique(np.nanquantile(values.to_numpy(dtype="float64"), np.linspace(0.1, 0.9, 9)))
        for name, values in table.items()
        if not isinstance(values.dtype, pd.CategoricalDtype) and values.notna().any()
    }
