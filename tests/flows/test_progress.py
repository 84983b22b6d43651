"""The Prefect side of progress: throttled log lines and one progress artifact per stage."""

from __future__ import annotations

import logging

import pytest

from synth import progress
from synth.progress import Tick


def test_throttle_shows_first_last_and_every_tenth_or_five_seconds() -> None:
    from flows.progress import Throttle

    throttle = Throttle(step=0.1, seconds=5.0)
    shown = [d for d in range(1, 101) if throttle.due(Tick("sample", d, 100), now=d * 0.01)]
    assert shown == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    slow = Throttle(step=0.1, seconds=5.0)
    assert [d for d in range(1, 5) if slow.due(Tick("fit", d, 1000), now=d * 6.0)] == [1, 2, 3, 4]
    untotalled = Throttle()
    assert [untotalled.due(Tick("sample", d, None), now=d) for d in (0, 1, 6)] == [
        True,
        False,
        True,
    ]


def test_lines_name_the_stage_the_counts_and_the_aggregates() -> None:
    from flows.progress import artifact_key, line

    assert line(Tick("fit", 12, 40, {"loss": 0.41234})) == "fit: epoch 12/40, loss 0.412"
    assert line(Tick("sample", 40_000, 100_000)) == "sample: 40,000/100,000 rows"
    assert line(Tick("sample", 7, None)) == "sample: 7 rows"
    assert artifact_key("Adult_Small job", "fit") == "adult-small-job-fit"


def test_a_failing_artifact_client_is_logged_and_given_up(monkeypatch, caplog) -> None:
    import prefect.artifacts

    from flows.progress import track

    calls: list[float] = []

    def refuse(progress: float, **_: object) -> None:
        calls.append(progress)
        raise ConnectionError("no server")

    monkeypatch.setattr(prefect.artifacts, "create_progress_artifact", refuse)
    logger = logging.getLogger("test.progress")
    with caplog.at_level(logging.DEBUG), track(logger, key_prefix="job"):
        for epoch in range(1, 11):
            progress.report("fit", epoch, 10, loss=1.0 / epoch)
    lines = [r.getMessage() for r in caplog.records if r.name == "test.progress"]
    assert lines[0] == "fit: epoch 1/10, loss 1" and lines[-1] == "fit: epoch 10/10, loss 0.1"
    assert calls == [10.0]  # tried once, then left alone
    assert any("ConnectionError" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("stage", ["fit", "sample"])
def test_artifacts_are_created_once_then_moved(monkeypatch, stage: str) -> None:
    import uuid

    import prefect.artifacts

    from flows.progress import track

    made, moved = [], []
    monkeypatch.setattr(
        prefect.artifacts,
        "create_progress_artifact",
        lambda progress, key, description, _sync: made.append((progress, key)) or uuid.uuid4(),
    )
    monkeypatch.setattr(
        prefect.artifacts,
        "update_progress_artifact",
        lambda artifact_id, progress, _sync: moved.append(progress),
    )
    with track(logging.getLogger("test.progress"), key_prefix="job"):
        for _ in range(4):
            progress.advance(stage, 25, 100)
    assert made == [(25.0, f"job-{stage}")]
    assert moved == [50.0, 75.0, 100.0]
