"""Time every quality check on the real Adult sample: about 26k training rows vs 32k synthetic.

    python bench/quality.py [--engine gaussian_copula] [--rows 32561] [--repeat 1] [--json]

Fits the engine once (not timed), samples the synthetic table, then times each check exactly as the
flow calls it. Prints one table: check, seconds (best of --repeat), passed, headline metric.
The budget the issue sets is 60 s for all of them together.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="gaussian_copula")
    parser.add_argument("--rows", type=int, default=32_561)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from schemas import load_spec
    from synth.io import build_contract, read_source, split_holdout
    from synth.sampling import Batch, Identifiers, sample_batch
    from synth.tabular import make_engine
    from validation import detection, quality, utility
    from validation.expectations import check as expectations
    from validation.profile import distributions

    spec = load_spec(REPO / "examples" / "adult.yaml")
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    engine = make_engine(args.engine, spec.model.params if args.engine == spec.model.engine else {})
    engine.fit(train[[c.name for c in contract.modelled]], contract, seed=0)
    identifiers = Identifiers.for_run(contract, typed, seed=1)
    synthetic = sample_batch(
        engine, Batch(index=0, start=0, rows=args.rows, seed=1), contract, identifiers
    )
    checks = spec.checks
    steps = {
        "expectations (GX)": lambda: expectations(
            train, synthetic, holdout, contract, checks.expectations
        ),
        "quality (SDMetrics + dependence)": lambda: quality.check(
            train, synthetic, None, contract=contract, thresholds=checks.quality
        ),
        "utility (TSTR vs TRTR)": lambda: utility.check(
            train, synthetic, holdout, contract=contract, thresholds=checks.utility
        ),
        "detection (5-fold)": lambda: detection.check(
            train, synthetic, None, contract=contract, thresholds=checks.detection
        ),
        "profile (report charts)": lambda: distributions(train, synthetic, contract, min_count=10),
    }
    rows = []
    for name, run in steps.items():
        best, result = float("inf"), None
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = run()
            best = min(best, time.perf_counter() - started)
        passed = getattr(result, "passed", None)
        metrics = getattr(result, "metrics", {})
        rows.append(
            {"check": name, "seconds": round(best, 2), "passed": passed, "metrics": metrics}
        )
    total = sum(r["seconds"] for r in rows)
    print(f"engine {args.engine}: {len(train)} training rows vs {len(synthetic)} synthetic rows")
    print(f"{'check':34} {'seconds':>8}  passed  headline")
    for r in rows:
        head = {k: v for k, v in r["metrics"].items() if isinstance(v, int | float)}
        print(f"{r['check']:34} {r['seconds']:8.2f}  {r['passed']!s:6}  {json.dumps(head)}")
    print(f"{'total':34} {total:8.2f}  (budget 60 s)")
    if args.json:
        print(json.dumps(rows, default=str))
    return 0 if total < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
