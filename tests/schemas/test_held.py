"""Specs held in memory: validated when held, run as they were then, named by a token only."""

from __future__ import annotations

import pytest

from schemas.errors import SpecError
from schemas.held import hold, release, resolve_spec
from schemas.load import load_spec
from tests.builders import REPO

ADULT = REPO / "examples" / "adult.yaml"


def test_a_held_spec_runs_as_it_was_when_held() -> None:
    spec = load_spec(ADULT)
    token = hold(spec)
    assert token.startswith("memory:") and spec.name not in token
    spec.model.params["epochs"] = 1  # a later change to the object does not reach the run
    held = resolve_spec(token)
    assert held.fingerprint() == load_spec(ADULT).fingerprint()
    changed = resolve_spec(token, {"sample.rows": 7, "model.engine": "ctgan"})
    assert changed.sample.rows == 7 and changed.model.engine == "ctgan"
    assert changed.model.params == {}  # another engine's parameters are dropped, as with flags
    release(token)
    with pytest.raises(SpecError, match="runs only in the process that holds it"):
        resolve_spec(token)


def test_a_copy_changed_in_memory_is_validated_when_held() -> None:
    spec = load_spec(ADULT)
    broken = spec.model_copy(update={"model": spec.model.model_copy(update={"engine": "nope"})})
    with pytest.raises(SpecError, match=r"^spec: model\.engine"):
        hold(broken)


def test_a_mapping_is_a_spec_and_anything_else_is_refused() -> None:
    raw = load_spec(ADULT).model_dump(mode="json", by_alias=True)
    assert resolve_spec(hold(raw)).name == "adult"
    with pytest.raises(SpecError, match="expected a path, a spec or a mapping, not int"):
        hold(3)
