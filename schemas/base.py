"""What every job spec has, whatever it synthesises: a name, a split, an output, a schedule.

A modality's spec (`schemas.spec.JobSpec` for tables, `schemas.image_spec.ImageJobSpec` for images)
derives from `SpecBase` and names itself in `kind`, which is how `schemas.load.load_spec` and the
flow pick the modality. Every model forbids fields it does not declare, so a setting a modality
would ignore is an error naming it, not a silent no-op.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, model_validator

__all__ = [
    "EngineParams",
    "OutputBase",
    "ScheduleSpec",
    "SpecBase",
    "SpecKind",
    "SplitBase",
]

SpecKind = Literal["table", "images", "linked"]

# What an engine's `params` may hold: a few dozen settings, never a tree that grows in the
# fingerprint or the engine (a YAML alias bomb is refused by the loader; a mapping handed to the
# Python API, whose lists may share themselves, is refused here, walking at most this many nodes).
PARAMS_MAX_NODES, PARAMS_MAX_DEPTH, PARAMS_MAX_TEXT = 256, 6, 1024


def _bounded_params(params: dict[str, Any]) -> dict[str, Any]:
    budget = [PARAMS_MAX_NODES]

    def walk(value: Any, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"holds more than {PARAMS_MAX_NODES} values")
        if depth > PARAMS_MAX_DEPTH:
            raise ValueError(f"nests deeper than {PARAMS_MAX_DEPTH} levels")
        if isinstance(value, str) and len(value) > PARAMS_MAX_TEXT:
            raise ValueError(f"holds a text longer than {PARAMS_MAX_TEXT} characters")
        children = value.items() if isinstance(value, dict) else ()
        for key, child in children:
            walk(key, depth + 1)
            walk(child, depth + 1)
        for child in value if isinstance(value, list | tuple) else ():
            walk(child, depth + 1)

    walk(params, 0)
    return params


EngineParams = Annotated[dict[str, Any], AfterValidator(_bounded_params)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SplitBase(_Strict):
    """The seeded train / holdout split; the holdout is never trained on, only checked against."""

    holdout: float = Field(default=0.2, gt=0.0, lt=1.0, description="Share kept out of training.")
    seed: int = 0


class OutputBase(_Strict):
    """Where a run publishes and what a failed run keeps."""

    path: Path = Path("out")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    keep_quarantined_rows: bool = Field(
        default=False,
        description="Keep the rows of a run that failed a gate (quarantine/<run>/data, 0700). "
        "Off: a quarantined run keeps only its report and metrics, since rows that failed the "
        "privacy gate may sit too close to real ones.",
    )


class ScheduleSpec(_Strict):
    """When `synth serve` runs the job: a cron line or a fixed interval (one of them)."""

    cron: str | None = Field(default=None, description="Cron line, e.g. '0 3 * * *'.")
    interval_seconds: PositiveInt | None = Field(default=None, description="Run every N seconds.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron line is read in.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron and interval_seconds")
        if self.cron is not None:
            from prefect.schedules import validate_cron_string

            try:
                validate_cron_string(self.cron)
            except ValueError:
                raise ValueError(f"cron: {self.cron!r} is not a cron line") from None
        return self


class SpecBase(_Strict):
    """The fields and the fingerprint every modality's job spec shares."""

    config_version: Literal[1] = 1
    kind: SpecKind = Field(description="What the job synthesises; a spec without it is a table.")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    split: SplitBase = SplitBase()
    output: OutputBase = OutputBase()
    schedule: ScheduleSpec | None = Field(
        default=None, description="For `synth serve` / `synth deploy`; a run by hand ignores it."
    )

    def fingerprint(self) -> str:
        """A stable hash of the spec's meaning (not its formatting, nor where output goes: the
        same job written elsewhere is the same job, so `synth regenerate --out` finds it).

        Model-store keys and `synth regenerate` decisions depend on it, and published runs carry
        it as `spec_hash`: a change to what it hashes redoes every user's runs.
        """
        canonical = json.dumps(self._meaning(), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _meaning(self) -> dict[str, Any]:
        """The spec as JSON, less what only says when, where or how a run happens. Settings a
        later version added are left out at their defaults, so a spec that does not use them
        hashes as it did before (its stored model and `regenerate` stay valid)."""
        meaning = self.model_dump(mode="json", by_alias=True, exclude=self._not_meaning())
        return _without_new_defaults(meaning)

    def _not_meaning(self) -> dict[str, Any]:
        """Fields left out of the fingerprint: the schedule (when), the output folder (where),
        what is kept of a failed run, and `kind` at its default (a table spec hashed the same
        before it named its modality)."""
        left_out: dict[str, Any] = {
            "schedule": True,
            "output": {"path": True, "keep_quarantined_rows": True},
        }
        if self.kind == type(self).model_fields["kind"].default:
            left_out["kind"] = True
        return left_out


# Added after specs were first hashed: left out of a fingerprint while at their defaults.
_NEW_COLUMN_DEFAULTS = {"generate": "auto", "max_length": 128, "temperature": 1.0, "top_p": 0.95}
_NEW_CHECK_SECTIONS = {
    "text": {
        "enabled": True,
        "span": 8,
        "max_detector_auc": 0.9,
        "min_coherence_ratio": 0.5,
        "texts": 2000,
        "significance": 0.01,
    }
}


def _without_new_defaults(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_new_defaults(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _without_new_defaults(v) for k, v in value.items()}
    if "type" in out and "generate" in out:  # a column's settings
        for key, default in _NEW_COLUMN_DEFAULTS.items():
            if out.get(key) == default:
                out.pop(key)
    for key, default in _NEW_CHECK_SECTIONS.items():
        if "privacy" in out and out.get(key) == default:  # a checks section
            out.pop(key)
    return out
