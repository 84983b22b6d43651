"""synth's Python API: what the `synth` command does, for notebooks and scripts.

    import synth
    spec = synth.load_spec("jobs/adult.yaml")
    run = synth.run(spec, rows=5_000, seed=1)
    run.passed, run.reasons, run.report
    frame = run.to_pandas()

`run` starts the flow in this process, on the embedded Prefect server unless PREFECT_API_URL names
one (the first start takes 30-60 s); the embedded one takes a login only this process knows. Bad input raises a `SynthError` subclass (SpecError,
DataError) with a one-line message; a run that fails a gate returns a `Run` whose `passed` is
False (its report says why; nothing is published). The CLI (flows/cli.py) is a thin layer over
these functions.

This is the top layer: the only module in `synth/` that imports `flows/`, and only when a run
starts. A spec object (loaded, changed in memory with `spec.model_copy(update=...)`, or a mapping)
runs as it is when `run` is called, validated then, without being written anywhere: the flow
receives a token for it (schemas/held.py), never its contents, so Prefect's database holds no part
of the spec.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.load import load_spec  # the validated spec at a path; paths in it are its own

__all__ = ["Run", "init", "load_spec", "run"]


def init(
    source: str | Path | None,
    *,
    out: str | Path | None = None,
    name: str | None = None,
    query: str | None = None,
    url_env: str | None = None,
    target: str | None = None,
    sensitive: tuple[str, ...] | list[str] = (),
    subject: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    force: bool = False,
) -> Any:
    """Draft a job spec from a table (as `synth init`), write it to `out` (default
    `./<name>.yaml`) and return it loaded, ready for `run`. Review its guesses first."""
    from synth.modalities.table.init_spec import init_spec

    path, _ = init_spec(
        None if source is None else str(source),
        out=None if out is None else str(out),
        name=name,
        query=query,
        url_env=url_env,
        target=target,
        sensitive=tuple(sensitive),
        subject=subject,
        delimiter=delimiter,
        encoding=encoding,
        force=force,
    )
    return load_spec(path)


@dataclass(frozen=True)
class Run:
    """What a run made: its verdict, where its files are, its headline metrics."""

    status: str  # "published" or "quarantined"
    kind: str  # the modality: "table", "images"
    job: str
    run_id: str
    output: Path  # the run folder (under quarantine/ when a gate failed)
    report: Path
    data: Path | None  # the published Parquet folder; None when quarantined without rows
    latest: Path | None
    rows: int
    reasons: tuple[str, ...]
    headline: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "published"

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def verdict(self) -> dict[str, Any]:
        """The gate's verdict: `status` ("pass" or "fail"), `reasons`, and each check's result
        (name, passed, metrics) as metrics.json holds it."""
        return self.metrics["verdict"]

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's metrics.json (aggregates only: what its report shows)."""
        return json.loads((self.output / "metrics.json").read_text(encoding="utf-8"))

    def to_pandas(self, *, quarantined: bool = False) -> Any:
        """The published rows (images: Hugging Face image structs and labels) as one DataFrame;
        a linked job's as one DataFrame per table, by name.
        A quarantined run's rows (kept only with `output.keep_quarantined_rows`) failed a gate,
        perhaps the privacy gate: they are read only when asked for by `quarantined=True`."""
        import pyarrow.parquet as pq

        from schemas.errors import DataError

        if self.data is None:
            raise DataError(f"run {self.run_id} was {self.status}: it has no rows to read")
        if not self.passed and not quarantined:
            raise DataError(
                f"run {self.run_id} failed a gate: its kept rows are read only with "
                "to_pandas(quarantined=True)"
            )
        if self.kind == "linked":  # one dataset per table, in data/<table>/
            tables = sorted(p for p in self.data.iterdir() if p.is_dir())
            return {p.name: pq.read_table(p).to_pandas() for p in tables}
        return pq.read_table(self.data).to_pandas()

    def summary(self) -> dict[str, Any]:
        """The JSON object `synth run --json` prints."""
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "kind": self.kind,
            "job": self.job,
            "run_id": self.run_id,
            "output": str(self.output),
            "data": None if self.data is None else str(self.data),
            "report": str(self.report),
            "latest": None if self.latest is None else str(self.latest),
            "rows": self.rows,
            "reasons": list(self.reasons),
            "metrics": dict(self.headline),
        }

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Run:
        def path(key: str) -> Path | None:
            return Path(summary[key]) if summary.get(key) else None

        return cls(
            status=summary["status"],
            kind=summary.get("kind", "table"),
            job=summary["job"],
            run_id=summary["run_id"],
            output=Path(summary["output"]),
            report=Path(summary["report"]),
            data=path("data"),
            latest=path("latest"),
            rows=int(summary["rows"]),
            reasons=tuple(summary.get("reasons", ())),
            headline=dict(summary.get("metrics", {})),
        )


def run(
    spec: Any,
    *,
    rows: int | None = None,
    seed: int | None = None,
    source: str | Path | None = None,
    out: str | Path | None = None,
    engine: str | None = None,
    retrain: bool = False,
    dask_address: str | None = None,
    preflight: bool = True,
) -> Run:
    """Run a job: `spec` is a spec file's path, or a spec (from `load_spec` / `init`, changed in
    memory or not, or a mapping), run as it is now. The keywords override the spec as the CLI's
    flags do. Returns the `Run`, published or quarantined; raises a SynthError on bad input."""
    from schemas.errors import GateFailed
    from schemas.held import hold, release

    if out is not None:  # as given: resolving it first would follow a link planted there
        from synth.io.files import check_folder

        check_folder(out, what="--out")
    held = not isinstance(spec, str | Path)
    reference = hold(spec) if held else str(Path(spec).resolve())
    parameters: dict[str, Any] = {
        "source": str(Path(source).resolve()) if source else None,
        "out": str(Path(out).resolve()) if out else None,
        "engine": engine,
        "rows": rows,
        "seed": seed,
        "dask_address": dask_address,
    }
    try:
        if preflight:  # a bad spec or file, a missing tool: one line now, before a server starts
            _preflight(reference, parameters)
        from flows.server import lock_embedded_server
        from flows.synthesize import synthesize

        lock_embedded_server()  # no other local user reads or cancels this run (flows/server.py)
        given = {k: v for k, v in parameters.items() if v is not None}
        try:
            summary = synthesize(spec_path=reference, retrain=retrain, **given)
        except GateFailed as failed:
            summary = failed.summary
    finally:
        if held:
            release(reference)
    return Run.from_summary(summary)


def _preflight(reference: str, parameters: Mapping[str, Any]) -> None:
    from schemas.errors import SpecError
    from schemas.held import resolve_spec
    from schemas.load import flag_overrides
    from synth.io.run_folders import check_output
    from synth.modalities import modality_for

    spec = resolve_spec(reference, flag_overrides(**{**parameters, "dask_address": None}))
    check_output(
        spec.output.path, spec.name, what="--out" if parameters.get("out") else "output.path"
    )
    modality = modality_for(spec)
    if parameters.get("dask_address"):
        if "scale" not in type(spec).model_fields:
            raise SpecError(
                f"--dask-address: {spec.name} is a job of kind {modality.kind}, which runs in "
                "one process"
            )
        spec = resolve_spec(reference, flag_overrides(**parameters))
    modality.preflight(spec)
