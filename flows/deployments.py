"""Specs as Prefect deployments: `synth deploy` registers them, `synth serve` runs their schedules,
`synth request` asks a served deployment for a run and follows it.

A deployment is named after its job and its flow (`synthesize/<job>` or `synthesize-images/<job>`);
its only fixed parameter is the spec's absolute path, so the spec on disk stays the one source of
truth. Schedules need a real Prefect server (`prefect server start`, PREFECT_API_URL): the embedded
server that `synth run` starts lives only as long as its process, so nothing would ever fire.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from schemas import load_spec
from schemas.errors import SpecError

__all__ = ["deployment_name", "deployments", "require_server", "server_healthy"]


def server_healthy(url: str) -> bool:
    """Whether a Prefect server answers its health check at `url` (its API root)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def require_server(command: str) -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise SpecError(
            f"{command}: needs a running Prefect server; start one (prefect server start) and set "
            "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)"
        )


def _flow_of(spec: Any):
    if getattr(spec, "kind", None) == "images":
        from flows.images import synthesize_images

        return synthesize_images
    from flows.synthesize import synthesize

    return synthesize


def deployment_name(spec_path: str | Path) -> str:
    """`<flow>/<job>`, as `run_deployment` wants it."""
    spec = load_spec(spec_path)
    return f"{_flow_of(spec).name}/{spec.name}"


def deployments(spec_paths: list[str | Path]) -> list[Any]:
    """One RunnerDeployment per spec, with its schedule (if any) and its path as the parameter."""
    from prefect.schedules import Cron, Interval

    out = []
    for path in spec_paths:
        resolved = Path(path).resolve()
        spec = load_spec(resolved)
        schedules = []
        if spec.schedule is not None and spec.schedule.cron:
            schedules = [Cron(spec.schedule.cron, timezone=spec.schedule.timezone)]
        elif spec.schedule is not None:
            seconds = timedelta(seconds=spec.schedule.interval_seconds)
            schedules = [Interval(seconds, timezone=spec.schedule.timezone)]
        out.append(
            _flow_of(spec).to_deployment(
                name=spec.name,
                parameters={"spec_path": str(resolved)},
                schedules=schedules,
                tags=["synth", getattr(spec, "kind", "tables")],
                description=f"synth job {spec.name} from {resolved}",
            )
        )
    return out
