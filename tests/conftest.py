"""Test session set-up: one Prefect home (and one embedded server) for the whole session."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports prefect: a private PREFECT_HOME, so the canary test can read all it holds.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="synth-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# the model store's signing key: a session file, not the developer's ~/.config/synth
os.environ.setdefault("SYNTH_MODEL_STORE_KEY", str(_PREFECT_HOME / "model-store.key"))
# the model store lives outside the output (~/.cache/synth/models): never the developer's cache;
# each test gets its own below, so a model one test stored is not "reused" by another
os.environ.setdefault("SYNTH_MODEL_STORE", str(_PREFECT_HOME / "model-store"))
# anonymeter runs in its own venv (`make anonymeter`); `make test` exports this, plain pytest finds it
_ANONYMETER = Path(__file__).resolve().parent.parent / ".venv-anonymeter" / "bin" / "python"
if _ANONYMETER.exists():
    os.environ.setdefault("SYNTH_ANONYMETER_PYTHON", str(_ANONYMETER))


@pytest.fixture(autouse=True)
def private_model_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh model store per test, outside the test's own tmp_path (which tests list)."""
    root = tmp_path_factory.mktemp("model-store")
    monkeypatch.setenv("SYNTH_MODEL_STORE", str(root))
    return root


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    return _PREFECT_HOME


@pytest.fixture(scope="session")
def prefect_server(prefect_home: Path) -> Iterator[str]:
    """Start the embedded server once; every flow in the session reuses it."""
    from prefect import flow

    from flows.server import lock_embedded_server

    lock_embedded_server()  # as synth.run does: the session's server takes a login

    @flow(name="warm-up")
    def warm_up() -> str:
        return "ready"

    assert warm_up() == "ready"
    yield "ephemeral"
    # Stop it here, not in its atexit hook, which would log into streams pytest has closed.
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer

    APILogWorker.drain_all()  # send queued run logs while the server can still take them
    logging.disable(logging.INFO)  # its "stopping" line would go to a stream pytest has closed
    try:
        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()
    finally:
        logging.disable(logging.NOTSET)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that starts Prefect's server is slow: `make test-fast` (-m "not slow") leaves it."""
    unmarked = [
        item.nodeid
        for item in items
        if "prefect_server" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            f"tests that start Prefect's server must be marked slow: {unmarked}"
        )


def _servers() -> int:
    import sys

    if "prefect.server.api.server" not in sys.modules:
        return 0
    from prefect.server.api.server import SubprocessASGIServer

    return len(SubprocessASGIServer._instances)


@pytest.fixture(autouse=True)
def _servers_only_in_slow_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test not marked slow that starts Prefect's server (directly or through a flow) fails."""
    before = _servers()
    yield
    if request.node.get_closest_marker("slow") is None and _servers() > before:
        pytest.fail("this test started Prefect's server: mark it slow", pytrace=False)
