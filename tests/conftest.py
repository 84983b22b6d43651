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
