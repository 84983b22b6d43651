"""The Engine protocol every tabular generator implements, and the registry that names them."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from schemas.contract import Contract
from schemas.errors import SpecError, SynthError

__all__ = [
    "ENGINES",
    "Engine",
    "ModelFiles",
    "file_sha256",
    "make_engine",
    "read_model",
    "read_regular",
    "write_manifest",
]

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

    def fit(
        self,
        train: pd.DataFrame,
        contract: Contract,
        *,
        seed: int,
        subjects: np.ndarray | None = None,
    ) -> None:
        """Learn from `train`, which holds exactly the contract's modelled columns. Rows with
        equal `subjects` codes belong to one subject (`split.by`): an engine that holds rows out
        to judge itself holds out whole subjects."""

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
        every file matches the manifest: through `read_model`, from the bytes it checked."""

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


# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (a hang an attacker
# could cause); on a regular file it changes nothing.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def read_regular(
    path: str | Path, *, dir_fd: int | None = None, follow: bool = False
) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file, read through one descriptor, and that file's own status.

    A symlink (unless `follow`), FIFO, socket or device is refused with OSError before a byte is
    read. The status comes from the open descriptor, so the owner and mode a caller checks are
    those of the very bytes returned, not of whatever the path names a moment later.
    """
    flags = _READ_FLAGS & ~os.O_NOFOLLOW if follow else _READ_FLAGS
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path}: not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), status
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ModelFiles:
    """A stored model's manifest and the contents of its files, each read once and matched
    against its hash. Engines load from these bytes and never reopen a path, so nothing can be
    swapped in between the check and the load (a pickle runs code when loaded)."""

    manifest: dict[str, Any]
    contents: Mapping[str, bytes]

    @property
    def info(self) -> dict[str, Any]:
        return dict(self.manifest.get("info") or {})

    def __getitem__(self, name: str) -> bytes:
        return self.contents[name]


def write_manifest(directory: Path, *, engine: str, info: Mapping[str, Any]) -> str:
    """Record every file's hash in a manifest; return the manifest's own hash.

    The manifest proves the files match it; the returned hash, kept by the caller (the model
    store) apart from the model, proves the manifest itself was not rewritten.
    """
    files = {p.name: file_sha256(p) for p in sorted(directory.iterdir()) if p.name != MANIFEST}
    manifest = {"engine": engine, "files": files, "info": dict(info)}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return file_sha256(directory / MANIFEST)


def read_model(directory: Path, *, engine: str, manifest_sha256: str) -> ModelFiles:
    """The manifest and every file's bytes, once the manifest matches `manifest_sha256`, every
    listed file matches its hash, and no file is unlisted. The folder is opened once without
    following a symlink and every file is read through it, so the checked bytes are the ones
    returned; only those may be unpickled."""
    try:
        folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        raise SynthError(f"{directory}: no readable model folder") from None
    try:
        try:
            raw, _ = read_regular(MANIFEST, dir_fd=folder)
        except OSError:
            raise SynthError(f"{directory}: no readable model manifest") from None
        if hashlib.sha256(raw).hexdigest() != manifest_sha256:
            raise SynthError(f"{directory / MANIFEST}: hash mismatch; refusing to load the model")
        manifest = json.loads(raw)  # its hash was recorded apart from it: it is what save wrote
        if manifest.get("engine") != engine:
            raise SynthError(f"{directory}: model was saved by engine {manifest.get('engine')!r}")
        listed = manifest["files"]
        if set(os.listdir(folder)) - {MANIFEST} != set(listed):
            raise SynthError(f"{directory}: model files differ from the manifest")
        contents = {}
        for name, digest in listed.items():
            try:
                data, _ = read_regular(name, dir_fd=folder)
            except OSError:  # a symlink, FIFO or anything but a plain file: never followed
                raise SynthError(
                    f"{directory / name}: not a regular file; refusing to load the model"
                ) from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise SynthError(f"{directory / name}: hash mismatch; refusing to load the model")
            contents[name] = data
    finally:
        os.close(folder)
    return ModelFiles(manifest=manifest, contents=contents)
