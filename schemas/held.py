"""Specs a process holds in memory, named to a flow by a token instead of a file.

A notebook changes a loaded spec (`spec.model_copy(update=...)`) or builds one from a dict and runs
it. The flow takes references, never data (its parameters land in Prefect's database, and a spec's
allowed values or conditions may name real categories), so `hold` validates the spec as it is now
and returns a token; `resolve_spec` turns a token, or a spec file's path, into the spec the flow
runs, with the CLI's overrides. A token is good only in the process that holds it.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schemas.errors import SpecError
from schemas.load import apply_overrides, load_spec, spec_from_dict

__all__ = ["TOKEN", "hold", "release", "resolve_spec"]

TOKEN = "memory:"
_held: dict[str, dict[str, Any]] = {}  # token -> the spec as a validated mapping


def hold(spec: Any) -> str:
    """A token for `spec` (a spec model, changed in memory or not, or a mapping), validated now:
    what runs is the spec as it is at this call, whatever happens to the object after."""
    if isinstance(spec, Mapping):
        raw = dict(spec)
    elif callable(getattr(spec, "model_dump", None)):
        raw = spec.model_dump(mode="json", by_alias=True)
    else:
        raise SpecError(f"spec: expected a path, a spec or a mapping, not {type(spec).__name__}")
    checked = spec_from_dict(raw, label="spec", base_dir=Path.cwd())  # one line if it is bad
    token = f"{TOKEN}{secrets.token_hex(8)}"
    _held[token] = checked.model_dump(mode="json", by_alias=True)
    return token


def release(token: str) -> None:
    _held.pop(token, None)


def resolve_spec(reference: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """The spec a flow was given: a file's path, or the token of a spec held in this process."""
    if not reference.startswith(TOKEN):
        return load_spec(reference, overrides=dict(overrides or {}))
    try:
        raw = _held[reference]
    except KeyError:
        raise SpecError(
            "spec: a spec held in memory runs only in the process that holds it; "
            "save it to a file to run it elsewhere"
        ) from None
    changed = apply_overrides(copy.deepcopy(raw), dict(overrides or {}))
    return spec_from_dict(changed, label="spec", base_dir=Path.cwd())
