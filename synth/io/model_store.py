"""Fitted table models, stored by what made them, so an unchanged job trains nothing.

    store = ModelStore.open(root)                      # root: SYNTH_MODEL_STORE or <output>/.models
    key = model_key(spec, source_fingerprint)
    engine = store.get(key, engine_name)               # None: not stored (or failed its checks)
    store.put(key, engine)                             # after fitting

The key is a SHA-256 over everything a fitted model depends on: the source's content fingerprint,
the spec's model section, its dataset schema, the split, the fit seed, and the code (the versions
of synth and the engine libraries, and the bytes of `synth/tabular/`). Any change gives a new key.

An entry is `<root>/<key>/model/` (the engine's own files and manifest, every file hashed) and
`<root>/<key>/entry.json`, which records the manifest's hash and an HMAC-SHA256 over key, engine
and that hash under a secret kept outside the store (`SYNTH_MODEL_STORE_KEY`, a file, default
`~/.config/synth/model-store.key`, made 0600 on first use). Loading checks the HMAC, then the
manifest's hash, then every file, and only then lets the engine unpickle anything: someone who can
write to the store but not read the secret cannot get a pickle loaded. Entries are written to a
temporary folder (0700, like the store's root: a model holds what the data taught it) and renamed
into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from schemas.errors import SynthError
from schemas.spec import JobSpec
from synth.runinfo import package_versions
from synth.tabular.base import ENGINES, Engine, make_engine

__all__ = ["ModelStore", "code_version", "model_key", "store_root"]

ENTRY = "entry.json"
_KEY_ENV = "SYNTH_MODEL_STORE_KEY"
_ROOT_ENV = "SYNTH_MODEL_STORE"
_TABULAR = Path(__file__).resolve().parent.parent / "tabular"


def store_root(spec: JobSpec) -> Path:
    """`SYNTH_MODEL_STORE` if set, else `.models` under the spec's output root."""
    return Path(os.environ.get(_ROOT_ENV) or Path(spec.output.path) / ".models")


def code_version() -> str:
    """Versions of synth and its engine libraries, and a hash of the table engines' source."""
    digest = hashlib.sha256()
    for path in sorted(_TABULAR.rglob("*.py")):  # subpackages too (autoregressive/)
        digest.update(path.relative_to(_TABULAR).as_posix().encode() + b"\0" + path.read_bytes())
    return json.dumps({"packages": package_versions(), "tabular": digest.hexdigest()})


def model_key(spec: JobSpec, source_fingerprint: str) -> str:
    """What a fitted model depends on, hashed; sampling and checks settings are not in it."""
    parts = {
        "source": source_fingerprint,
        "model": spec.model.model_dump(mode="json", exclude={"cache"}),
        "dataset": spec.dataset.model_dump(mode="json"),
        "split": spec.split.model_dump(mode="json"),
        "seed": spec.sample.seed,
        "code": code_version(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class ModelStore:
    def __init__(self, root: Path, secret: bytes) -> None:
        self.root, self._secret = Path(root), secret

    @classmethod
    def open(cls, root: Path, key_file: Path | None = None) -> ModelStore:
        """The store at `root`, with the secret from `key_file` (made on first use)."""
        path = key_file or Path(
            os.environ.get(_KEY_ENV) or Path.home() / ".config" / "synth" / "model-store.key"
        )
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another run made it first
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32))
        secret = path.read_text().strip().encode()
        if len(secret) < 32:
            raise SynthError(f"{path}: model store key is too short")
        return cls(root, secret)

    def _mac(self, key: str, engine: str, manifest_sha256: str) -> str:
        message = f"{key}\0{engine}\0{manifest_sha256}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def get(self, key: str, engine: str) -> Engine | None:
        """The stored model for `key`, or None when there is none. An entry that fails any check
        raises SynthError naming it, and nothing in it is loaded."""
        folder = self.root / key
        if not (folder / ENTRY).is_file():
            return None
        try:
            entry = json.loads((folder / ENTRY).read_text())
            name, manifest = entry["engine"], entry["manifest_sha256"]
            mac = entry["mac"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SynthError(f"{folder / ENTRY}: not a readable model store entry") from None
        if name != engine or entry.get("key") != key or name not in ENGINES:
            raise SynthError(f"{folder / ENTRY}: entry is for another model")
        if not hmac.compare_digest(str(mac), self._mac(key, name, str(manifest))):
            raise SynthError(f"{folder / ENTRY}: signature mismatch; refusing to load the model")
        return type(make_engine(name)).load(folder / "model", manifest_sha256=manifest)

    def put(self, key: str, engine: Engine, *, replace: bool = False, **about: Any) -> Path:
        """Store a fitted model under `key`. An entry already there is kept (another run stored the
        same model first) unless `replace` (`--retrain`: the stored one may be the suspect)."""
        folder = self.root / key
        if (folder / ENTRY).is_file() and not replace:
            return folder
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # models hold what data taught
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.root))
        try:
            (staging / "model").mkdir()
            manifest = engine.save(staging / "model")
            entry = {
                "key": key,
                "engine": engine.name,
                "manifest_sha256": manifest,
                "mac": self._mac(key, engine.name, manifest),
                **about,
            }
            (staging / ENTRY).write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n")
            if replace and folder.exists():  # step the old entry aside, then swap the new one in
                folder.rename(self.root / f".{key[:12]}-old-{secrets.token_hex(4)}")
            try:
                os.replace(staging, folder)
            except OSError:  # a concurrent run stored the same key first: keep theirs
                if not (folder / ENTRY).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for old in self.root.glob(f".{key[:12]}-old-*"):
                shutil.rmtree(old, ignore_errors=True)
        return folder
