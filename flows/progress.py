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
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from uuid import UUID

from synth.progress import UNITS, Throttle, Tick, artifact_key, describe, line, reporting

__all__ = ["track"]

log = logging.getLogger(__name__)


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
