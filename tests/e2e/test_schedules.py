"""Schedules and on-demand runs against a real Prefect server (`prefect server start`, SQLite, on
loopback): schedules never fire on the embedded server, so these tests start their own."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.deployments import server_healthy
from tests.builders import write_job
from tests.e2e.test_operations import QUICK

pytestmark = pytest.mark.slow
SYNTH = str(Path(sys.executable).with_name("synth"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "SYNTH_MODEL_STORE_KEY": str(home / "store.key"),
    }
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
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
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: server_healthy(env["PREFECT_API_URL"]), 240, "prefect server start")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def test_an_interval_schedule_publishes_and_a_request_reports_its_run(
    tmp_path: Path, server_env: dict[str, str]
) -> None:
    # one run a minute, at most one at a time: the first is due as soon as the deployment exists
    spec = write_job(tmp_path / "job", schedule={"interval_seconds": 60}, **QUICK)
    deployed = subprocess.run(
        [SYNTH, "deploy", str(spec)], env=server_env, capture_output=True, text=True, check=False
    )
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed synthesize/adult-small" in deployed.stdout
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [SYNTH, "serve", str(spec), "--limit", "1"],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        latest = tmp_path / "job" / "out" / "adult-small" / "latest" / "metrics.json"
        _wait(latest.exists, 180, "a scheduled run to publish")
        assert json.loads(latest.read_text())["verdict"]["status"] == "pass"

        asked = subprocess.run(
            [SYNTH, "request", str(spec), "--rows", "250", "--timeout", "240", "--json"],
            env=server_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert asked.returncode == 0, asked.stderr[-2000:]
        summary = json.loads(asked.stdout.strip().splitlines()[-1])
        assert summary["status"] == "published" and summary["rows"] == 250
        assert Path(summary["data"]).is_dir()
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        log.close()


def test_serve_without_a_server_is_a_one_line_error(tmp_path: Path) -> None:
    spec = write_job(tmp_path / "job", schedule={"cron": "0 3 * * *"}, **QUICK)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([SYNTH, "serve", str(spec)], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "PREFECT_API_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
