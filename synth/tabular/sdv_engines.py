"""SDV's single-table synthesizers behind the Engine protocol.

SDV 2.x takes and returns `{table_name: DataFrame}` dicts and saves models with cloudpickle; a pickle is
loaded only from the bytes `read_model` read once and matched against the hash recorded when it was
written, never from its path again.
"""

from __future__ import annotations

import random
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.errors import SpecError, SynthError
from schemas.spec import ColumnType
from synth import progress
from synth.tabular.base import read_model, write_manifest

__all__ = ["CTGANEngine", "CopulaGANEngine", "GaussianCopulaEngine", "TVAEEngine"]

TABLE = "table"
MODEL_FILE = "model.pkl"
# SDV draws from the process-wide numpy and torch generators: threads sampling at once (a Dask
# worker with several threads) would interleave their draws and lose determinism.
_GLOBAL_RNG = threading.Lock()


def sdv_metadata(contract: Contract) -> Any:
    """SDV Metadata for the contract's modelled columns."""
    from sdv.metadata import Metadata

    # SDV fixes combinations of categorical columns only; a numerical code in one (Adult's
    # education-num) is modelled as a category, which keeps its values exactly.
    combined = {
        n
        for rule in contract.constraints
        if rule.kind == "fixed_combinations"
        for n in rule.columns
    }
    columns = {
        c.name: {"sdtype": "categorical"} if c.name in combined else _sdtype(c)
        for c in contract.modelled
    }
    return Metadata.load_from_dict({"tables": {TABLE: {"columns": columns}}})


def sdv_constraints(contract: Contract) -> list[Any]:
    """The declared rules across columns, as SDV constraints (SDV then samples only valid rows)."""
    from sdv.cag import FixedCombinations, Inequality

    out: list[Any] = []
    for rule in contract.constraints:
        if rule.kind == "inequality":
            out.append(
                Inequality(
                    low_column_name=rule.low,
                    high_column_name=rule.high,
                    strict_boundaries=rule.strict,
                    table_name=TABLE,
                )
            )
        else:
            out.append(FixedCombinations(column_names=list(rule.columns), table_name=TABLE))
    return out


def _sdtype(column: ColumnContract) -> dict[str, str]:
    if column.type is ColumnType.numerical:
        return (
            {"sdtype": "numerical", "decimal_places": 0}
            if column.physical == "int64"
            else {"sdtype": "numerical"}
        )
    if column.type is ColumnType.datetime:
        return {"sdtype": "datetime"}
    return {"sdtype": column.type.value}  # categorical, boolean


def to_plain(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas extension dtypes -> numpy/object dtypes, which SDV's transformers expect."""
    out = {}
    for name, values in frame.items():
        kind = str(values.dtype)
        if kind in ("Int64", "Float64"):
            out[name] = values.astype("float64")
        elif kind.startswith("datetime64"):
            out[name] = values.astype("datetime64[ns]")  # SDV reads datetimes as nanoseconds
        elif kind in ("string", "boolean"):
            out[name] = values.astype(object).where(values.notna(), np.nan)
        else:
            out[name] = values
    return pd.DataFrame(out, index=frame.index)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _SDVEngine:
    name: ClassVar[str]
    _class_name: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._model: Any = None
        self._fit_seconds = 0.0
        self._rows = 0

    @classmethod
    def _sdv_class(cls) -> type:
        from sdv import single_table

        return getattr(single_table, cls._class_name)

    def fit(
        self,
        train: pd.DataFrame,
        contract: Contract,
        *,
        seed: int,
        subjects: np.ndarray | None = None,  # no held-out rows here: nothing to group
    ) -> None:
        from sdv.errors import SynthesizerInputError

        try:
            self._model = self._sdv_class()(sdv_metadata(contract), **self.params)
        except (TypeError, ValueError, SynthesizerInputError) as exc:
            raise SpecError(
                f"model.params: not accepted by engine {self.name} ({type(exc).__name__})"
            ) from None
        if contract.constraints:
            self._model.add_constraints(sdv_constraints(contract))
        seed_everything(seed)
        epochs = self._planned_epochs()
        progress.report("fit", 0, epochs)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._model.fit({TABLE: to_plain(train)})
            except TypeError:
                if not self.params:
                    raise
                raise SpecError(
                    f"model.params: a value has the wrong type for engine {self.name}"
                ) from None
        self._fit_seconds = time.perf_counter() - started
        self._rows = len(train)
        progress.report("fit", epochs or 0, epochs, **self._last_loss())

    def _planned_epochs(self) -> int | None:
        """GaussianCopula fits in one pass: one "epoch"."""
        return 1

    def _last_loss(self) -> dict[str, float]:
        return {}

    def sample(
        self, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        from sdv.sampling import Condition

        with _GLOBAL_RNG, warnings.catch_warnings():
            seed_everything(seed)
            self._model._set_random_state(seed)  # SDV otherwise resets to one fixed seed per call
            warnings.simplefilter("ignore")
            if conditions:
                out = self._model.sample_from_conditions(
                    [Condition(column_values=dict(conditions), num_rows=rows)],
                    max_tries_per_batch=200,
                )
            else:
                out = self._model.sample(rows)
        frame = next(iter(out.values())) if isinstance(out, dict) else out
        return frame.reset_index(drop=True)

    def save(self, directory: Path) -> str:
        self._model.save(str(directory / MODEL_FILE))
        return write_manifest(directory, engine=self.name, info=self.info())

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> _SDVEngine:
        import cloudpickle

        # A pickle runs code when loaded: unpickle the very bytes whose hash was checked (SDV's
        # load_synthesizer would open the path again, which may name another file by then).
        # `manifest_sha256` is trusted only from an HMAC-checked store entry (ModelStore.get,
        # the one caller), so these bytes are the ones this user's own run stored.
        files = read_model(directory, engine=cls.name, manifest_sha256=manifest_sha256)
        engine = cls(**files.info.get("params", {}))
        model = cloudpickle.loads(files[MODEL_FILE])
        if not isinstance(model, cls._sdv_class()):
            raise SynthError(f"{directory}: model is not a {cls._class_name}")
        engine._model = model
        engine._fit_seconds = files.info.get("fit_seconds", 0.0)
        engine._rows = files.info.get("train_rows", 0)
        return engine

    def info(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "library": "sdv",
            "synthesizer": self._class_name,
            "params": self.params,
            "fit_seconds": round(self._fit_seconds, 3),
            "train_rows": self._rows,
        }


class GaussianCopulaEngine(_SDVEngine):
    name = "gaussian_copula"
    _class_name = "GaussianCopulaSynthesizer"


class _NeuralEngine(_SDVEngine):
    """Trains for many epochs: shows a per-epoch progress bar (stderr) unless `verbose: false`.

    ctgan's training loop takes no per-epoch callback (sdv-dev/CTGAN#456, SDV#460), so progress
    ticks at the start and the end of `fit` only, the end with the last epoch's loss from
    `get_loss_values()`; hooking its tqdm bar or its `loss_values` would tie us to its internals.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**{"verbose": True, **params})

    def _planned_epochs(self) -> int | None:
        epochs = getattr(self._model, "epochs", None)  # a wrong type is SDV's to reject, in fit
        return epochs if isinstance(epochs, int) else None

    def _last_loss(self) -> dict[str, float]:
        """The last epoch's generator loss (CTGAN, CopulaGAN) or mean batch loss (TVAE)."""
        try:
            losses = self._model.get_loss_values()
            if "Generator Loss" in losses:
                return {"loss": float(losses["Generator Loss"].iloc[-1])}
            last = losses[losses["Epoch"] == losses["Epoch"].iloc[-1]]
            return {"loss": float(last["Loss"].mean())}
        except Exception:  # a progress aggregate is never worth failing a fitted model for
            return {}


class CTGANEngine(_NeuralEngine):
    name = "ctgan"
    _class_name = "CTGANSynthesizer"


class TVAEEngine(_NeuralEngine):
    name = "tvae"
    _class_name = "TVAESynthesizer"


class CopulaGANEngine(_NeuralEngine):
    name = "copulagan"
    _class_name = "CopulaGANSynthesizer"
