"""The embedded Prefect server, locked with a secret only this process (and its workers) know.

    lock_embedded_server()        # before the first flow of a process starts the server

With no PREFECT_API_URL, the first flow starts Prefect's temporary server on 127.0.0.1. Without a
login it answers any local user: `flow_runs/filter` lists the runs and their parameters,
`set_state` cancels them. So, before it starts, synth sets a random PREFECT_SERVER_API_AUTH_STRING
(what the server checks) and the same PREFECT_API_AUTH_STRING (what this process's clients send)
in the process's environment. The server inherits it through its environment, which other users
cannot read (`/proc/PID/environ` is the owner's), never its command line; it lives as long as the
process, and so does the server. A user who configured a server or a login of their own keeps it
(a server login alone is sent by this process's client too).
"""

from __future__ import annotations

import os
import secrets
import sys

__all__ = ["lock_embedded_server", "stop_embedded_server"]


def lock_embedded_server() -> bool:
    """Give the embedded server a per-process secret unless the user chose a server or a login;
    returns whether it did. Safe to call again: the second call sees the secret and keeps it."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if not settings.api.url:
        from synth.cancel import on_cancel

        on_cancel(stop_embedded_server)  # a cancelled run leaves no server behind
    if settings.api.url or settings.api.auth_string:
        return False
    if settings.server.api.auth_string:  # the user's own login for it: this process sends it
        os.environ["PREFECT_API_AUTH_STRING"] = settings.server.api.auth_string.get_secret_value()
        _refresh()
        return False
    if _embedded_server_running():
        return False  # started unlocked by an earlier flow of this process: leave it be
    secret = secrets.token_urlsafe(32)
    os.environ["PREFECT_SERVER_API_AUTH_STRING"] = secret
    os.environ["PREFECT_API_AUTH_STRING"] = secret
    _refresh()
    return True


def _refresh() -> None:
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # settings already read from the environment read it again


def stop_embedded_server() -> None:
    """Stop this process's temporary server now (SIGTERM, then SIGKILL after a second)."""
    if "prefect.server.api.server" not in sys.modules:
        return
    from prefect.server.api.server import SubprocessASGIServer

    for server in list(SubprocessASGIServer._instances.values()):
        process = server.server_process
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=1.0)
        except Exception:
            process.kill()


def _embedded_server_running() -> bool:
    if "prefect.server.api.server" not in sys.modules:
        return False
    from prefect.server.api.server import SubprocessASGIServer

    return any(server.running for server in SubprocessASGIServer._instances.values())
