"""SIGTERM or SIGINT ends a run within seconds: children stopped, staging removed, one line.

    cancel.install(say)                      # the CLI, once, in the main thread, before a run
    handle = cancel.on_cancel(cleanup)       # run by the watchdog if a signal comes first
    cancel.off(handle)                       # the work is done: nothing to undo
    with cancel.critical():                  # publish's rename and `latest`: never cut in two
        ...

An orchestrator stopping a batch job sends SIGTERM; a terminal's Ctrl-C sends SIGINT to the whole
process group, the embedded Prefect server included. Letting the exception unwind the flow does
not end a run in time: Prefect reports the crash to a server that may be gone (minutes of client
retries), and a step deep in C code sees the signal only when it returns. So the signal only
wakes a watchdog thread: through `signal.set_wakeup_fd`, written by the interpreter's C handler
the moment the signal lands, whatever the main thread is doing and whichever Python handler
(Prefect's own, during a flow run) is installed. The watchdog waits for a critical section in
flight (a rename, bounded), runs the registered clean-ups newest first (each bounded: the
embedded server, children, the run's staging), prints one line and exits 128 + the signal
(143 for SIGTERM, 130 for SIGINT) with `os._exit`: no atexit hook, no Prefect teardown, no
half of anything. A rename is atomic, so a run is published whole or not at all.

Only the CLI installs this: a notebook's `synth.run` keeps the interpreter's own handling.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

__all__ = [
    "Cancelled",
    "critical",
    "install",
    "installed",
    "off",
    "on_cancel",
    "published",
    "requested",
    "wait_if_requested",
]

SIGNALS = (signal.SIGTERM, signal.SIGINT)
CRITICAL_WAIT_S = 5.0  # the longest a rename and `latest` may hold the exit back
CLEANUP_BUDGET_S = 3.0  # every clean-up together, after which the process exits regardless

_critical = threading.Lock()
_cleanups: dict[int, Callable[[], None]] = {}
_counter = itertools.count()
_registry = threading.Lock()
_state: dict[str, object] = {"signal": None, "installed": False, "published": None}
_woken = threading.Event()


class Cancelled(BaseException):
    """The run was cancelled by a signal. A BaseException: no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"cancelled by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = 128 + signum


def installed() -> bool:
    return bool(_state["installed"])


def requested() -> int | None:
    """The signal that cancelled the run, or None."""
    return _state["signal"]  # type: ignore[return-value]


def on_cancel(cleanup: Callable[[], None]) -> int:
    """Register `cleanup` (fast, idempotent, never raising matters not: errors are ignored);
    returns a handle for `off`. Without `install` nothing ever runs it."""
    with _registry:
        handle = next(_counter)
        _cleanups[handle] = cleanup
    return handle


def off(handle: int) -> None:
    with _registry:
        _cleanups.pop(handle, None)


def published(where: str) -> None:
    """Publish calls this once the run is in place: the exit line then says so."""
    _state["published"] = where


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section a cancellation waits for (up to CRITICAL_WAIT_S) instead of cutting; once a
    signal came, entering it raises Cancelled, so nothing starts to be published after."""
    with _critical:
        signum = requested()
        if signum is not None:
            raise Cancelled(signum)
        yield


def install(say: Callable[[str, int], None]) -> None:
    """Arm the watchdog (main thread only, once per process). `say(line, exit_code)` prints the
    exit line."""
    if installed():
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)  # the C handler must never block on a full buffer
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    _state["installed"] = True
    _state["wakeup"] = (reader, writer)  # kept alive with the process
    threading.Thread(target=_watch, args=(reader, say), name="synth-cancel", daemon=True).start()


def wait_if_requested() -> None:
    """Called by the main thread on its way out: once a signal came, the watchdog owns the exit
    (its line, its code), so the main thread waits for it instead of printing an error of its
    own. A watchdog that never finishes is overtaken after a bound."""
    signum = requested()
    if signum is None:
        return
    time.sleep(CRITICAL_WAIT_S + CLEANUP_BUDGET_S + 2.0)
    os._exit(128 + int(signum))


def _handler(signum: int, frame: object) -> None:
    """The Python-level handler: the wake-up fd has already woken the watchdog; this is the
    second way, in case some library replaced the fd. It never raises into the run."""
    _state["signal"] = _state["signal"] or signum
    _woken.set()


def _watch(reader: socket.socket, say: Callable[[str, int], None]) -> None:
    reader.settimeout(0.5)
    while True:
        try:
            data = reader.recv(64)
        except TimeoutError:
            data = b""
        except OSError:
            return
        got = next((b for b in data if b in SIGNALS), None)
        if got is not None or _woken.is_set():
            signum = _state["signal"] or got
            _state["signal"] = signum
            _shutdown(int(signum), say)  # type: ignore[arg-type]


def _shutdown(signum: int, say: Callable[[str, int], None]) -> None:
    held = _critical.acquire(timeout=CRITICAL_WAIT_S)  # a rename in flight finishes first
    deadline = time.monotonic() + CLEANUP_BUDGET_S
    with _registry:
        cleanups = [_cleanups[k] for k in sorted(_cleanups, reverse=True)]
    for cleanup in cleanups:
        if time.monotonic() > deadline:
            break
        with contextlib.suppress(Exception):
            cleanup()
    name = signal.Signals(signum).name
    where = _state["published"]
    if where:
        line = f"cancelled by {name} after the run was published ({where})"
    else:
        line = f"cancelled by {name}; nothing was published, the run's staging was removed"
    with contextlib.suppress(Exception):
        say(line, 128 + signum)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    del held
    os._exit(128 + signum)
