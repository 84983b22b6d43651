"""Issue 32, item 5: the embedded Prefect server answers no local user but the run's own process.

The attack: while a `synth.run` process (no PREFECT_API_URL, so Prefect's temporary server on
127.0.0.1) is alive, another local program lists the runs (`flow_runs/filter`, parameters and all)
and cancels one (`set_state`) without a login. Prefect answered both. Now the server takes a
per-process secret that reaches it through its environment, not its command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.builders import REPO, write_job

pytestmark = pytest.mark.slow

CHILD = """
import json, sys
import synth
from prefect.server.api.server import SubprocessASGIServer

run = synth.run(sys.argv[1])
server = next(s for s in SubprocessASGIServer._instances.values() if s.running)
print(json.dumps({"port": server.port, "pid": server.server_process.pid, "status": run.status}))
sys.stdout.flush()
sys.stdin.read()  # the server lives as long as this process: until the test closes stdin
"""


def test_another_local_user_cannot_list_or_cancel_runs(tmp_path: Path) -> None:
    import httpx

    spec = write_job(tmp_path / "job", checks={"privacy": {"enabled": False}})
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API_", "PREFECT_SERVER_API_AUTH"))
    }
    env.update(PYTHONPATH=str(REPO), PREFECT_HOME=str(tmp_path / "prefect-home"))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spec)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line, f"the run's process exited with {child.wait()}"
        found = json.loads(line)
        assert found["status"] in ("published", "quarantined")  # its own client got in
        api = f"http://127.0.0.1:{found['port']}/api"
        assert httpx.get(f"{api}/health", timeout=10).status_code == 200  # it is up, and open
        listed = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10)
        assert listed.status_code == 401, listed.text[:200]
        guessed = httpx.post(f"{api}/flow_runs/filter", json={}, auth=("admin", "admin"))
        assert guessed.status_code == 401
        cancel = {"state": {"type": "CANCELLING", "name": "Cancelling"}, "force": True}
        cancelled = httpx.post(f"{api}/flow_runs/{uuid.uuid4()}/set_state", json=cancel)
        assert cancelled.status_code == 401
        # what any local user can read of the server process names no secret
        command = Path(f"/proc/{found['pid']}/cmdline").read_bytes().decode(errors="replace")
        assert "AUTH" not in command.upper() and "--port" in command.replace("\0", " ")
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()


def test_a_login_the_user_set_is_kept_and_sent(tmp_path: Path) -> None:
    probe = (
        "import os; from flows.server import lock_embedded_server as lock; "
        "print(lock(), os.environ['PREFECT_SERVER_API_AUTH_STRING'], "
        "os.environ.get('PREFECT_API_AUTH_STRING'))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API_", "PREFECT_SERVER_API"))
    }
    env.update(
        PYTHONPATH=str(REPO), PREFECT_HOME=str(tmp_path), PREFECT_SERVER_API_AUTH_STRING="u:p"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.stdout.split() == ["False", "u:p", "u:p"], done.stderr[-500:]
