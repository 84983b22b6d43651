"""A flow that tracks progress leaves one Prefect progress artifact per stage, at 100% when done."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def test_each_stage_leaves_one_progress_artifact_at_100() -> None:
    from prefect import flow, get_run_logger
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.context import get_run_context

    from flows.progress import track
    from synth import progress

    @flow(name="progress-ticks")
    def ticking() -> str:
        with track(get_run_logger(), key_prefix="progress_test"):
            for epoch in range(1, 5):
                progress.report("fit", epoch, 4, loss=1.0 / epoch)
            for _ in range(10):
                progress.advance("sample", 1_000, 10_000)
        return str(get_run_context().flow_run.id)

    run_id = ticking()
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    progress_artifacts = [a for a in artifacts if a.type == "progress"]
    assert sorted(a.key for a in progress_artifacts) == [
        "progress-test-fit",
        "progress-test-sample",
    ]
    assert all(float(a.data) == 100.0 for a in progress_artifacts)
    assert all("done of" in (a.description or "") for a in progress_artifacts)
