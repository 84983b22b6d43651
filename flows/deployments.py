"""Specs as Prefect deployments: `synth deploy` registers them, `synth serve` runs their schedules,
`synth request` asks a served deployment for a run and follows it.

A deployment is named after its flow and its job (`synthesize/<job>`, for every kind of job).
Its flow takes only two parameters, a bounded `rows` and `seed`; which spec it runs is fixed on the
worker (`synth serve` names its specs in the runner's environment, keyed by deployment), so a Prefect
API client can ask for more or fewer rows or another seed, never another spec, source, output,
engine or Dask scheduler. The worker checks every flow run's parameters against that signature
before the first step, whatever the client told the server (a client may turn the server's schema
check off). Schedules need a real Prefect server (`prefect server start`, PREFECT_API_URL): the
embedded server that `synth run` starts lives only as long as its process, so nothing would fire.
"""

# no `from __future__ import annotations`: the runner hands `serve_job` to a spawned process,
# where pydantic must build its parameter model from real annotations, not strings

import contextlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from prefect import flow
from pydantic import Field

from schemas import load_spec
from schemas.errors import SpecError

__all__ = [
    "MAX_REQUESTED_ROWS",
    "RequestedRows",
    "RequestedSeed",
    "deployment_name",
    "deployments",
    "request_parameters",
    "require_server",
    "serve",
    "serve_environment",
    "serve_job",
    "server_healthy",
]

# What one served run may be asked for: enough for any job we know, small enough that a request
# cannot keep a worker (and its disk) busy for days.
MAX_REQUESTED_ROWS = 10_000_000
RequestedRows = Annotated[int, Field(ge=1, le=MAX_REQUESTED_ROWS)]
RequestedSeed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # what numpy's seeding accepts
# `synth serve` sets it: {"<flow>/<job>": "<spec path>"} for every spec it serves
SERVED_SPECS = "SYNTH_SERVED_SPECS"


def server_healthy(url: str) -> bool:
    """Whether a Prefect server answers its health check at `url` (its API root)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def require_server(command: str) -> None:
    """Refuse, in one line, a command that needs a real Prefect server when none is configured."""
    if not os.environ.get("PREFECT_API_URL"):
        raise SpecError(
            f"{command}: needs a running Prefect server; start one (prefect server start) and set "
            "PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)"
        )


def deployment_name(spec_path: str | Path) -> str:
    """`<flow>/<job>`, as `run_deployment` wants it."""
    return f"{serve_job.name}/{load_spec(spec_path).name}"


def request_parameters(*, rows: int | None, seed: int | None) -> dict[str, int]:
    """The parameters `synth request` sends, checked here against the bounds the served flow
    enforces, so an out-of-range flag is one line (exit 2), not a refused flow run."""
    from pydantic import TypeAdapter, ValidationError

    checked = {}
    for name, value, bounded in (("rows", rows, RequestedRows), ("seed", seed, RequestedSeed)):
        if value is None:
            continue
        try:
            checked[name] = TypeAdapter(bounded).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors(include_url=False)[0]["msg"].lower()
            raise SpecError(f"--{name}: {reason}") from None
    return checked


@flow(name="synthesize", persist_result=False, validate_parameters=True)
def serve_job(
    rows: RequestedRows | None = None, seed: RequestedSeed | None = None
) -> dict[str, Any]:
    """Run the served job this deployment names: the spec's source, output, engine and scale,
    with the requested rows and seed."""
    from flows.synthesize import synthesize

    spec_path = _served_spec(serve_job.name)
    _refuse_changed_deployment()
    # `.fn` runs the job's steps in this flow run (no subflow), so its summary artifact is this
    # run's, where `synth request` looks for it.
    return synthesize.fn(spec_path=spec_path, rows=rows, seed=seed)


ENTRYPOINT = "flows.deployments.serve_job"


def registered_fields() -> dict[str, Any]:
    """What `synth deploy` and `synth serve` register for every served deployment, beside its
    name and schedule: the worker runs a flow run only while its deployment still says this."""
    return {
        "entrypoint": ENTRYPOINT,
        "pull_steps": None,
        "parameters": {},
        "enforce_parameter_schema": True,
        "parameter_openapi_schema": _closed_parameter_schema(),
    }


def _refuse_changed_deployment() -> None:
    """Fail this flow run, before any step, when a Prefect API client changed the deployment
    after it was registered (a pull step, another entrypoint, an open parameter schema). The
    runner never acts on those fields (it runs the flow object it holds, see `serve`): this turns
    a tampered deployment into a refused run that says so, instead of one that quietly runs."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import deployment

    with get_client(sync_client=True) as client:
        found = client.read_deployment(deployment.id)
    changed = sorted(
        name
        for name, expected in registered_fields().items()
        if _normal(getattr(found, name)) != _normal(expected)
    )
    if changed:
        raise SpecError(
            f"deployment {serve_job.name}/{found.name} was changed on the server since synth "
            f"registered it ({', '.join(changed)}); refusing to run it: re-register it with "
            "`synth serve` or `synth deploy`"
        )


def _normal(value: Any) -> Any:
    """Empty and missing are the same registration (the server stores no pull steps as [] or
    None)."""
    return None if value in (None, [], {}) and not isinstance(value, bool) else value


def serve(spec_paths: list[str | Path], *, limit: int | None = None, announce: Any = None) -> None:
    """Register each spec's deployment and run its schedules and requests here (blocks).

    Prefect's `serve()` registers deployments by entrypoint: for every flow run its runner reads
    the entrypoint and pull steps back from the API and executes them, so a logged-in API client
    that patches a deployment runs a program of its choice on this worker. This runner is given
    the flow object for each deployment instead (what `Runner.add_flow` does for a flow), so a
    flow run executes `serve_job` as it is in this process's code and nothing the API says it
    should import or run first; `serve_job` then refuses a run whose deployment was changed."""
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    runner = Runner(pause_on_shutdown=True, limit=limit)
    for deployment in deployments(spec_paths):
        deployment_id = runner.add_deployment(deployment)
        # Runner.add_flow's own step, which its add_deployment lacks; add_flow itself cannot
        # register our closed parameter schema. tests/security/test_served_deployment_tampering.py
        # fails if this private registry changes rather than letting the hole reopen quietly.
        runner._deployment_registry.register_flow(deployment_id, serve_job)
        if announce is not None:
            announce(f"serving {serve_job.name}/{deployment.name} ({deployment_id})")
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):  # stopping is not an error
        asyncio.run(runner.start())


def _served_spec(flow_name: str) -> str:
    """The spec path this worker serves for the running deployment (never a flow parameter)."""
    from prefect.runtime import deployment

    served = json.loads(os.environ.get(SERVED_SPECS) or "{}")
    path = served.get(f"{flow_name}/{deployment.name}")
    if path is None:
        raise SpecError(
            f"deployment {flow_name}/{deployment.name}: this worker serves no such job; "
            "runs of synth deployments are started by `synth serve SPEC...`"
        )
    return path


def serve_environment(spec_paths: list[str | Path]) -> dict[str, str]:
    """What `synth serve` adds to its environment (which its flow runs inherit): each served
    deployment's spec path, so a flow run finds its spec on the worker, not in the request."""
    served = {}
    for path in spec_paths:
        resolved = Path(path).resolve()
        served[deployment_name(resolved)] = str(resolved)
    return {SERVED_SPECS: json.dumps(served, sort_keys=True)}


def deployments(spec_paths: list[str | Path]) -> list[Any]:
    """One RunnerDeployment per spec, with its schedule (if any); its parameters are only the
    requested `rows` and `seed`, everything else comes from the spec on the worker."""
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

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
        deployment = serve_job.to_deployment(
            name=spec.name,
            schedules=schedules,
            tags=["synth", spec.kind],
            description=f"synth job {spec.name} from {resolved}",
            enforce_parameter_schema=True,  # the server checks the bounds too
            entrypoint_type=EntrypointType.MODULE_PATH,  # the installed package, wherever it is
        )
        assert deployment.entrypoint == ENTRYPOINT
        out.append(_closed_schema(deployment))
    return out


def _closed_parameter_schema() -> dict[str, Any]:
    """The served flow's parameter schema with `additionalProperties: false`, as registered."""
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(serve_job).model_dump(exclude_unset=True)
    return {**schema, "additionalProperties": False}


def _closed_schema(deployment: Any) -> Any:
    """The deployment with `additionalProperties: false` in its parameter schema, so the server
    refuses a flow run that names a parameter the flow does not take when the run is created, not
    only when the worker starts it. Prefect has no public setting for this; if the private
    attribute changes, tests/security/test_deploy_params.py fails rather than this going quiet."""
    from prefect.utilities.callables import ParameterSchema

    class ClosedParameterSchema(ParameterSchema):
        additionalProperties: bool = False  # JSON Schema's spelling

    # set explicitly: Prefect sends the schema with exclude_unset, which would drop a default
    deployment._parameter_openapi_schema = ClosedParameterSchema(**_closed_parameter_schema())
    return deployment
