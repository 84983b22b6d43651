"""Progress of fitting and sampling, in the run's log and as Prefect progress artifacts.

    with track(get_run_logger(), key_prefix=spec.name):
        engine.fit(train, contract, seed=seed)  # ticks through synth.progress

Each stage ("fit", "sample") gets a log line at most every ~10% or ~5 s, and its final tick
("fit: epoch 12/40, loss 0.412", "sample: 40,000/100,000 rows"), and one progress artifact,
created on its first tick with a total and moved on the same schedule. An artifact the server
will not take is logged at DEBUG and given up for the stage: progress never fails a run.
Ticks carry counts and aggregates only, so neither the lines nor the artifacts hold a data value.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from uuid import UUID

from synth.progress import Tick, reporting

__all__ = ["Throttle", "artifact_key", "describe", "line", "track"]

log = logging.getLogger(__name__)

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


class _Sink:
    """Ticks -> throttled log lines and one progress artifact per stage."""

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter,
        key_prefix: str,
        clock: Callable[[], float] = time.monotonic,
        units: Mapping[str, str] = UNITS,
    ) -> None:
        self.logger, self.key_prefix, self.clock = logger, key_prefix, clock
        self.units = units
        self.throttle = Throttle()
        self.artifacts: dict[str, UUID | None] = {}  # None: the server refused one; given up

    def __call__(self, tick: Tick) -> None:
        if not self.throttle.due(tick, self.clock()):
            return
        self.logger.info("%s", line(tick, self.units))
        if tick.fraction is not None:
            self._artifact(tick.stage, 100.0 * tick.fraction)

    def _artifact(self, stage: str, percent: float) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        if stage in self.artifacts and self.artifacts[stage] is None:
            return
        artifact = self.artifacts.get(stage)
        try:
            # _sync: a tick comes from sync code, even inside an async flow
            if artifact is None:
                self.artifacts[stage] = create_progress_artifact(
                    progress=percent,
                    key=artifact_key(self.key_prefix, stage),
                    description=describe(stage, self.units),
                    _sync=True,
                )
            else:
                update_progress_artifact(artifact, progress=percent, _sync=True)
        except Exception as exc:  # progress is never worth failing a run for
            self.artifacts[stage] = None
            log.debug("progress artifact for %s not written: %s", stage, type(exc).__name__)


@contextmanager
def track(
    logger: logging.Logger | logging.LoggerAdapter, *, key_prefix: str, unit: str = "rows"
) -> Iterator[None]:
    """Log and publish the progress ticked inside the block (see `synth.progress`); `unit` is
    what sampling counts (rows, images)."""
    with reporting(_Sink(logger, key_prefix, units={**UNITS, "sample": unit})):
        yield
