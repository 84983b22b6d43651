"""Free text: our autoregressive engine's language model against MOSTLY AI's LSTMFromScratch-3m.

On each real text table of examples/data (Debian package descriptions; AppStream component
descriptions), one seeded train/holdout split (the job spec's, 20% holdout, seed 0), and two fits:

- `ours`: synth's `autoregressive` engine, fitted directly on the training rows with the contract
  synth builds (`build_contract` with the spec's written text): the table model, then the text
  column's word-level GRU given the row, bounded by `text_max_seconds`;
- `mostlyai`: mostlyai-engine's TabularARGN for the other columns and its language model
  `MOSTLY_AI/LSTMFromScratch-3m` (trained from scratch) for the text given the row as context,
  each bounded by `--minutes`, run by `bench/text_argn_worker.py` under `.venv-argn`
  (`make argn`; `SYNTH_ARGN_PYTHON` names another interpreter).

Each fits in its own subprocess and samples (timed): ours `--rows` rows, MOSTLY AI's
`--argn-rows`, one generation batch of its default size (128): its language model reruns the
whole prompt and text at every token on CPU (no recurrent state is carried), so a batch takes
minutes. Both are scored on the same number of rows (the first rows of each) with the pipeline's
own checks against the same real rows: `validation/text.py` (every text measure, for the
synthetic texts and for as many holdout texts) and SDMetrics quality (`validation/quality.py`:
the modelled columns; SDMetrics does not score free text).

    python bench/text.py [--tables debian,appstream] [--minutes 5] [--rows 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ARGN_PYTHON = Path(os.environ.get("SYNTH_ARGN_PYTHON", REPO / ".venv-argn" / "bin" / "python"))
MARK = "BENCH-RESULT "
TEXT = "description"
# Each table as a job would declare it; max_length is the 90th percentile of the texts' token
# counts, rounded up to 16 (Debian's is examples/debian_packages.yaml's 128). Identifiers, PII and
# the other text columns are left out: one written text column per table.
TABLES: dict[str, dict[str, Any]] = {
    "debian": {
        "path": "data/debian_packages.parquet",
        "columns": {
            "section": {"type": "categorical", "role": "target"},
            "priority": {"type": "categorical"},
            "architecture": {"type": "categorical"},
            "installed_size_kb": {"type": "numerical"},
            TEXT: {"type": "text", "max_length": 128},
        },
    },
    "appstream": {
        "path": "data/appstream.parquet",
        "columns": {
            "main_category": {"type": "categorical", "role": "target"},
            "type": {"type": "categorical"},
            "project_license": {"type": "categorical"},
            "n_categories": {"type": "numerical"},
            "n_keywords": {"type": "numerical"},
            "n_screenshots": {"type": "numerical"},
            TEXT: {"type": "text", "max_length": 176},
        },
    },
}
LOWER = ("length_ks", "token_js", "bigram_js", "detector_auc")  # fidelity: lower is better
HIGHER = ("vocabulary_coverage", "coherence_ratio", "quality")  # higher is better
MEMORY = ("rare_span_share", "exact_copy_share")  # judged against the holdout's, within noise


def prepare(table: str) -> tuple[Any, Any, Any, Any]:
    """(spec, contract, train, holdout) of one table, as the flow builds them."""
    import pandas as pd

    from schemas.load import spec_from_dict
    from synth.io import build_contract, split_holdout

    entry = TABLES[table]
    raw = {
        "config_version": 1,
        "name": f"bench-text-{table}",
        "source": {"kind": "parquet", "path": entry["path"]},
        "schema": {"columns": entry["columns"]},
        "output": {"path": "out"},
    }
    spec = spec_from_dict(raw, label=f"bench {table}", base_dir=REPO / "examples")
    frame = pd.read_parquet(REPO / "examples" / entry["path"], columns=list(entry["columns"]))
    contract, typed = build_contract(frame, spec.dataset, label=table, written=spec.written_text())
    train, holdout = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    return spec, contract, train, holdout


def run_ours(table: str, rows: int, out: Path, minutes: float) -> dict[str, Any]:
    """Child: fit and sample synth's engine on one table; write the rows; return timings."""
    from synth.tabular import make_engine

    spec, contract, train, _ = prepare(table)
    params = {**spec.model.engine_params(), "text_max_seconds": 60.0 * minutes}
    engine = make_engine("autoregressive", params)
    columns = [c.name for c in (*contract.modelled, *contract.written)]
    started = time.perf_counter()
    engine.fit(train[columns], contract, seed=spec.sample.seed)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = engine.sample(rows, seed=1)
    sample_s = time.perf_counter() - started
    synthetic.to_parquet(out)
    info = engine.info()
    text = info.get("text", {}).get(TEXT, {})
    return {
        "fit_s": fit_s,
        "sample_s": sample_s,
        "rows": len(synthetic),
        "epochs": info.get("epochs"),
        "text_epochs": text.get("epochs"),
        "text_stopped_by": text.get("stopped_by"),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(engine: str, table: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    out = folder / f"{table}-{engine}.parquet"
    if engine == "mostlyai":
        if not ARGN_PYTHON.exists():
            return {"error": f"no {ARGN_PYTHON}: run `make argn` first"}
        train = folder / f"{table}-train.parquet"
        _, contract, rows, _ = prepare(table)
        rows[[c.name for c in (*contract.modelled, *contract.written)]].to_parquet(train)
        cmd = [str(ARGN_PYTHON), str(REPO / "bench" / "text_argn_worker.py")]
        cmd += ["--train", str(train), "--text", TEXT, "--rows", str(args.argn_rows)]
        cmd += ["--out", str(out), "--seed", "1", "--max-training-time", str(args.minutes)]
        cmd += ["--workdir", str(folder)]  # removed with it, even when the worker is killed
        mark = "ARGN-RESULT "
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", table, "--out", str(out)]
        cmd += ["--rows", str(args.rows), "--minutes", str(args.minutes)]
        mark = MARK
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=args.child_timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {args.child_timeout} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(mark)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}
    result = json.loads(lines[-1][len(mark) :])
    result.setdefault("fit_s", result.get("fit_seconds"))
    result.setdefault("sample_s", result.get("sample_seconds"))
    result["path"] = str(out)
    return result


def score(table: str, path: Path, rows: int) -> dict[str, Any]:
    """The text check's measures and SDMetrics quality of one engine's first `rows` rows."""
    import pandas as pd

    from synth.sampling import conform
    from validation import quality, text

    spec, contract, train, holdout = prepare(table)
    frame = pd.read_parquet(path).head(rows).reset_index(drop=True)
    synthetic = conform(frame, contract)
    checks = spec.checks
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = text.check(train, synthetic, holdout, contract=contract, thresholds=checks.text)
        q = quality.check(train, synthetic, holdout, contract=contract, thresholds=checks.quality)
    detail = t.details[0]
    found = {k: v for k, v in detail.items() if k not in ("column", "passed")}
    found["coherence_ratio"] = detail["coherence_accuracy"] / detail["holdout_coherence_accuracy"]
    found["quality"] = q.metrics["score"]
    found["text_check_passed"] = t.passed
    found["memorisation_flags"] = [r for r in t.reasons if any(m in r for m in MEMORY)]
    return found


def report(table: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """One markdown table: each measure for ours, MOSTLY AI's and the holdout, and the ratio."""
    _, _, train, holdout = prepare(table)
    lines = [
        f"{table}: {len(train):,} training rows, {len(holdout):,} holdout rows, "
        f"{ours['scored_rows']:,} synthetic rows of each engine scored, "
        f"{ours['texts_compared']} texts compared a side",
        "",
        f"ours: table model {ours.get('epochs')} epochs, text model {ours.get('text_epochs')} "
        f"epochs (stopped by {ours.get('text_stopped_by')}); MOSTLY AI: TabularARGN "
        f"{theirs.get('epochs_tabular')} epochs ({_f(theirs.get('fit_tabular_seconds'))} s), "
        f"LSTM {theirs.get('epochs_language')} epochs ({_f(theirs.get('fit_language_seconds'))} s)",
        "",
        "| measure | ours | MOSTLY AI | holdout | ours / theirs | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    met_all = True

    def line(name: str, a: float, b: float, h: Any, target: str, met: bool | None) -> None:
        nonlocal met_all
        met_all = met_all and met is not False
        ratio = a / b if b else float("nan")
        flag = "-" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {_f(a)} | {_f(b)} | {_f(h)} | {ratio:.2f} | {target} | {flag} |")

    ro, rt = ours["rows"] / ours["sample_s"], theirs["rows"] / theirs["sample_s"]
    line(
        "fit s",
        ours["fit_s"],
        theirs["fit_s"],
        None,
        "<= 0.5x",
        ours["fit_s"] <= 0.5 * theirs["fit_s"],
    )
    line("sample rows/s", ro, rt, None, ">= 5x", ro >= 5 * rt)
    for name in LOWER:
        a, b = ours[name], theirs[name]
        line(name, a, b, ours.get(f"holdout_{name}"), "lower", a < b)
    for name in HIGHER:
        a, b = ours[name], theirs[name]
        line(name, a, b, ours.get(f"holdout_{name}"), "higher", a > b)
    for name in ("coherence_accuracy", "any_span_share", "identifier_share"):
        line(name, ours[name], theirs[name], ours[f"holdout_{name}"], "-", None)
    for name in MEMORY:
        within = not any(name in r for r in ours["memorisation_flags"])
        h = ours[f"holdout_{name}"]
        line(name, ours[name], theirs[name], h, "within noise of holdout", within)
    lines += ["", f"{table}: every target met: {'yes' if met_all else 'no'}"]
    return lines


def _f(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--engines", default="ours,mostlyai")
    parser.add_argument("--rows", type=int, default=2000, help="rows sampled (timed) and scored")
    parser.add_argument("--argn-rows", type=int, default=128, help="rows MOSTLY AI samples")
    parser.add_argument(
        "--child-timeout", type=float, default=1500.0, help="seconds a fit may take"
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="training bound per text model")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(MARK + json.dumps(run_ours(args.one, args.rows, args.out, args.minutes)))
        return 0
    results: dict[str, dict[str, dict[str, Any]]] = {}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for table in [t for t in args.tables.split(",") if t]:
            results[table] = {}
            for engine in [e for e in args.engines.split(",") if e]:
                print(f"{table}: fitting {engine} ...", file=sys.stderr, flush=True)
                r = run_child(engine, table, args, Path(tmp))
                failed = failed or "error" in r
                results[table][engine] = r
                print(f"{table} {engine}: {json.dumps(r, default=str)}", file=sys.stderr)
            done = [r for r in results[table].values() if "error" not in r]
            scored = min([r["rows"] for r in done], default=0)
            for r in done:
                r.update(score(table, Path(r["path"]), scored), scored_rows=scored)
                print(f"{table} scored: {json.dumps(r, default=str)}", file=sys.stderr)
    print(
        f"ours samples {args.rows:,} rows, MOSTLY AI {args.argn_rows:,} (timed); both scored on "
        f"the same first rows; each model's training bounded at {args.minutes} min"
    )
    for table, pair in results.items():
        if "error" not in pair.get("ours", {"error": 1}) and "error" not in pair.get(
            "mostlyai", {"error": 1}
        ):
            print("\n".join(["", *report(table, pair["ours"], pair["mostlyai"])]))
        for engine, r in pair.items():
            if "error" in r:
                print(f"{table} {engine}: FAILED ({r['error']})")
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
