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

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "UNITS",
    "Throttle",
    "Tick",
    "advance",
    "artifact_key",
    "describe",
    "line",
    "report",
    "reporting",
    "silenced",
]


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


# --- how ticks read: for whoever shows them (flows/progress.py: log lines, Prefect artifacts) --

UNITS = {"fit": "epochs", "sample": "rows"}


class Throttle:
    """Whether a tick is worth showing: a stage's first, its last (done reaches the total), or one
    `step` of the total or `seconds` after the last one shown. Pure: time comes in as `now`."""

    def __init__(self, *, step: float = 0.1, seconds: float = 5.0) -> None:
        self.step, self.seconds = step, seconds
        self._shown: dict[str, tuple[float, float | None]] = {}  # stage -> (time, fraction)

    def due(self, tick: Tick, now: float) -> bool:
        fraction, last = tick.fraction, self._shown.get(tick.stage)
        if last is None:
            due = True
        elif fraction is None:
            due = now - last[0] >= self.seconds
        else:
            before = last[1] or 0.0
            due = (
                (fraction >= 1.0 > before)  # the final tick, once
                or now - last[0] >= self.seconds
                or fraction - before >= self.step - 1e-9
            )
        if due:
            self._shown[tick.stage] = (now, fraction)
        return due


def line(tick: Tick, units: Mapping[str, str] = UNITS) -> str:
    """One log line: "fit: epoch 12/40, loss 0.412", "sample: 40,000/100,000 rows"."""
    if tick.stage == "fit":
        text = f"fit: epoch {tick.done}" + (f"/{tick.total}" if tick.total is not None else "")
    else:
        unit = units.get(tick.stage, "")
        total = f"/{tick.total:,}" if tick.total is not None else ""
        text = f"{tick.stage}: {tick.done:,}{total} {unit}".rstrip()
    return ", ".join([text, *(f"{name} {value:.3g}" for name, value in tick.aggregates.items())])


def describe(stage: str, units: Mapping[str, str] = UNITS) -> str:
    """The artifact's description: the stage and what its percentage counts."""
    unit = units.get(stage, "steps")
    return f"synth {stage}: {unit} done of {unit} planned"


def artifact_key(prefix: str, stage: str) -> str:
    """`<prefix>-<stage>` in what Prefect allows in a key: lowercase letters, digits, dashes."""
    key = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{stage}".lower())
    return re.sub(r"-{2,}", "-", key).strip("-")
