"""Issue 32, item 1: a logged-in Prefect API client cannot make `synth serve` run a program.

The attack, against a real Prefect server with a login and a real `synth serve` worker: PATCH the
served deployment's `pull_steps` with a `run_shell_script` step and start a run (Prefect's own
`serve()` re-read the pull steps and ran the script as the worker's user); PATCH its entrypoint
to the bare `synthesize` flow with the parameter schema off and start a run naming `spec_path`,
`out` and the engine. The worker runs the flow object it registered (no pull step, no entrypoint
from the API) and refuses a run whose deployment changed, before any step.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.builders import REPO, write_job

pytestmark = pytest.mark.slow
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server with server auth on, on loopback; the client environment for it."""
    import httpx

    home = tmp_path_factory.mktemp("prefect-server-home")
    login = f"admin:{secrets.token_hex(8)}"
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_AUTH_STRING": login,
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-services",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", auth=tuple(login.split(":")), timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "prefect server exited"
            time.sleep(0.5)
        else:
            pytest.fail("prefect server did not start")
        # no login, no API: the precondition of the attack is a logged-in client
        assert httpx.post(f"{url}/flow_runs/filter", json={}, timeout=5).status_code == 401
        yield {"PREFECT_API_URL": url, "PREFECT_API_AUTH_STRING": login, "login": login}
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def served(server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`synth serve job.yaml` running against that server; the deployment's id."""
    tmp = tmp_path_factory.mktemp("served")
    spec = write_job(tmp / "job")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PREFECT_API_URL": server["PREFECT_API_URL"],
        "PREFECT_API_AUTH_STRING": server["PREFECT_API_AUTH_STRING"],
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
    }
    log = tmp / "serve.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", str(spec)],
            cwd=tmp,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        with _api(server) as client:
            while (
                found := client.get("/deployments/name/synthesize/adult-small")
            ).status_code != 200:
                assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "synth serve did not register its deployment"
                time.sleep(0.5)
        time.sleep(3)  # the runner polls for runs once it has started
        yield {"id": found.json()["id"], "tmp": tmp, "spec": spec, "log": log}
    finally:
        _stop(worker)


def _stop(process: subprocess.Popen) -> None:
    """The process and its group: SIGTERM, then SIGKILL after 20 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _api(server: dict[str, str]):
    import httpx

    user, password = server["login"].split(":", 1)
    return httpx.Client(base_url=server["PREFECT_API_URL"], auth=(user, password), timeout=10)


def _run_to_the_end(client, deployment_id: str, parameters: dict) -> dict:
    created = client.post(
        f"/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters}
    )
    assert created.is_success, created.text
    run_id = created.json()["id"]
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        run = client.get(f"/flow_runs/{run_id}").json()
        if run["state"] and run["state"]["type"] in TERMINAL:
            return run
        time.sleep(1)
    pytest.fail(f"flow run {run_id} did not end")


def test_a_patched_pull_step_never_runs_on_the_worker(server: dict, served: dict) -> None:
    marker = served["tmp"] / "pwned.txt"
    script = {"prefect.deployments.steps.run_shell_script": {"script": f"touch {marker}"}}
    with _api(server) as client:
        patched = client.patch(f"/deployments/{served['id']}", json={"pull_steps": [script]})
        assert patched.status_code == 204  # the server lets a logged-in client do this
        run = _run_to_the_end(client, served["id"], {"rows": 5})
        client.patch(f"/deployments/{served['id']}", json={"pull_steps": None})
    assert not marker.exists()
    assert run["state"]["type"] != "COMPLETED"
    assert "changed on the server since synth registered it (pull_steps)" in run["state"]["message"]
    assert not (served["tmp"] / "job" / "out").exists()  # no step ran


def test_a_patched_entrypoint_cannot_choose_spec_output_or_engine(
    server: dict, served: dict
) -> None:
    elsewhere = served["tmp"] / "attacker-out"
    tampered = {"entrypoint": "flows.synthesize.synthesize", "enforce_parameter_schema": False}
    with _api(server) as client:
        assert client.patch(f"/deployments/{served['id']}", json=tampered).status_code == 204
        attack = {
            "spec_path": str(served["spec"]),
            "out": str(elsewhere),
            "engine": "bootstrap",
            "rows": 5,
        }
        run = _run_to_the_end(client, served["id"], attack)
        # even with the parameters a served flow takes, a changed deployment is refused
        honest_params = _run_to_the_end(client, served["id"], {"rows": 5})
    assert run["state"]["type"] != "COMPLETED"
    assert honest_params["state"]["type"] != "COMPLETED"
    refused = honest_params["state"]["message"]
    assert "registered it (enforce_parameter_schema, entrypoint)" in refused
    assert not elsewhere.exists()
    assert not (served["tmp"] / "job" / "out").exists()
