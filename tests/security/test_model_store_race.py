"""Issue 18, item 1: a model file swapped between its hash check and its load is never unpickled.

The attack (reproduced before the fix): `read_manifest` hashed `model.pkl` by path, then SDV
opened the path again and unpickled it. Whoever could change the file in between (rename another
over it, make it a symlink, or a FIFO that serves the genuine bytes to the hash and a payload to
the load) ran code as the user. Now every file is read once through one descriptor (no symlink
followed, regular files only), and the engine loads those same bytes; the store root must be the
user's own and writable by nobody else.

Each payload here, once unpickled, creates a marker file: the marker must never appear.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from schemas import Contract, SynthError
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.model_store import ModelStore
from synth.tabular import base, make_engine
from synth.tabular.sdv_engines import MODEL_FILE
from tests.builders import COLUMNS, adult

KEY = "f" * 64


class _Payload:
    """Unpickling this calls `open(marker, "w")`: code run by the load, as an attacker's would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def fitted() -> tuple[Contract, pd.DataFrame]:
    contract, typed = build_contract(adult(300), DatasetSchema(columns=COLUMNS), label="t")
    return contract, typed[[c.name for c in contract.modelled]]


@pytest.fixture
def stored(fitted, tmp_path: Path) -> tuple[ModelStore, object, Path]:
    """A store holding one genuine gaussian_copula (a cloudpickle), its engine, and the pickle."""
    contract, train = fitted
    engine = make_engine("gaussian_copula")
    engine.fit(train, contract, seed=0)
    store = ModelStore.open(tmp_path / "store", key_file=tmp_path / "secret" / "store.key")
    folder = store.put(KEY, engine)
    return store, engine, folder / "model" / MODEL_FILE


def _payload(tmp_path: Path) -> tuple[bytes, Path]:
    marker = tmp_path / "PAYLOAD-RAN"
    return pickle.dumps(_Payload(marker)), marker


def test_a_file_swapped_after_its_check_is_not_what_gets_loaded(
    stored, tmp_path: Path, monkeypatch
) -> None:
    store, engine, pickle_path = stored
    payload, marker = _payload(tmp_path)
    real_read = base.read_regular

    def read_then_swap(path, **kwargs):
        got = real_read(path, **kwargs)
        if str(path) == MODEL_FILE:  # the attacker wins the race: right after the check's read
            swap = pickle_path.with_name("swap")
            swap.write_bytes(payload)
            os.replace(swap, pickle_path)
        return got

    monkeypatch.setattr(base, "read_regular", read_then_swap)
    loaded = store.get(KEY, "gaussian_copula")
    assert pickle_path.read_bytes() == payload  # the swap happened before the load
    assert not marker.exists()
    assert loaded is not None and loaded.sample(20, seed=1).equals(engine.sample(20, seed=1))


def test_a_symlinked_model_file_is_refused_even_to_the_genuine_bytes(
    stored, tmp_path: Path
) -> None:
    """A link to the genuine bytes would pass any hash check, then be retargeted at a payload."""
    store, _, pickle_path = stored
    payload, marker = _payload(tmp_path)
    genuine = tmp_path / "genuine.pkl"
    genuine.write_bytes(pickle_path.read_bytes())
    pickle_path.unlink()
    pickle_path.symlink_to(genuine)
    with pytest.raises(SynthError, match="not a regular file"):
        store.get(KEY, "gaussian_copula")
    genuine.write_bytes(payload)  # retargeted: still refused, never unpickled
    with pytest.raises(SynthError):
        store.get(KEY, "gaussian_copula")
    assert not marker.exists()


def test_a_fifo_serving_genuine_then_payload_bytes_is_refused_without_hanging(
    stored, tmp_path: Path
) -> None:
    store, _, pickle_path = stored
    payload, marker = _payload(tmp_path)
    served = [pickle_path.read_bytes(), payload]  # first reader: the hash; second: the load
    pickle_path.unlink()
    os.mkfifo(pickle_path)
    stop = threading.Event()

    def attacker() -> None:
        while served and not stop.is_set():
            try:  # non-blocking: succeeds only while a reader has the FIFO open
                fd = os.open(pickle_path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.005)
                continue
            try:
                os.write(fd, served.pop(0))
            except OSError:
                pass
            finally:
                os.close(fd)

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(SynthError, match="not a regular file"):
            store.get(KEY, "gaussian_copula")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert time.monotonic() - started < 10  # opening a FIFO must not wait for a writer
    assert not marker.exists()


def test_an_entry_folder_replaced_by_a_symlink_is_refused(stored, tmp_path: Path) -> None:
    store, _, pickle_path = stored
    folder = pickle_path.parent.parent
    elsewhere = tmp_path / "elsewhere"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SynthError, match="not a folder"):
        store.get(KEY, "gaussian_copula")


def test_a_store_root_others_can_write_or_another_user_owns_is_refused(stored, monkeypatch) -> None:
    store, _, _ = stored
    os.chmod(store.root, 0o770)  # a group member could swap a checked file
    with pytest.raises(SynthError, match="writable by others") as caught:
        store.get(KEY, "gaussian_copula")
    assert str(store.root) in str(caught.value) and "\n" not in str(caught.value)
    os.chmod(store.root, 0o700)
    assert store.get(KEY, "gaussian_copula") is not None
    owner = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)  # the root now belongs to someone else
    with pytest.raises(SynthError, match="belongs to another user"):
        store.get(KEY, "gaussian_copula")
