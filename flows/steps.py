"""How a plain function becomes a Prefect task here: `@step` adds retries for transient I/O,
keeps rows out of Prefect's result store, forwards synth's own log lines (aggregates) to the run's
logger, and never lets a foreign error message (which may quote data) reach Prefect's logs or
database."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from schemas.errors import InternalError, SynthError

__all__ = ["sanitized", "step", "synth_logs_to"]

F = TypeVar("F", bound=Callable[..., Any])


def step(name: str, *, retries: int = 0) -> Callable[[F], Any]:
    """A task that holds rows: no persisted result, no cache key over its inputs, sanitized errors."""

    def decorate(fn: F) -> Any:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with sanitized(name), synth_logs_to(get_run_logger()):
                return fn(*args, **kwargs)

        return task(
            name=name,
            retries=retries,
            retry_delay_seconds=2,
            retry_condition_fn=_transient,
            persist_result=False,
            cache_policy=NONE,
        )(guarded)

    return decorate


@contextlib.contextmanager
def sanitized(step_name: str) -> Iterator[None]:
    """SynthErrors pass (one value-free line); any other error becomes an InternalError naming
    the step and the error's type, never its message, which may quote data."""
    try:
        yield
    except SynthError:
        raise
    except Exception as exc:
        if os.environ.get("SYNTH_DEBUG"):
            raise
        raise _sanitized(step_name, exc) from None


@contextlib.contextmanager
def synth_logs_to(run_logger: Any) -> Iterator[None]:
    """For the duration of the block, INFO lines of synth's own loggers (a fit's epochs: losses
    and seconds, aggregates only) go to the run's logger, so a long step shows its progress.

    The target is held per context (a ContextVar), so blocks may nest and tasks may run side by
    side on a Dask worker's threads: each line goes to the run logger of the task that wrote it.
    The synth logger is set up while any block is open (counted, so blocks may close in any
    order) and left as it was once the last one closes."""
    _open()
    token = _target.set(run_logger)
    try:
        yield
    finally:
        _target.reset(token)
        _close()


_target: contextvars.ContextVar[Any | None] = contextvars.ContextVar(
    "synth_log_target", default=None
)


class _Forward(logging.Handler):
    """To the current run's logger; a line from a thread with none goes where it would have
    gone without us (the root logger's handlers, at the root's level)."""

    def emit(self, record: logging.LogRecord) -> None:
        target = _target.get()
        if target is not None:
            target.log(record.levelno, record.getMessage())
            return
        root = logging.getLogger()
        if record.levelno >= root.getEffectiveLevel():
            root.handle(record)


_FORWARD = _Forward()
_lock = threading.Lock()
_open_blocks = 0
_saved: tuple[int, bool] = (logging.NOTSET, True)


def _open() -> None:
    global _open_blocks, _saved
    source = logging.getLogger("synth")
    with _lock:
        if _open_blocks == 0:
            _saved = (source.level, source.propagate)
            source.addHandler(_FORWARD)
            source.setLevel(logging.INFO)
            source.propagate = False  # the run logger prints them already
        _open_blocks += 1


def _close() -> None:
    global _open_blocks
    source = logging.getLogger("synth")
    with _lock:
        _open_blocks -= 1
        if _open_blocks == 0:
            source.removeHandler(_FORWARD)
            source.setLevel(_saved[0])
            source.propagate = _saved[1]


def _sanitized(step_name: str, exc: Exception) -> InternalError:
    if isinstance(exc, OSError):
        code = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return InternalError(f"{step_name}: I/O error ({code})", retryable=True)
    return InternalError(
        f"{step_name}: unexpected {type(exc).__name__}; set SYNTH_DEBUG=1 for the details"
    )


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what a retry may cure: I/O errors. Bad input fails the same way again."""
    try:
        state.result()
    except InternalError as exc:
        return exc.retryable
    except Exception:
        return False
    return False


class _NoTracebackForSynthErrors(logging.Filter):
    """SynthError messages are one value-free line: spare the console and the run logs the
    traceback Prefect attaches to every failed run."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SynthError):
            record.exc_info = None
            record.exc_text = None
        return True


for _logger in ("prefect.task_runs", "prefect.flow_runs"):
    logging.getLogger(_logger).addFilter(_NoTracebackForSynthErrors())
