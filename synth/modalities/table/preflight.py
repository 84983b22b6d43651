"""What `synth run` and `synth regenerate` check of a table job before Prefect starts: a bad file,
a spec that does not fit its data, or a missing tool fails in seconds, as one line, with no server
log and no fit.

The flow checks the same things again (it also runs from deployments, with no CLI in front of
it); reading the source twice is the price of refusing early, and is small next to a fit.
"""

from __future__ import annotations

from schemas.errors import SpecError
from schemas.spec import JobSpec

__all__ = ["check_setup", "preflight"]


def preflight(spec: JobSpec) -> None:
    """Raise the SynthError a run of `spec` would stop on before fitting, or return."""
    from synth.io import build_contract, read_source
    from synth.io.publish import check_partitioning
    from synth.io.readers import source_label
    from synth.sampling import typed_conditions
    from synth.tabular import make_engine

    check_setup(spec)
    frame = read_source(spec.source)
    contract, _ = build_contract(
        frame, spec.dataset, label=source_label(spec.source), written=spec.written_text()
    )
    del frame  # the flow reads its own copy
    check_partitioning(contract, spec.output.partition_by)
    typed_conditions(spec.sample, contract)
    make_engine(spec.model.engine, spec.model.engine_params())  # unknown params are SpecErrors


def check_setup(spec: JobSpec) -> None:
    """Tools the enabled checks need are installed: an anonymeter check that could not run would
    otherwise fail the gate only after the whole fit."""
    from validation.anonymeter_run import AnonymeterUnavailable, interpreter

    privacy = spec.checks.privacy
    if privacy.enabled and privacy.anonymeter.enabled:
        try:
            interpreter()  # from the environment only, never the spec
        except AnonymeterUnavailable as exc:
            raise SpecError(
                f"checks.privacy.anonymeter is enabled but cannot run: {exc} (or set "
                "checks.privacy.anonymeter.enabled: false)"
            ) from None
