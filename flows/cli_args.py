"""The `synth` command line: every command, its arguments and their help (flows/cli.py runs them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["build_parser"]


def build_parser(
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> argparse.ArgumentParser:
    """The `synth` command line; `commands` maps each command name to the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="synth", description="Gated synthetic data: spec -> Prefect flow -> Parquet."
    )
    sub = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add in (_run, _init, _operations, _serving):
        add(sub, commands)
    return parser


Commands = Mapping[str, Callable[[argparse.Namespace], int]]


def _run(sub: Any, commands: Commands) -> None:
    from schemas.engines import IMAGE_ENGINES, TABLE_ENGINES

    engines = ", ".join((*TABLE_ENGINES, *IMAGE_ENGINES))
    run = sub.add_parser("run", help="run one job spec through the synthesize flow")
    run.add_argument("spec", help="job spec (YAML)")
    run.add_argument(
        "--source", help="read this file or dataset folder instead of the spec's source path"
    )
    run.add_argument("--out", help="output root (default: the spec's output.path)")
    run.add_argument("--engine", help=f"engine to fit, one of {engines} (drops model.params)")
    run.add_argument(
        "--retrain",
        action="store_true",
        help="fit a new model even if one is stored for this source, spec and code",
    )
    run.add_argument(
        "--dask-address",
        metavar="ADDRESS",
        help="sample, write and check partitions on this Dask scheduler (tls://host:8786; "
        "tcp:// only with scale.allow_insecure); "
        "overrides scale.dask_address",
    )
    _common(run)
    run.set_defaults(command=commands["run"])


def _init(sub: Any, commands: Commands) -> None:
    init = sub.add_parser(
        "init", help="draft a job spec from a table (a CSV or Parquet file, or a SQL query)"
    )
    init.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="a CSV or Parquet file, a Parquet folder, or a SQLAlchemy URL (with --query)",
    )
    init.add_argument("--query", help="the SQL query whose rows are the table")
    init.add_argument(
        "--url-env", metavar="VAR", help="read the SQL URL from this variable (keeps secrets out)"
    )
    init.add_argument("--target", metavar="COL", help="the column a model would predict")
    init.add_argument(
        "--sensitive",
        metavar="COL",
        nargs="+",
        action="extend",
        default=[],
        help="columns whose groups the bias checks judge",
    )
    init.add_argument(
        "--subject",
        metavar="COL",
        help="the column naming whose row it is, when one subject has many rows (a panel): the "
        "holdout then holds whole subjects (split.by)",
    )
    init.add_argument("--name", help="job name (default: from the spec or source file name)")
    init.add_argument("--out", metavar="SPEC", help="spec file to write (default: ./NAME.yaml)")
    init.add_argument("--delimiter", help="CSV delimiter (default: guessed from the header)")
    init.add_argument("--encoding", default="utf-8", help="CSV text encoding (default: utf-8)")
    init.add_argument("--force", action="store_true", help="overwrite an existing SPEC")
    init.set_defaults(command=commands["init"])


def _operations(sub: Any, commands: Commands) -> None:
    demo = sub.add_parser("demo", help="run examples/adult.yaml on the bundled Adult census sample")
    demo.add_argument("--out", help="output root (default: ./out)")
    demo.add_argument("--seed", type=int, help="sampling and fitting seed (default: the spec's)")
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    demo.set_defaults(command=commands["demo"])

    report = sub.add_parser("report", help="re-render a run's report.html from its metrics.json")
    report.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (or OUT/<job>/latest)")
    report.add_argument("--out", help="write here instead of RUN_DIR/report.html")
    report.set_defaults(command=commands["report"])

    regen = sub.add_parser(
        "regenerate",
        help="rerun the jobs whose spec or source changed since their last published run",
    )
    regen.add_argument("specs", nargs="*", metavar="SPEC", help="job specs (default: jobs/*.yaml)")
    regen.add_argument("--out", help="output root (default: each spec's output.path)")
    regen.add_argument("--dry-run", action="store_true", help="say what would run; run nothing")
    regen.add_argument("--json", action="store_true", help="print one JSON object per job")
    regen.set_defaults(command=commands["regenerate"])


def _serving(sub: Any, commands: Commands) -> None:
    deploy = sub.add_parser("deploy", help="register each spec as a Prefect deployment")
    deploy.add_argument("specs", nargs="+", metavar="SPEC")
    deploy.set_defaults(command=commands["deploy"])

    serve = sub.add_parser(
        "serve", help="serve the specs' deployments: run their schedules and requests (blocks)"
    )
    serve.add_argument("specs", nargs="+", metavar="SPEC")
    serve.add_argument("--limit", type=int, help="at most this many runs at once")
    serve.set_defaults(command=commands["serve"])

    request = sub.add_parser(
        "request", help="ask a served deployment for a run, follow it, print verdict and output"
    )
    request.add_argument("spec", help="job spec (YAML) whose deployment to run")
    request.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    _common(request)
    request.set_defaults(command=commands["request"])

    validate = sub.add_parser("validate-spec", help="check job specs without running them")
    validate.add_argument("specs", nargs="+", metavar="SPEC")
    validate.set_defaults(command=commands["validate-spec"])

    schema = sub.add_parser("schema", help="print (or write) the job spec's JSON Schema")
    schema.add_argument("--out", help="write to this file instead of printing")
    schema.set_defaults(command=commands["schema"])


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("--rows", type=_non_negative, help="unconditioned rows to sample")
    command.add_argument("--seed", type=int, help="sampling and fitting seed")
    command.add_argument(
        "--json", action="store_true", help="print one JSON object (status, paths, metrics)"
    )


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value
