"""Fitted table models, stored by what made them, so an unchanged job trains nothing.

    store = ModelStore.open(root)                      # root: store_root(spec), never in <output>
    key = model_key(spec, source_fingerprint)
    engine = store.get(key, engine_name)               # None: not stored (or failed its checks)
    store.put(key, engine)                             # after fitting

The key is a SHA-256 over everything a fitted model depends on: the source's content fingerprint,
the spec's model section, its dataset schema, the split, the fit seed, and the code (the versions
of synth and the engine libraries, and the bytes of `synth/tabular/`). Any change gives a new key.

An entry is `<root>/<key>/model/` (the engine's own files and manifest, every file hashed) and
`<root>/<key>/entry.json`, which records the manifest's hash and an HMAC-SHA256 over key, engine
and that hash under a secret kept outside the store (`SYNTH_MODEL_STORE_KEY`, a file, default
`~/.config/synth/model-store.key`, written 0600 and atomically on first use; a key that is not
the user's own or is open to others is refused). Loading checks the store root (the user's own,
writable by nobody else), the HMAC, the manifest's hash and every file, each file read once through
one descriptor without following symlinks; the engine then loads those same bytes and never opens
a path again (`synth.tabular.base.read_model`), so nothing can be swapped in between the check and
the unpickling. An entry signed under another key (a lost or rotated key) is a cache miss, with a
warning: the model is refit and the entry replaced. Entries are written to a temporary folder
(0700, like the store's root: a model holds what the data taught it) and renamed into place, so a
reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.errors import SynthError
from schemas.spec import JobSpec
from synth import cancel
from synth.runinfo import package_versions
from synth.tabular.base import ENGINES, Engine, make_engine, read_regular

__all__ = ["ModelStore", "code_version", "model_key", "store_root"]

ENTRY = "entry.json"
_KEY_ENV = "SYNTH_MODEL_STORE_KEY"
_ROOT_ENV = "SYNTH_MODEL_STORE"
_TABULAR = Path(__file__).resolve().parent.parent / "tabular"
_LINKED = _TABULAR.parent / "linked"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
log = logging.getLogger(__name__)


def store_root(spec: JobSpec) -> Path:
    """`SYNTH_MODEL_STORE` if set, else `$XDG_CACHE_HOME/synth/models` (`~/.cache/synth/models`).

    Never under the spec's output: models hold what the data taught them (bootstrap keeps real
    rows), and output folders are shared and cached. `spec` is kept for callers; it no longer
    decides the place.
    """
    if os.environ.get(_ROOT_ENV):
        return Path(os.environ[_ROOT_ENV])
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"  # XDG: absolute only
    return base / "synth" / "models"


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
        "dataset": _datasets(spec),
        "split": spec.split.model_dump(mode="json"),
        "seed": spec.sample.seed,
        "code": code_version(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _datasets(spec: Any) -> Any:
    """A table job's schema; a linked job's tables less their sources (hashed by content), and
    the hash of the linked engine's code."""
    if hasattr(spec, "dataset"):
        return spec.dataset.model_dump(mode="json")
    digest = hashlib.sha256()
    for path in sorted(_LINKED.rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    tables = [t.model_dump(mode="json", exclude={"source"}) for t in spec.tables]
    return {"tables": tables, "linked_code": digest.hexdigest()}


class ModelStore:
    def __init__(self, root: Path, secret: bytes) -> None:
        self.root, self._secret = Path(root), secret
        self._stale: set[str] = set()  # keys whose entry was signed under another secret

    @classmethod
    def open(cls, root: Path, key_file: Path | None = None) -> ModelStore:
        """The store at `root`, with the secret from `key_file` (made on first use)."""
        path = key_file or Path(
            os.environ.get(_KEY_ENV) or Path.home() / ".config" / "synth" / "model-store.key"
        )
        secret = _read_key(path)
        if secret is None:
            secret = _make_key(path)
            stored = _entry_count(Path(root))
            if stored:  # said once, here: each of these entries is then a refit, not a failure
                log.warning(
                    "model store key %s was missing: made a new one; the %d models stored in "
                    "%s were signed with the old key and will be refit (%s names the key file)",
                    path,
                    stored,
                    root,
                    _KEY_ENV,
                )
        return cls(root, secret)

    def _mac(self, key: str, engine: str, manifest_sha256: str) -> str:
        message = f"{key}\0{engine}\0{manifest_sha256}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def get(
        self, key: str, engine: str, *, load: Callable[..., Any] | None = None
    ) -> Engine | None:
        """The stored model for `key`, or None when there is none or its entry was signed under
        another secret (then `put` replaces it). An entry that fails any other check raises
        SynthError naming it, and nothing in it is loaded. `load` reads a model that is not one
        of the table engines (a linked job's), with the same checks."""
        folder = self.root / key
        try:
            root = os.open(self.root, _DIR_FLAGS)
        except FileNotFoundError:
            return None
        except OSError:
            raise SynthError(f"{self.root}: model store folder cannot be opened") from None
        try:
            _check_private(self.root, os.fstat(root))
            raw = _read_entry(root, key)
        finally:
            os.close(root)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            name, manifest = entry["engine"], entry["manifest_sha256"]
            mac = entry["mac"]
        except (ValueError, KeyError, TypeError):
            raise SynthError(f"{folder / ENTRY}: not a readable model store entry") from None
        if not hmac.compare_digest(str(mac), self._mac(key, str(name), str(manifest))):
            # A lost or rotated key, not an attack that can get anything loaded: refit.
            log.warning(
                "model store entry %s was signed with another key; refitting and replacing it",
                folder,
            )
            self._stale.add(key)
            return None
        if name != engine or entry.get("key") != key or (load is None and name not in ENGINES):
            raise SynthError(f"{folder / ENTRY}: entry is for another model")
        # The root is the user's own and nobody else may write in it, so `<key>/model` names the
        # folder just checked; read_model reads every file there once, without following links.
        load = load or type(make_engine(name)).load
        return load(folder / "model", manifest_sha256=manifest)

    def put(self, key: str, engine: Engine, *, replace: bool = False, **about: Any) -> Path:
        """Store a fitted model under `key`. An entry already there is kept (another run stored the
        same model first) unless `replace` (`--retrain`: the stored one may be the suspect)."""
        folder = self.root / key
        replace = replace or key in self._stale
        if (folder / ENTRY).is_file() and not replace:
            return folder
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # models hold what data taught
        _check_private(self.root, self.root.stat())
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.root))
        undo = cancel.on_cancel(lambda: shutil.rmtree(staging, ignore_errors=True))
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
            cancel.off(undo)
            shutil.rmtree(staging, ignore_errors=True)
            for old in self.root.glob(f".{key[:12]}-old-*"):
                shutil.rmtree(old, ignore_errors=True)
        self._stale.discard(key)
        return folder


def _check_private(root: Path, status: os.stat_result) -> None:
    """The store root must be the user's own and writable by nobody else: whoever can write in
    it can swap a checked model file for another."""
    if status.st_uid != os.getuid():
        raise SynthError(
            f"{root}: model store folder belongs to another user (uid {status.st_uid}); "
            f"use a folder of your own ({_ROOT_ENV})"
        )
    if status.st_mode & 0o022:
        raise SynthError(
            f"{root}: model store folder is writable by others (mode "
            f"{stat.S_IMODE(status.st_mode):04o}); make it private (chmod 700) or set {_ROOT_ENV}"
        )


def _read_entry(root: int, key: str) -> bytes | None:
    """`<key>/entry.json` under the open root, through descriptors, following no symlink; None
    when the entry does not exist."""
    if not key or "/" in key or key.startswith("."):
        raise SynthError(f"{key!r}: not a model store key")
    try:
        folder = os.open(key, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root)
    except FileNotFoundError:
        return None
    except OSError:
        raise SynthError(f"{key}: model store entry is not a folder") from None
    try:
        raw, _ = read_regular(ENTRY, dir_fd=folder)
    except FileNotFoundError:
        return None
    except OSError:
        raise SynthError(f"{key}/{ENTRY}: not a regular file; refusing the entry") from None
    finally:
        os.close(folder)
    return raw


def _read_key(path: Path) -> bytes | None:
    """The secret in `path`, or None when there is no such file. A key another user owns, or
    that others may read or write, is refused: anyone who reads it can sign a pickle."""
    try:
        raw, status = read_regular(path, follow=True)  # a link to a key elsewhere is fine
    except FileNotFoundError:
        return None
    except OSError:
        raise SynthError(
            f"{path}: model store key is not a readable file (set {_KEY_ENV} to another)"
        ) from None
    if status.st_uid != os.getuid():
        raise SynthError(
            f"{path}: model store key belongs to another user (uid {status.st_uid}); use a key "
            f"file of your own, mode 0600 ({_KEY_ENV})"
        )
    if status.st_mode & 0o077:
        raise SynthError(
            f"{path}: model store key is open to others (mode {stat.S_IMODE(status.st_mode):04o});"
            f" make it 0600 (chmod 600) or set {_KEY_ENV} to a private key file"
        )
    secret = raw.strip()
    if len(secret) < 32:
        raise SynthError(f"{path}: model store key is too short ({_KEY_ENV})")
    return secret


def _make_key(path: Path) -> bytes:
    """A new secret in `path`: written in full to a 0600 temporary file, then linked into place,
    so a reader never sees half a key and two runs starting at once end with one key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(32).encode()
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # O_EXCL, 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and never over a key another run made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    found = _read_key(path)  # another run's key, if it won the race
    if found is None:
        raise SynthError(f"{path}: model store key could not be written ({_KEY_ENV})")
    return found


def _entry_count(root: Path) -> int:
    try:
        return sum(
            1 for p in root.iterdir() if not p.name.startswith(".") and (p / ENTRY).is_file()
        )
    except OSError:
        return 0
