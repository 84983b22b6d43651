"""The table zoo: `synth init` then `synth run` with defaults on real public tables, ours beside
SDV's GaussianCopula on the same split.

    python bench/zoo.py                       # every table in bench/zoo_tables.py, both engines
    python bench/zoo.py --tables wine,cars    # some of them
    python bench/zoo.py --fast                # the CI subset
    python bench/zoo.py --markdown            # the bench/README table from the last results

Each table is written once to WORK/data (CSV, or Parquet where the package gives typed columns),
`synth init DATA --target T [--sensitive S ...] [--subject C] --out WORK/specs/NAME.yaml` writes its spec, and
`synth run SPEC --out WORK/out/ENGINE --json` runs it, as a user would: subprocesses of the
installed command, one after another. GaussianCopula runs the same spec with `--engine
gaussian_copula`, so the split, the sample plan and every check are the same code for both. Every
run appends one JSON line to WORK/results.jsonl; `--resume` skips runs already there.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # so `python bench/zoo.py` finds the registry from anywhere
from bench.zoo_tables import FAST, ZOO, ZooTable, by_name  # noqa: E402

SYNTH = Path(sys.executable).parent / "synth"
OURS, COPULA = "autoregressive", "gaussian_copula"


def _healthy(url: str) -> bool:
    """Whether the Prefect server at `url` answers (Prefect's own client; bench imports no flow)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        return client.api_healthcheck() is None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    work = Path(args.work).resolve()
    results = work / "results.jsonl"
    if args.markdown:
        print(markdown(latest_runs(results)))
        return 0
    names = (
        FAST if args.fast else (args.tables.split(",") if args.tables else [t.name for t in ZOO])
    )
    engines = args.engines.split(",")
    done = set(latest_runs(results)) if args.resume else set()
    with prefect_server(_environment(work), embedded=args.embedded) as env:
        _run_tables(by_name(names), engines, work, env, done, args.timeout)
    print(markdown(latest_runs(results)))
    return 0


def _run_tables(
    tables: list[ZooTable],
    engines: list[str],
    work: Path,
    env: dict[str, str],
    done: set[tuple[str, str]],
    timeout: float,
) -> None:
    results = work / "results.jsonl"
    for table in tables:
        if all((table.name, engine) in done for engine in engines):
            continue
        data = write_table(table, work / "data")
        spec_path = work / "specs" / f"{table.name}.yaml"
        if spec_path.exists() and any(name == table.name for name, _ in done):
            spec = {"exit_code": 0, "spec": str(spec_path)}  # the spec the other engine ran
        else:
            spec = init_spec(table, data, work / "specs", env=env, timeout=timeout)
        for engine in engines:
            if (table.name, engine) in done:
                continue
            if spec["exit_code"] != 0:  # init failed: the run cannot happen; record why
                row = {**spec, "stage": "init"}
            else:
                row = run_job(spec["spec"], work / "out" / engine, engine, env=env, timeout=timeout)
            row = {"table": table.name, "engine": engine, **_shape(data), **row}
            if spec.get("init"):
                row["init"] = spec["init"]  # init's one-line account of its guesses
            with results.open("a") as out:
                out.write(json.dumps(row, default=str) + "\n")
            print(_line(row), flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help="comma-separated zoo names (default: all)")
    parser.add_argument("--fast", action="store_true", help="the CI subset only")
    parser.add_argument("--engines", default=f"{OURS},{COPULA}")
    parser.add_argument("--work", default=str(ROOT / "out" / "zoo"))
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per command")
    parser.add_argument("--resume", action="store_true", help="skip runs already in results")
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="each run starts Prefect's embedded server (default: one `prefect server` for all)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table and exit")
    return parser


def _environment(work: Path) -> dict[str, str]:
    """One Prefect home for every run (its database migrates once), anonymeter's venv if built."""
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    env.setdefault("SYNTH_MODEL_STORE_KEY", str(work / "model-store.key"))
    anonymeter = ROOT / ".venv-anonymeter" / "bin" / "python"
    if anonymeter.exists():
        env.setdefault("SYNTH_ANONYMETER_PYTHON", str(anonymeter))
    return env


@contextmanager
def prefect_server(env: dict[str, str], *, embedded: bool) -> Iterator[dict[str, str]]:
    """One `prefect server start` on loopback for every run: each `synth run` would otherwise
    start (and on a small machine wait a minute for) its own embedded server."""
    if embedded or env.get("PREFECT_API_URL"):
        yield env
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    home = Path(env["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    with (home / "server.log").open("w") as log:
        server = subprocess.Popen(
            [*argv, "--port", str(port), "--no-ui"],
            env={**env, "PREFECT_SERVER_API_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300
            while not _healthy(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}")
                time.sleep(1.0)
            yield {**env, "PREFECT_API_URL": url}
        finally:
            server.terminate()
            server.wait(timeout=60)


def write_table(table: ZooTable, folder: Path) -> Path:
    """The table as a user would hand it over: a CSV (no index) or a Parquet file."""
    path = folder / f"{table.name}.{table.fmt}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        frame = table.load()
        staged = path.with_suffix(".tmp")
        if table.fmt == "csv":
            frame.to_csv(staged, index=False)
        else:
            frame.to_parquet(staged, index=False)
        staged.rename(path)
    return path


def _shape(data: Path) -> dict[str, int]:
    import pandas as pd
    import pyarrow.parquet as pq

    if data.suffix == ".parquet":
        meta = pq.ParquetFile(data).metadata
        return {"rows": meta.num_rows, "columns": meta.num_columns}
    rows, columns = pd.read_csv(data, dtype=str).shape
    return {"rows": rows, "columns": columns}


def init_spec(
    table: ZooTable, data: Path, folder: Path, *, env: dict[str, str], timeout: float
) -> dict[str, Any]:
    """`synth init` for the table: the spec path, or the exit code and message when it failed."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / f"{table.name}.yaml"
    argv = [str(SYNTH), "init", str(data), "--target", table.target, "--out", str(spec)]
    for column in table.sensitive:
        argv += ["--sensitive", column]
    if table.subject:
        argv += ["--subject", table.subject]
    if spec.exists():
        spec.unlink()
    done = _call(argv, env=env, timeout=timeout)
    if done["exit_code"] == 0 and spec.exists():
        return {"exit_code": 0, "spec": str(spec), "init": done["stdout"].splitlines()[0][:400]}
    return {
        "exit_code": done["exit_code"],
        "error": done["stderr_line"],
        "seconds": done["seconds"],
    }


def run_job(
    spec: str, out: Path, engine: str, *, env: dict[str, str], timeout: float
) -> dict[str, Any]:
    """`synth run SPEC --json`: verdict, reasons and the headline numbers, or why it failed."""
    argv = [str(SYNTH), "run", spec, "--out", str(out), "--json"]
    if engine != OURS:  # ours is the spec's default; GaussianCopula by flag on the same spec
        argv += ["--engine", engine]
    done = _call(argv, env=env, timeout=timeout)
    row: dict[str, Any] = {
        "stage": "run",
        "exit_code": done["exit_code"],
        "seconds": done["seconds"],
    }
    summary = done["json"]
    if summary is None:
        return {**row, "status": "timeout" if done["timed_out"] else "error",
                "error": done["stderr_line"]}  # fmt: skip
    row["status"] = summary.get("status")
    if summary.get("status") == "error":
        return {**row, "error": summary.get("error")}
    row["reasons"] = summary.get("reasons", [])
    row.update(headline(summary.get("metrics", {})))
    row.update(_run_info(Path(summary["output"]) / "metrics.json"))
    return row


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """Quality score, utility ratio, DCR share, and each check's pass flag."""
    quality, utility, privacy = (metrics.get(k, {}) for k in ("quality", "utility", "privacy"))
    return {
        "quality": quality.get("score"),
        "utility": utility.get("ratio"),
        "dcr_share": _number(privacy.get("dcr_share")),
        "failed_checks": sorted(k for k, v in metrics.items() if not v.get("passed", True)),
    }


def _number(value: Any) -> float | None:
    if isinstance(value, dict):  # a measure with its error bar: {"value": x, ...}
        value = value.get("value", value.get("share"))
    return value if isinstance(value, int | float) else None


def _run_info(path: Path) -> dict[str, Any]:
    try:
        run = json.loads(path.read_text())["run"]
    except (OSError, ValueError, KeyError):
        return {}
    return {"fit_s": run.get("fit_seconds"), "model_cache": run.get("model_cache")}


def _call(argv: list[str], *, env: dict[str, str], timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {"exit_code": None, "timed_out": True, "json": None, "stderr_line": _last_error(err),
                "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    payload = None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            try:
                payload = json.loads(line)
                break
            except ValueError:
                continue
    return {"exit_code": done.returncode, "timed_out": False, "json": payload, "stdout": done.stdout,
            "stderr_line": _last_error(done.stderr),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("synth: error:")]
    return (errors or lines or [""])[-1][:400]


def latest_runs(results: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The last recorded run of each (table, engine)."""
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    if results.exists():
        for line in results.read_text().splitlines():
            row = json.loads(line)
            runs[(row["table"], row["engine"])] = row
    return runs


def _verdict(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    if row.get("status") in ("published", "quarantined"):
        return row["status"]
    if row.get("status") == "timeout":
        return f"timeout ({row.get('seconds', 0):.0f} s)"
    return f"{row.get('status', 'error')} (exit {row.get('exit_code')}, {row.get('stage')})"


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _line(row: dict[str, Any]) -> str:
    parts = [
        f"{row['table']:<16} {row['engine']:<15} {row['rows']:>7} x {row['columns']:<3}",
        f"{_verdict(row):<12} q {_fmt(row.get('quality'))} u {_fmt(row.get('utility'))}",
        f"dcr {_fmt(row.get('dcr_share'))} fit {_fmt(row.get('fit_s'), 1)} s"
        f" ({row.get('seconds')} s in all)",
    ]
    reasons = row.get("reasons") or ([row["error"]] if row.get("error") else [])
    return "  ".join(parts) + "".join(f"\n    - {reason}" for reason in reasons)


def markdown(runs: dict[tuple[str, str], dict[str, Any]]) -> str:
    """One row per table: ours and GaussianCopula side by side; then the publish rate."""
    head = (
        "| table | rows | columns | ours | quality | utility | DCR share | fit s "
        "| GaussianCopula | quality | utility | DCR share | fit s |\n" + "| --- " * 13 + "|"
    )
    lines, tables = [head], list(dict.fromkeys(name for name, _ in runs))
    for name in tables:
        ours, copula = runs.get((name, OURS)), runs.get((name, COPULA))
        any_row = ours or copula
        cells = [name, f"{any_row['rows']:,}", str(any_row["columns"])]
        for row in (ours, copula):
            row = row or {}
            cells += [
                _verdict(row or None),
                _fmt(row.get("quality")),
                _fmt(row.get("utility")),
                _fmt(row.get("dcr_share")),
                _fmt(row.get("fit_s"), 1),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    for engine in (OURS, COPULA):
        rows = [row for (_, e), row in runs.items() if e == engine]
        published = sum(row.get("status") == "published" for row in rows)
        exit3 = sum(row.get("exit_code") == 3 for row in rows)
        if rows:
            lines.append(
                f"\n{engine}: {published}/{len(rows)} published "
                f"({published / len(rows):.0%}), {exit3} exit 3"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
