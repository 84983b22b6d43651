"""The Prefect side of progress: throttled log lines and one progress artifact per stage."""

from __future__ import annotations

import logging

import pytest

from synth import progress


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
