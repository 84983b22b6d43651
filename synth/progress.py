"""How far fitting and sampling have got: a tiny channel from the engines to whoever runs them.

Engines and samplers tick; whoever runs them decides where ticks go (a terminal line, a Prefect
progress artifact, a test's list) by installing a sink:

    with reporting(ticks.append):
        engine.fit(train, contract, seed=0)  # report("fit", epoch, epochs, loss=...) per epoch

Without a sink every call is a no-op, so `synth` needs no Prefect (or anything else) to run.

Stages: "fit" (done = epochs finished, total = epochs planned; an early stop reports its last
epoch as the total, so a finished fit always reads 100%) and "sample" (done = rows sampled so far,
total = rows planned). A tick carries counts and aggregates (losses, scores), never a data value.

The sink lives in a ContextVar: threads started with a copy of the context (Prefect's thread pool
task runner, `asyncio` tasks, `contextvars.copy_context().run`) tick into it; plain
`threading.Thread`s and Dask workers (another process, often another machine) have no sink, and
their ticks are dropped. Calls are serialised per `reporting` block, so a sink sees one tick at a
time and `advance` counts add up across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Tick", "advance", "report", "reporting", "silenced"]


@dataclass(frozen=True)
class Tick:
    stage: str
    done: int
    total: int | None
    aggregates: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None without a total."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


class _Channel:
    """One `reporting` block: its sink, and the running count `advance` adds to per stage."""

    def __init__(self, sink: Callable[[Tick], None]) -> None:
        self.sink = sink
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()

    def send(
        self, stage: str, done: int | None, n: int, total: int | None, **aggregates: float
    ) -> None:
        with self.lock:
            self.done[stage] = (self.done.get(stage, 0) + n) if done is None else done
            values = {name: float(value) for name, value in aggregates.items()}
            self.sink(Tick(stage, self.done[stage], total, values))


_CHANNEL: ContextVar[_Channel | None] = ContextVar("synth_progress", default=None)


def report(stage: str, done: int, total: int | None, **aggregates: float) -> None:
    """`done` of `total` finished (absolute); also the base later `advance` calls add to."""
    channel = _CHANNEL.get()
    if channel is not None:
        channel.send(stage, int(done), 0, total, **aggregates)


def advance(stage: str, n: int, total: int | None) -> None:
    """`n` more done (cumulative within the `reporting` block), for work done batch by batch or
    partition by partition, possibly in several threads."""
    channel = _CHANNEL.get()
    if channel is not None:
        channel.send(stage, None, int(n), total)


@contextmanager
def reporting(sink: Callable[[Tick], None]) -> Iterator[None]:
    """Send the ticks made inside the block (and in what inherits its context) to `sink`."""
    token = _CHANNEL.set(_Channel(sink))
    try:
        yield
    finally:
        _CHANNEL.reset(token)


@contextmanager
def silenced() -> Iterator[None]:
    """Drop the ticks made inside the block: work done on the side, such as a training monitor's
    samples, which would otherwise count as the run's sampled rows."""
    token = _CHANNEL.set(None)
    try:
        yield
    finally:
        _CHANNEL.reset(token)
