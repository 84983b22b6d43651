"""Time each pipeline step on the bundled Adult job, without Prefect, at several output sizes.

Each size runs in its own subprocess so its peak RSS is its own: with sampling, checking and writing
done batch by batch, peak RSS should stay flat as the row count grows. `--workers N` runs the
partitions on a Dask LocalCluster of N single-threaded worker processes (plain `distributed`, the
same `run_partition` the flow sends through prefect-dask) and reports each worker's peak RSS too.

    python bench/pipeline.py [--engine gaussian_copula] [--rows 1000000,10000000] [--workers 2]
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
STEPS = ("ingest", "contract", "split", "fit", "partitions", "publish")
GROWING = ("partitions", "publish")  # the steps whose work grows with the row count


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(engine_name: str, rows: int, batch: int, workers: int) -> dict[str, Any]:
    """Run the demo job's steps once, as the flow composes them; return seconds per step."""
    from schemas import load_spec
    from synth.io import build_contract, read_source, source_fingerprint, split_holdout
    from synth.io.publish import RunFolders, StagedParts, publish
    from synth.modalities.table.partitions import plan_work, run_partition
    from synth.sampling import Identifiers, plan_batches
    from synth.tabular import make_engine
    from validation import fold
    from validation.expectations import judge

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
    train, _ = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    lap("split")
    engine = make_engine(spec.model.engine, spec.model.params)
    engine.fit(train[[c.name for c in contract.modelled]], contract, seed=spec.sample.seed)
    lap("fit")
    before = _peak_mib()
    worker_peaks: list[float] = []
    with tempfile.TemporaryDirectory() as out:
        folders = RunFolders.new(Path(out), spec.name, "bench")
        batches = plan_batches(spec.sample, default_rows=contract.rows)
        identifiers = Identifiers.for_run(contract, typed, seed=spec.sample.seed)
        partitions = plan_work(spec, contract, identifiers, batches, folders.staged_parts)
        if workers:
            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                lap("cluster start")
                remote = client.scatter(engine, broadcast=True)
                futures = [client.submit(run_partition, p, remote, pure=False) for p in partitions]
                results = client.gather(futures)
                worker_peaks = list(client.run(_peak_mib).values())
        else:
            results = [run_partition(p, engine) for p in partitions]
        staged = StagedParts(tuple(r.path for r in results), sum(r.rows for r in results))
        verdict = judge([r.expectations for r in results], expected_rows=rows)
        lap("partitions")
        publish(
            folders,
            staged,
            passed=fold([verdict]).passed,
            metadata={},
            documents={},
            compression=spec.output.compression,
        )
        lap("publish")
    return {
        "rows": staged.rows,
        "partitions": len(partitions),
        "passed": verdict.passed,
        "seconds": seconds,
        "partition_seconds": {
            k: round(sum(r.seconds[k] for r in results), 1) for k in ("sample", "check", "write")
        },
        "peak_rss_mib": round(_peak_mib()),
        "peak_rss_after_fit_mib": round(before),
        "worker_peak_rss_mib": [round(p) for p in worker_peaks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="gaussian_copula")
    parser.add_argument("--rows", default="1000000,10000000", help="comma list of output sizes")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument(
        "--workers", type=int, default=0, help="Dask LocalCluster workers (0: none)"
    )
    parser.add_argument("--json", action="store_true", help="also print the raw results")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.engine, args.one, args.batch, args.workers)))
        return
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        child = [sys.executable, __file__, "--one", str(rows), "--engine", args.engine]
        child += ["--batch", str(args.batch), "--workers", str(args.workers)]
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    where = f"{args.workers} Dask workers" if args.workers else "one process"
    print(f"engine {args.engine}, batch {args.batch}, {where}; seconds per step")
    print(
        f"{'rows':>10} {'parts':>5} "
        + " ".join(f"{s:>10}" for s in STEPS)
        + f" {'rows/s*':>9} {'peak MiB':>8} {'after fit':>9} {'workers MiB':>11} gate"
    )
    for r in results:
        s = r["seconds"]
        growing = sum(s[k] for k in GROWING)
        cells = " ".join(f"{s[k]:>10.1f}" for k in STEPS)
        peaks = "/".join(str(p) for p in r["worker_peak_rss_mib"]) or "-"
        print(
            f"{r['rows']:>10,} {r['partitions']:>5} {cells} {r['rows'] / growing:>9,.0f} "
            f"{r['peak_rss_mib']:>8} {r['peak_rss_after_fit_mib']:>9} {peaks:>11} "
            f"{'pass' if r['passed'] else 'FAIL'}"
        )
    print("inside the partitions (seconds summed over workers): sample / expectations / write")
    for r in results:
        p = r["partition_seconds"]
        print(f"{r['rows']:>10,}  {p['sample']:>8.1f} / {p['check']:>8.1f} / {p['write']:>6.1f}")
    print(
        "* rows/s over partitions (sample, fake identifiers, expectations on every row, staged "
        "write) and publish (zstd rewrite with metadata, fsync, rename)"
    )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
