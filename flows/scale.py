"""Where a run's units of work go: one task each in the flow's process, or all at once on an
existing Dask cluster through prefect-dask (`scale.dask_address`, `--dask-address`).

What a Dask worker receives holds no real identifier nor any hash of one (fakes are numbered by
output row, `synth.pii.UniqueFakes`), and it travels only over TLS unless the spec sets
`scale.allow_insecure` (`schemas.spec.ScaleSpec`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prefect import get_run_logger

from flows.steps import step
from schemas.errors import SpecError
from synth.modalities import Execute

__all__ = ["executor"]


@step("partition", retries=1)
def run_unit(work: Callable[[Any], Any], item: Any) -> Any:
    return work(item)


def executor(dask_address: str | None) -> Execute:
    """An `Execute` for the modality's `sample`: tasks here, or on the Dask cluster."""

    def here(work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [run_unit(work, item) for item in items]

    def on_dask(work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return _on_dask(work, items, str(dask_address))

    return on_dask if dask_address else here


def _on_dask(work: Callable[[Any], Any], items: Sequence[Any], address: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_dask import DaskTaskRunner

    # Workers report their task runs to this flow's server: with the embedded one, its address
    # is known only here, so it travels in the settings every submitted task carries.
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    get_run_logger().info("running %d partitions on the Dask cluster", len(items))
    runner = DaskTaskRunner(address=address, client_kwargs={"timeout": "10s"})
    with temporary_settings({PREFECT_API_URL: api_url}), runner:
        try:  # the runner connects on the first submission
            futures = [
                runner.submit(run_unit, parameters={"work": work, "item": item}) for item in items
            ]
        except (OSError, TimeoutError):
            raise SpecError(
                f"scale.dask_address: no Dask scheduler answered at {address}"
            ) from None
        return [future.result() for future in futures]
