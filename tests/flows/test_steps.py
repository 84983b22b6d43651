"""synth's log lines reach the run logger of the step that wrote them, even side by side."""

from __future__ import annotations

import logging
import threading

from flows.steps import synth_logs_to


class _RunLogger:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, level: int, message: str) -> None:
        self.lines.append(message)


def test_interleaved_steps_each_get_their_own_lines_and_leave_logging_as_it_was() -> None:
    source, log = logging.getLogger("synth"), logging.getLogger("synth.test")
    before = (list(source.handlers), source.level, source.propagate)
    a, b = _RunLogger(), _RunLogger()
    started, finish = threading.Event(), threading.Event()

    def other_step() -> None:  # a second task on another thread, closing after the first
        with synth_logs_to(b):
            log.info("b1")
            started.set()
            finish.wait(5)
            log.info("b2")

    first = synth_logs_to(a)
    first.__enter__()
    log.info("a1")
    thread = threading.Thread(target=other_step)
    thread.start()
    started.wait(5)
    log.info("a2")
    first.__exit__(None, None, None)  # the first closes while the second is open
    finish.set()
    thread.join(5)
    assert a.lines == ["a1", "a2"] and b.lines == ["b1", "b2"]
    assert (list(source.handlers), source.level, source.propagate) == before
