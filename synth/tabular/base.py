"""The Engine protocol every tabular generator implements, and the registry that names them."""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError, SynthError

__all__ = ["ENGINES", "Engine", "file_sha256", "make_engine", "read_manifest", "write_manifest"]

# name -> "module:Class"; imported on use so `synth --help` stays fast.
ENGINES: dict[str, str] = {
    "gaussian_copula": "synth.tabular.sdv_engines:GaussianCopulaEngine",
    "ctgan": "synth.tabular.sdv_engines:CTGANEngine",
    "tvae": "synth.tabular.sdv_engines:TVAEEngine",
    "copulagan": "synth.tabular.sdv_engines:CopulaGANEngine",
    "independent": "synth.tabular.baselines:IndependentEngine",
    "bootstrap": "synth.tabular.baselines:BootstrapEngine",
    "autoregressive": "synth.tabular.autoregressive:AutoregressiveEngine",
}
MANIFEST = "manifest.json"


@runtime_checkable
class Engine(Protocol):
    """Learns the modelled columns of a training table and samples new rows like them."""

    name: ClassVar[str]

    def fit(self, train: pd.DataFrame, contract: Contract, *, seed: int) -> None:
        """Learn from `train`, which holds exactly the contract's modelled columns."""

    def sample(
        self, rows: int, *, seed: int, conditions: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """`rows` new rows; every row matches `conditions` exactly when given."""

    def save(self, directory: Path) -> str:
        """Write the fitted model into `directory` (which exists and is empty) with a manifest;
        return the manifest's SHA-256, for the caller to record apart from the model."""

    @classmethod
    def load(cls, directory: Path, *, manifest_sha256: str) -> Engine:
        """Read a model that `save` wrote, once its manifest matches the hash `save` returned and
        every file matches the manifest."""

    def info(self) -> dict[str, Any]:
        """Name, parameters and fit statistics: aggregates only."""


def make_engine(name: str, params: Mapping[str, Any] | None = None) -> Engine:
    """Build the engine registered as `name`; unknown names and parameters are SpecErrors."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise SpecError(
            f"model.engine: unknown engine {name!r}; choose one of {', '.join(ENGINES)}"
        ) from None
    module, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    try:
        return cls(**dict(params or {}))
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"model.params: not accepted by engine {name} ({type(exc).__name__})"
        ) from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, *, engine: str, info: Mapping[str, Any]) -> str:
    """Record every file's hash in a manifest; return the manifest's own hash.

    The manifest proves the files match it; the returned hash, kept by the caller (the model
    store) apart from the model, proves the manifest itself was not rewritten.
    """
    files = {p.name: file_sha256(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST}
    manifest = {"engine": engine, "files": files, "info": dict(info)}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return file_sha256(directory / MANIFEST)


def read_manifest(directory: Path, *, engine: str, manifest_sha256: str) -> dict[str, Any]:
    """The manifest, once it matches `manifest_sha256`, every listed file matches its hash, and
    no file is unlisted. Only then may a caller unpickle anything in `directory`."""
    try:
        raw = (directory / MANIFEST).read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError):
        raise SynthError(f"{directory}: no readable model manifest") from None
    if hashlib.sha256(raw).hexdigest() != manifest_sha256:
        raise SynthError(f"{directory / MANIFEST}: hash mismatch; refusing to load the model")
    if manifest.get("engine") != engine:
        raise SynthError(f"{directory}: model was saved by engine {manifest.get('engine')!r}")
    present = {p.name for p in directory.iterdir() if p.name != MANIFEST}
    if present != set(manifest["files"]):
        raise SynthError(f"{directory}: model files differ from the manifest")
    for name, digest in manifest["files"].items():
        if file_sha256(directory / name) != digest:
            raise SynthError(f"{directory / name}: hash mismatch; refusing to load the model")
    return manifest
