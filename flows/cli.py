"""The `synth` command. Launches flows; maps the SynthError hierarchy to exit codes in one place.

Exit codes: 0 published, 1 a gate failed (run quarantined), 2 bad spec or input, 3 internal error,
143 / 130 cancelled by SIGTERM / SIGINT (the line says whether anything was published).
Heavy libraries load only inside commands, so `synth --help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_PUBLISHED, EXIT_GATE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C; a SIGTERM-cancelled run exits 143 (128 + the signal)


def examples_dir() -> Path:
    """The bundled examples: $SYNTH_EXAMPLES, else the checkout's `examples/` (editable installs)."""
    configured = os.environ.get("SYNTH_EXAMPLES")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "examples"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.program = argv is None  # the `synth` process itself, not a caller inside Python
    os.environ.setdefault("DO_NOT_TRACK", "1")  # GX sets its own off where it is imported
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The embedded server migrates a fresh database on first start: 30-60 s on a small machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from synth import cancel

    try:
        code = args.command(args)
    except KeyboardInterrupt:  # a command that armed no watchdog (synth/cancel.py)
        cancel.wait_if_requested()
        return _fail(args, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # the one place errors become exit codes
        cancel.wait_if_requested()  # a cancelled run: the watchdog has the last word
        return _handle(exc, args)
    cancel.wait_if_requested()
    return code


def _arm_cancellation(args: argparse.Namespace) -> None:
    """SIGTERM and SIGINT end a run within seconds, exit 143 / 130 (synth/cancel.py). Only in
    the `synth` process: a Python caller of `main` (a test) keeps its own signal handling."""
    from synth import cancel

    if not getattr(args, "program", False):
        return

    cancel.install(lambda line, code: _fail(args, line, code))


def _handle(exc: Exception, args: argparse.Namespace) -> int:
    from schemas.errors import GateFailed, SynthError

    if isinstance(exc, GateFailed) and getattr(args, "json", False):
        _print_json(exc.summary)
        return EXIT_GATE
    if isinstance(exc, SynthError):
        return _fail(args, str(exc), exc.exit_code)
    if os.environ.get("SYNTH_DEBUG"):
        raise exc
    if isinstance(exc, RuntimeError) and "ephemeral Prefect API server" in str(exc):
        message = (
            "Prefect's embedded server did not start in time; retry, raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL"
        )
    else:  # messages of foreign exceptions may quote data: name the type only
        message = f"internal error ({type(exc).__name__}); set SYNTH_DEBUG=1 for a traceback"
    return _fail(args, message, EXIT_INTERNAL)


def _fail(args: argparse.Namespace, message: str, exit_code: int) -> int:
    """One line on stderr; with --json also one object on stdout."""
    line = " ".join(message.split())
    print(f"synth: error: {line}", file=sys.stderr)
    if getattr(args, "json", False):
        _print_json({"status": "error", "exit_code": exit_code, "error": line})
    return exit_code


def _print_json(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, default=str), flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    """`synth.run` with the flags: the spec is checked before Prefect starts (exit 2)."""
    import synth
    from synth.modalities import modality_for

    _arm_cancellation(args)
    run = synth.run(
        args.spec,
        source=args.source,
        out=args.out,
        engine=args.engine,
        rows=args.rows,
        seed=args.seed,
        retrain=getattr(args, "retrain", False),
        dask_address=getattr(args, "dask_address", None),
    )
    if args.json:
        _print_json(run.summary())
    elif run.passed:
        print(f"published {run.rows} {modality_for(run.kind).unit}: {run.data}")
        print(f"report: {run.report}")
    else:
        reasons = "; ".join(run.reasons)
        _fail(args, f"gate failed, run quarantined at {run.output}: {reasons}", run.exit_code)
    return run.exit_code


def cmd_demo(args: argparse.Namespace) -> int:
    args.spec = str(examples_dir() / "adult.yaml")
    args.source = None
    args.out = args.out or "out"
    args.engine = args.rows = None
    return cmd_run(args)


def cmd_regenerate(args: argparse.Namespace) -> int:
    """For each spec: skip it when its last published run came from the same spec and source,
    else run it. Prints job, reason, verdict, output; exits 1 when any gate failed. Every spec is
    checked before anything runs, so a bad one stops the batch with exit 2 and nothing written."""
    import synth
    from schemas.errors import SpecError
    from schemas.load import flag_overrides, load_spec
    from synth.io.lineage import why_regenerate
    from synth.io.run_folders import check_output
    from synth.modalities import modality_for

    _arm_cancellation(args)
    paths = [Path(p) for p in args.specs] or sorted(Path("jobs").glob("*.yaml"))
    if not paths:
        raise SpecError("regenerate: no specs given and no jobs/*.yaml here")
    out = str(Path(args.out).resolve()) if args.out else None
    specs = [(path, load_spec(path, overrides=flag_overrides(out=out))) for path in paths]
    reasons = [why_regenerate(spec) for _, spec in specs]
    if not args.dry_run:
        for (_, spec), reason in zip(specs, reasons, strict=True):
            if reason is not None:
                check_output(spec.output.path, spec.name, what="--out" if out else "output.path")
                modality_for(spec).preflight(spec)  # every job that will run is checked first
    rows, failed = [], False
    for (path, spec), reason in zip(specs, reasons, strict=True):
        row = {"job": spec.name, "spec": str(path), "reason": reason or "unchanged"}
        if reason is None:
            latest = Path(spec.output.path) / spec.name / "latest"
            rows.append({**row, "verdict": "-", "output": str(latest.resolve())})
        elif args.dry_run:
            rows.append({**row, "verdict": "would run", "output": "-"})
        else:
            run = synth.run(path, out=out, preflight=False)
            failed = failed or not run.passed
            rows.append({**row, "verdict": run.status, "output": str(run.output)})
    if args.json:
        for row in rows:
            _print_json(row)
    else:
        _print_table(rows, ("job", "reason", "verdict", "output"))
    return EXIT_GATE if failed else EXIT_PUBLISHED


def cmd_init(args: argparse.Namespace) -> int:
    """Draft a job spec from a table; `synth run` accepts it as written."""
    from synth.io.draft import describe
    from synth.modalities.table.init_spec import init_spec

    flags = (
        "out",
        "name",
        "query",
        "url_env",
        "target",
        "subject",
        "delimiter",
        "encoding",
        "force",
    )
    options = {flag: getattr(args, flag) for flag in flags}
    path, guesses = init_spec(args.source, sensitive=tuple(args.sensitive), **options)
    print(f"wrote {path}: {describe(guesses)}")
    print(f"review the guesses, then: synth run {path}")
    return EXIT_PUBLISHED


def cmd_deploy(args: argparse.Namespace) -> int:
    from flows.deployments import deployments, require_server

    require_server("deploy")
    for deployment in deployments(args.specs):
        deployment_id = deployment.apply()
        print(f"deployed {deployment.flow_name}/{deployment.name} ({deployment_id})")
    print("serve them with: synth serve SPEC...")
    return EXIT_PUBLISHED


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.deployments import require_server, serve, serve_environment

    require_server("serve")
    os.environ.update(serve_environment(args.specs))  # which spec each deployment runs, here
    serve(args.specs, limit=args.limit, announce=lambda line: print(line, flush=True))
    return EXIT_PUBLISHED


def cmd_request(args: argparse.Namespace) -> int:
    """Run the spec's deployment with these overrides (the server's runner does the work), wait,
    and report as `synth run` does: 0 published, 1 quarantined, 3 crashed or timed out."""
    from prefect.deployments import run_deployment

    from flows.deployments import deployment_name, request_parameters, require_server

    require_server("request")
    # a served deployment takes only these two, bounded (flows/deployments.py)
    parameters = request_parameters(rows=args.rows, seed=args.seed)
    run = run_deployment(
        deployment_name(args.spec), parameters=parameters, timeout=args.timeout, as_subflow=False
    )
    state = run.state
    if state is None or not state.is_final():
        return _fail(args, f"request: run {run.id} did not finish in {args.timeout:g} s", 3)
    summary = _summary_of(run.id)
    if summary is None:
        return _fail(args, f"request: run {run.id} ended {state.name}, without a summary", 3)
    if args.json:
        _print_json(summary)
    else:
        print(f"{summary['status']}: {summary['output']}")
        for reason in summary.get("reasons", []):
            print(f"  {reason}")
    return EXIT_PUBLISHED if summary["status"] == "published" else EXIT_GATE


def _summary_of(flow_run_id: Any) -> dict[str, Any] | None:
    """The run summary the flow left as its `synth-summary` artifact (aggregates and paths)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    for artifact in found:
        if artifact.key and artifact.key.startswith("synth-summary"):
            return json.loads(str(artifact.data).split("```json", 1)[1].split("```", 1)[0])
    return None


def _print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def cmd_report(args: argparse.Namespace) -> int:
    from schemas.errors import DataError
    from synth.io.files import write_atomic
    from synth.modalities import modality_for

    run_dir = _run_folder(Path(args.run_dir))
    source = run_dir / "metrics.json"
    try:
        metrics = json.loads(source.read_text(encoding="utf-8"))
        html = modality_for(metrics.get("run", {}).get("kind") or "table").render(metrics)
    except FileNotFoundError:
        raise DataError(f"{source}: no such file (is {run_dir} a synth run folder?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{source}: not valid JSON") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"{source}: not a synth metrics file (missing or bad field {exc})"
        ) from None
    target = Path(args.out) if args.out else run_dir / "report.html"
    write_atomic(target, html)  # never through a link planted in the run folder
    print(f"report: {target}")
    return EXIT_PUBLISHED


def _run_folder(given: Path) -> Path:
    """The run folder `synth report` reads and writes: `given`, or, when it is the job's
    `latest`, the run that link names (synth made it: a sibling's bare name). Any other link is
    refused: a folder planted as a link would have the report written wherever it points."""
    from schemas.errors import OutputError

    if not given.is_symlink():
        return given
    name = os.readlink(given)
    run = given.parent / name
    if given.name == "latest" and "/" not in name and run.is_dir() and not run.is_symlink():
        return run
    raise OutputError(f"{given}: is a symbolic link synth did not make; give the run folder")


def cmd_validate_spec(args: argparse.Namespace) -> int:
    from schemas import load_spec
    from synth.modalities import modality_for

    for path in args.specs:
        spec = load_spec(path)
        what = modality_for(spec).describe(spec)
        print(f"{path}: ok (job {spec.name}, engine {spec.model.engine}, {what})")
    return EXIT_PUBLISHED


def cmd_schema(args: argparse.Namespace) -> int:
    from schemas import json_schema
    from synth.io.files import write_atomic

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_PUBLISHED


def _parser() -> argparse.ArgumentParser:
    from flows.cli_args import build_parser

    return build_parser(
        {
            "run": cmd_run,
            "init": cmd_init,
            "demo": cmd_demo,
            "report": cmd_report,
            "regenerate": cmd_regenerate,
            "deploy": cmd_deploy,
            "serve": cmd_serve,
            "request": cmd_request,
            "validate-spec": cmd_validate_spec,
            "schema": cmd_schema,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
