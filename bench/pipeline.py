"""Time each pipeline step on the bundled Adult job, without Prefect, at several output sizes.

Each size runs in its own subprocess so its peak RSS is its own: with sampling, checking and writing
done batch by batch, peak RSS should stay flat as the row count grows.

    python bench/pipeline.py [--engine independent] [--rows 32561,1000000] [--batch 50000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
STEPS = ("ingest", "contract", "split", "fit", "sample+stage", "expectations", "publish")


def run_one(engine_name: str, rows: int, batch: int) -> dict[str, Any]:
    """Run the demo job's steps once, as the flow composes them; return seconds per step."""
    from schemas import load_spec
    from synth.io import build_contract, read_source, source_fingerprint, split_holdout
    from synth.io.publish import RunFolders, publish, read_parts, stage_parts
    from synth.sampling import Identifiers, iter_batches, plan_batches
    from synth.tabular import make_engine
    from validation import fold
    from validation.expectations import run_batches

    overrides = {"model.engine": engine_name, "sample.rows": rows, "sample.batch_size": batch}
    spec = load_spec(REPO / "examples" / "adult.yaml", overrides=overrides)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        seconds[step] = time.perf_counter() - clock
        clock = time.perf_counter()

    frame = read_source(spec.source)
    fingerprint = source_fingerprint(spec.source, frame)
    lap("ingest")
    contract, typed = build_contract(frame, spec.dataset, label="adult", fingerprint=fingerprint)
    lap("contract")
    train, _ = split_holdout(typed, share=spec.split.holdout, seed=spec.split.seed)
    lap("split")
    engine = make_engine(spec.model.engine, spec.model.params)
    engine.fit(train[[c.name for c in contract.modelled]], contract, seed=spec.sample.seed)
    lap("fit")
    with tempfile.TemporaryDirectory() as out:
        folders = RunFolders.new(Path(out), spec.name, "bench")
        batches = plan_batches(spec.sample, default_rows=contract.rows)
        identifiers = Identifiers.for_run(contract, typed, seed=spec.sample.seed)
        staged = stage_parts(
            iter_batches(engine, batches, contract, identifiers),
            folders.staged_parts,
            contract,
            rows_per_file=spec.output.rows_per_file,
        )
        lap("sample+stage")
        result = run_batches(
            read_parts(staged), contract, spec.checks.expectations, expected_rows=staged.rows
        )
        lap("expectations")
        publish(
            folders,
            staged,
            passed=fold([result]).passed,
            metadata={},
            documents={},
            compression=spec.output.compression,
        )
        lap("publish")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": staged.rows, "seconds": seconds, "peak_rss_mib": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="independent")
    parser.add_argument("--rows", default="32561,1000000", help="comma list of output sizes")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.engine, args.one, args.batch)))
        return
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        child = [
            sys.executable,
            __file__,
            "--one",
            str(rows),
            "--engine",
            args.engine,
            "--batch",
            str(args.batch),
        ]
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    head = (
        f"{'rows':>10} " + " ".join(f"{s:>13}" for s in STEPS) + f" {'rows/s*':>9} {'peak MiB':>9}"
    )
    print(f"engine {args.engine}, batch {args.batch}; seconds per step")
    print(head)
    for r in results:
        s = r["seconds"]
        after_fit = s["sample+stage"] + s["expectations"] + s["publish"]
        cells = " ".join(f"{s[k]:>13.2f}" for k in STEPS)
        print(f"{r['rows']:>10} {cells} {r['rows'] / after_fit:>9,.0f} {r['peak_rss_mib']:>9}")
    print("* rows/s over sample+stage, expectations and publish (what grows with the row count)")


if __name__ == "__main__":
    main()
