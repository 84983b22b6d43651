"""Two reference engines: `independent` (a fast, correlation-free baseline) and `bootstrap`.

`bootstrap` resamples training rows verbatim. It is the negative control the privacy gate must catch,
and is never a default.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError
from schemas.spec import ColumnType
from synth import progress
from synth.tabular.base import read_model, write_manifest

__all__ = ["BootstrapEngine", "IndependentEngine"]

_QUANTILES = 513


def _check_conditions(conditions: Mapping[str, Any] | None, known: Mapping[str, Any]) -> None:
    for column in conditions or {}:
        if column not in known:
            raise SpecError(f"sample.conditions: column {column!r} is not modelled")


class IndependentEngine:
    """Samples each column from its own marginal: categories by frequency, numbers by quantiles."""

    name: ClassVar[str] = "independent"

    def __init__(self, quantiles: int = _QUANTILES) -> None:
        self.quantiles = quantiles
        self._columns: dict[str, dict[str, Any]] = {}
        self._rows = 0

    def fit(
        self,
        train: pd.DataFrame,
        contract: Contract,
        *,
        seed: int,
        subjects: np.ndarray | None = None,  # no held-out rows here: nothing to group
    ) -> None:
        progress.report("fit", 0, 1)  # one pass over the columns: one "epoch"
        self._rows = len(train)
        for column in contract.modelled:
            values = train[column.name]
            null_share = float(values.isna().mean())
            present = values.dropna()
            if column.type in (ColumnType.numerical, ColumnType.datetime):
                is_time = column.type is ColumnType.datetime
                numbers = present.astype("datetime64[ns]").astype("int64") if is_time else present
                grid = np.linspace(0.0, 1.0, self.quantiles)
                points = (
                    np.quantile(numbers.to_numpy(dtype="float64"), grid) if len(numbers) else []
                )
                self._columns[column.name] = {
                    "kind": "datetime" if is_time else "quantiles",
                    "null_share": null_share,
                    "points": list(map(float, points)),
                }
            else:
                counts = (
                    values.astype(object)
                    .where(values.notna(), None)
                    .value_counts(dropna=False, normalize=True)
                )
                self._columns[column.name] = {
                    "kind": "categories",
                    "values": [
                        None if pd.isna(v) else (bool(v) if isinstance(v, np.bool_) else v)
                        for v in counts.index
                    ],
                    "probabilities": counts.to_numpy().tolist(),
                }
        progress.report("fit", 1, 1)

    def sample(
        self, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        _check_conditions(conditions, self._columns)
        rng = np.random.default_rng(seed)
        out: dict[str, Any] = {}
        for name, model in self._columns.items():
            if conditions and name in conditions:
                out[name] = np.full(rows, conditions[name], dtype=object)
            elif model["kind"] == "categories":
                values = np.empty(len(model["values"]), dtype=object)
                values[:] = model["values"]
                out[name] = values[rng.choice(len(values), size=rows, p=model["probabilities"])]
            else:
                points = np.asarray(model["points"])
                drawn = (
                    np.interp(rng.random(rows), np.linspace(0, 1, len(points)), points)
                    if len(points)
                    else np.full(rows, np.nan)
                )
                drawn[rng.random(rows) < model["null_share"]] = np.nan
                out[name] = (
                    pd.to_datetime(drawn, unit="ns") if model["kind"] == "datetime" else drawn
                )
        return pd.DataFrame(out)

    def save(self, directory: Path) -> str:
        (directory / "marginals.json").write_text(
            json.dumps({"rows": self._rows, "columns": self._columns}, default=str)
        )
        return write_manifest(directory, engine=self.name, info=self.info())

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> IndependentEngine:
        files = read_model(directory, engine=cls.name, manifest_sha256=manifest_sha256)
        engine = cls(**files.info["params"])
        state = json.loads(files["marginals.json"])  # the checked bytes, not the path again
        engine._rows, engine._columns = state["rows"], state["columns"]
        return engine

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "params": {"quantiles": self.quantiles},
            "train_rows": self._rows,
        }


class BootstrapEngine:
    """Resamples training rows with replacement: a deliberate privacy leak, for testing the gate."""

    name: ClassVar[str] = "bootstrap"

    def __init__(self) -> None:
        self._train: pd.DataFrame | None = None

    def fit(
        self,
        train: pd.DataFrame,
        contract: Contract,
        *,
        seed: int,
        subjects: np.ndarray | None = None,  # no held-out rows here: nothing to group
    ) -> None:
        self._train = train.reset_index(drop=True)
        progress.report("fit", 1, 1)  # nothing to learn: done at once

    def sample(
        self, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        assert self._train is not None, "fit first"
        pool = self._train
        _check_conditions(conditions, dict.fromkeys(pool.columns))
        for column, value in (conditions or {}).items():
            pool = pool[pool[column].astype(str) == str(value)]
        if pool.empty:
            raise SpecError("sample.conditions: no training row matches the condition")
        picks = np.random.default_rng(seed).integers(0, len(pool), size=rows)
        return pool.iloc[picks].reset_index(drop=True)

    def save(self, directory: Path) -> str:
        assert self._train is not None, "fit first"
        self._train.to_parquet(directory / "rows.parquet", index=False)
        return write_manifest(directory, engine=self.name, info=self.info())

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> BootstrapEngine:
        files = read_model(directory, engine=cls.name, manifest_sha256=manifest_sha256)
        engine = cls()
        engine._train = pd.read_parquet(io.BytesIO(files["rows.parquet"]))
        return engine

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "params": {},
            "train_rows": 0 if self._train is None else len(self._train),
        }
