"""Run identity and provenance: run ids, package versions, the Parquet `synth` metadata, metrics.json."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

__all__ = [
    "METADATA_KEYS",
    "MODALITY_RUN_KEYS",
    "build_metrics",
    "new_run_id",
    "package_versions",
    "parquet_metadata",
]

_PACKAGES = (
    "synth",
    "sdv",
    "rdt",
    "sdmetrics",
    "great-expectations",
    "prefect",
    "pandas",
    "pyarrow",
    "numpy",
    "torch",
)


def new_run_id() -> str:
    """Sortable and unique: UTC time to the second plus 6 random hex digits."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


# the `run` keys every modality supplies (synth.modalities.Modality.run_info); the flow adds the rest
MODALITY_RUN_KEYS = ("source_fingerprint", "engine", "engine_params", "train_rows", "holdout_rows")
# what every Parquet part of every modality carries under the `synth` key
METADATA_KEYS = (
    "job",
    "run_id",
    "kind",
    "spec_hash",
    "source_fingerprint",
    "engine",
    "engine_params",
    "seed",
    "versions",
)


def build_metrics(
    *,
    spec: Any,
    run_id: str,
    kind: str,
    rows: int,
    verdict: dict[str, Any],
    info: dict[str, Any],
) -> dict[str, Any]:
    """metrics.json: the run's identity and provenance (the same keys for every modality), the
    verdict, and the modality's own sections (`info`, from its `run_info`); aggregates only."""
    run = info.get("run", {})
    missing = [key for key in MODALITY_RUN_KEYS if key not in run]
    if missing:
        raise ValueError(f"the {kind} modality's run info lacks {', '.join(missing)}")
    return {
        "run": {
            "job": spec.name,
            "run_id": run_id,
            "kind": kind,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec_hash": spec.fingerprint(),
            "seed": spec.sample.seed,
            "rows": rows,
            **run,
            "versions": package_versions(),
        },
        "verdict": verdict,
        **{k: v for k, v in info.items() if k != "run"},
    }


def parquet_metadata(metrics: dict[str, Any], headline: dict[str, Any]) -> dict[str, Any]:
    """The `synth` key-value metadata every Parquet part carries."""
    run = metrics["run"]
    return {
        **{k: run[k] for k in METADATA_KEYS},
        "verdict": metrics["verdict"]["status"],
        "metrics": headline,
    }
