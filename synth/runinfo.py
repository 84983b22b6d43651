"""Run identity and provenance: run ids, package versions, the Parquet `synth` metadata, metrics.json."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

from schemas.contract import Contract
from schemas.spec import JobSpec

__all__ = ["build_metrics", "new_run_id", "package_versions", "parquet_metadata"]

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


def build_metrics(
    *,
    spec: JobSpec,
    run_id: str,
    contract: Contract,
    engine_info: dict[str, Any],
    rows: int,
    train_rows: int,
    holdout_rows: int,
    verdict: dict[str, Any],
    distributions: list[dict[str, Any]] | None = None,
    min_count: int = 10,
) -> dict[str, Any]:
    """metrics.json: everything the report shows, all of it aggregates."""
    return {
        "run": {
            "job": spec.name,
            "run_id": run_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec_hash": spec.fingerprint(),
            "source_fingerprint": contract.fingerprint,
            "engine": engine_info.get("engine", spec.model.engine),
            "engine_params": engine_info.get("params", {}),
            "fit_seconds": engine_info.get("fit_seconds"),
            "model_cache": engine_info.get("model_cache"),
            "differential_privacy": engine_info.get("differential_privacy"),
            "value_protection": engine_info.get("value_protection"),
            "seed": spec.sample.seed,
            "rows": rows,
            "train_rows": train_rows,
            "holdout_rows": holdout_rows,
            "versions": package_versions(),
        },
        "contract": contract.summary(),
        "contract_notes": list(contract.notes),
        "verdict": verdict,
        "distributions": distributions or [],
        "report": {"min_count": min_count},
    }


def parquet_metadata(metrics: dict[str, Any], headline: dict[str, Any]) -> dict[str, Any]:
    """The `synth` key-value metadata every Parquet part carries."""
    run = metrics["run"]
    keys = (
        "job",
        "run_id",
        "spec_hash",
        "source_fingerprint",
        "engine",
        "engine_params",
        "seed",
        "versions",
    )
    return {
        **{k: run[k] for k in keys},
        "verdict": metrics["verdict"]["status"],
        "metrics": headline,
    }
