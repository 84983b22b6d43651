"""Issue 18, item 10: the model store's signing key.

Before the fix a missing key was silently made anew, and every cached job then stopped with exit 3
on the old entries' signatures; the key file's mode and owner were never looked at (a key others
can read lets them sign a pickle); and the key was written in place, so a run starting at the same
moment could read half of it. Now a bad signature is a cache miss with a warning (the model is
refit and the entry replaced), a key open to others or owned by someone else is refused with one
line naming the file and SYNTH_MODEL_STORE_KEY, and a new key is written whole, then linked into
place.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from schemas import SynthError
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.model_store import ModelStore
from synth.tabular import Engine, make_engine
from tests.builders import COLUMNS, adult

KEY = "e" * 64


@pytest.fixture(scope="module")
def engine() -> Engine:
    contract, typed = build_contract(adult(100), DatasetSchema(columns=COLUMNS), label="t")
    fitted = make_engine("independent")
    fitted.fit(typed[[c.name for c in contract.modelled]], contract, seed=0)
    return fitted


def test_a_lost_key_warns_once_and_cached_jobs_refit_instead_of_failing(
    engine, tmp_path: Path, caplog
) -> None:
    key_file = tmp_path / "cfg" / "store.key"
    first = ModelStore.open(tmp_path / "store", key_file=key_file)
    first.put(KEY, engine)
    key_file.unlink()  # lost: a new machine, a wiped home folder

    again = ModelStore.open(tmp_path / "store", key_file=key_file)
    assert str(key_file) in caplog.text and "1 models stored" in caplog.text
    assert again.get(KEY, "independent") is None  # a miss, not a SynthError (exit 3)
    assert "signed with another key" in caplog.text
    again.put(KEY, engine)  # the fit step's own put replaces the stale entry
    assert again.get(KEY, "independent") is not None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "store.key"
    ModelStore.open(tmp_path / "store", key_file=key_file)
    secret = key_file.read_text()
    key_file.chmod(mode)
    with pytest.raises(SynthError) as caught:
        ModelStore.open(tmp_path / "store", key_file=key_file)
    message = str(caught.value)
    assert str(key_file) in message and "SYNTH_MODEL_STORE_KEY" in message
    assert f"{mode:04o}" in message and "\n" not in message
    assert secret.strip() not in message


def test_a_key_another_user_owns_is_refused(tmp_path: Path, monkeypatch) -> None:
    key_file = tmp_path / "store.key"
    ModelStore.open(tmp_path / "store", key_file=key_file)
    owner = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)  # the file is now someone else's
    with pytest.raises(SynthError, match="belongs to another user") as caught:
        ModelStore.open(tmp_path / "store", key_file=key_file)
    assert str(key_file) in str(caught.value) and "SYNTH_MODEL_STORE_KEY" in str(caught.value)


def test_a_key_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "store.key"
    os.mkfifo(key_file)  # would hang a plain read until someone writes a key of their choosing
    with pytest.raises(SynthError, match="not a readable file"):
        ModelStore.open(tmp_path / "store", key_file=key_file)


def test_runs_starting_together_make_one_whole_private_key(tmp_path: Path, monkeypatch) -> None:
    key_file = tmp_path / "cfg" / "store.key"
    seen: list[bytes] = []
    real_link = os.link

    def link_and_look(source, target, **kwargs):
        seen.append(Path(source).read_bytes())  # what a reader could find once it is in place
        assert oct(os.stat(source).st_mode)[-3:] == "600"
        return real_link(source, target, **kwargs)

    monkeypatch.setattr(os, "link", link_and_look)
    start = threading.Barrier(8)
    stores: list[ModelStore] = []

    def open_store() -> None:
        start.wait()
        stores.append(ModelStore.open(tmp_path / "store", key_file=key_file))

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores) == 8 and len({s._secret for s in stores}) == 1  # one key for all
    assert seen and all(len(s) == 64 for s in seen)  # never linked half-written
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    assert [p.name for p in key_file.parent.iterdir()] == ["store.key"]  # no temporary left
