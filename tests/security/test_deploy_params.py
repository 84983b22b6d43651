"""Issue 18, item 2: the Prefect API of the Docker deployment is no open door.

The compose file publishes the API on loopback only and refuses to start without a login; a served
deployment takes only a bounded `rows` and `seed`. The attack: an API client starts
`synthesize/<job>` with `source=/etc/passwd`, `out=/tmp/x`, `engine=bootstrap` or a `dask_address`
of its own. The server refuses such a run when it is created, and when the client turns the
server's schema check off, the worker's own parameter check fails the run before any step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from flows.deployments import (
    MAX_REQUESTED_ROWS,
    SERVED_SPECS,
    deployments,
    request_parameters,
    serve_environment,
    serve_job,
)
from schemas.errors import SpecError
from tests.builders import REPO, write_job

FOREIGN = (
    {"source": "/etc/passwd"},
    {"out": "/tmp/x"},
    {"engine": "bootstrap"},
    {"dask_address": "tcp://attacker.example:8786"},
    {"spec_path": "/tmp/other.yaml"},
    {"retrain": True},
)
OUT_OF_BOUNDS = ({"rows": 0}, {"rows": MAX_REQUESTED_ROWS + 1}, {"seed": -1}, {"seed": 2**40})


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR:-default}` and `${VAR:?error}`, enough to read what the file asks for."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        return arg

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", one, value)


def test_compose_publishes_the_api_on_loopback_and_will_not_start_without_a_login() -> None:
    services = _compose()["services"]
    server, worker = services["prefect-server"], services["worker"]
    login = {"SYNTH_PREFECT_AUTH": "admin:s3cret"}
    # with no variable set, the published port binds loopback only
    assert [_interpolate(p, login) for p in server["ports"]] == ["127.0.0.1:4200:4200"]
    assert not any("ports" in s for name, s in services.items() if name != "prefect-server")
    # the server asks for the login and the worker sends it, from one variable nobody commits
    asked = server["environment"]["PREFECT_SERVER_API_AUTH_STRING"]
    sent = worker["environment"]["PREFECT_API_AUTH_STRING"]
    assert _interpolate(asked, login) == _interpolate(sent, login) == "admin:s3cret"
    for value in (asked, sent):
        with pytest.raises(ValueError, match="SYNTH_PREFECT_AUTH"):
            _interpolate(value, {})  # compose stops: no server without a login
    assert ".env" in (REPO / ".gitignore").read_text().split()


def _spec(tmp_path: Path) -> Path:
    return write_job(tmp_path / "job", schedule={"cron": "0 3 * * *"})


def test_the_served_flow_takes_only_bounded_rows_and_seed(tmp_path: Path) -> None:
    from prefect.exceptions import ParameterTypeError, SignatureMismatchError

    served = serve_job
    assert set(served.parameters.properties) == {"rows", "seed"}
    assert served.validate_parameters({"rows": 250, "seed": 4}) == {"rows": 250, "seed": 4}
    # what the runner does with every flow run's parameters before the first step
    for attack in FOREIGN:
        with pytest.raises(SignatureMismatchError):
            served.validate_parameters({"rows": 250, **attack})
    for attack in OUT_OF_BOUNDS:
        with pytest.raises(ParameterTypeError):
            served.validate_parameters(attack)


def test_which_spec_runs_is_fixed_on_the_worker_not_in_the_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from flows.deployments import _served_spec

    spec = _spec(tmp_path)
    (deployment,) = deployments([spec])
    # the deployment names an importable flow and holds no parameter (no spec path, nothing)
    assert deployment.entrypoint == "flows.deployments.serve_job"
    assert deployment.parameters == {}
    served = json.loads(serve_environment([spec])[SERVED_SPECS])
    assert served == {"synthesize/adult-small": str(spec.resolve())}
    monkeypatch.setenv(SERVED_SPECS, json.dumps(served))
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__NAME", "adult-small")  # the runtime mock
    assert _served_spec("synthesize") == str(spec.resolve())
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__NAME", "someone-elses-job")
    with pytest.raises(SpecError, match="this worker serves no such job"):
        _served_spec("synthesize")


def test_the_deployment_schema_refuses_foreign_and_unbounded_parameters(tmp_path: Path) -> None:
    from prefect.utilities.schema_tools import validate

    (deployment,) = deployments([_spec(tmp_path)])
    assert deployment.parameters == {} and deployment.enforce_parameter_schema
    # what `apply()` sends, checked with the function the server checks a new flow run with
    schema = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)
    assert validate({"rows": 250, "seed": 4}, schema) == []
    for attack in (*FOREIGN, *OUT_OF_BOUNDS):
        assert validate(attack, schema), attack


def test_synth_request_refuses_out_of_bounds_flags_in_one_line() -> None:
    assert request_parameters(rows=250, seed=None) == {"rows": 250}
    with pytest.raises(SpecError, match=r"^--rows: input should be less than or equal"):
        request_parameters(rows=MAX_REQUESTED_ROWS + 1, seed=None)
    with pytest.raises(SpecError, match=r"^--seed: input should be greater than or equal to 0"):
        request_parameters(rows=None, seed=-1)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_a_flow_run_with_foreign_parameters_never_reaches_a_step(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.flow_engine import run_flow

    spec = _spec(tmp_path)
    (deployment,) = deployments([spec])
    deployment_id = deployment.apply()
    attack = {"rows": 5, "source": "/etc/passwd", "out": str(tmp_path / "x"), "engine": "bootstrap"}
    with get_client(sync_client=True) as client:
        # the server refuses the run when it is created ...
        with pytest.raises(PrefectHTTPStatusError) as refused:
            client.create_flow_run_from_deployment(deployment_id, parameters=attack)
        assert refused.value.response.status_code == 409
        # ... unless the client turns the schema check off, which any client may
        created = client.request(
            "POST",
            "/deployments/{id}/create_flow_run",
            path_params={"id": deployment_id},
            json={"parameters": attack, "enforce_parameter_schema": False},
        ).json()
        flow_run = client.read_flow_run(created["id"])
    assert flow_run.parameters["source"] == "/etc/passwd"
    # then the worker runs it as the runner would: the parameter check fails it first
    state = run_flow(
        serve_job, flow_run=flow_run, parameters=flow_run.parameters, return_type="state"
    )
    assert state.is_failed() and "parameters" in (state.message or "")
    assert not (tmp_path / "x").exists() and not (tmp_path / "job" / "out").exists()
