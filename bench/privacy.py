"""The privacy gate on the real Adult sample: per-check seconds, and what it says about each case.

    python bench/privacy.py [--cases gaussian_copula,bootstrap,copy,leak,unseen] [--no-anonymeter]

For each case the synthetic table is built (not timed), then the privacy check runs exactly as the
flow calls it, with the defaults of examples/adult.yaml (anonymeter included when installed: `make
anonymeter`). Cases:
  gaussian_copula, independent, bootstrap: an engine fitted on the training split, as many rows as
      the source; bootstrap resamples training rows (the negative control);
  copy:   the training rows, shuffled;
  leak:   gaussian_copula rows with 30% of them replaced by training rows;
  unseen: half of the holdout as "synthetic", judged against the other half (no false alarm).
Prints one table of per-check seconds per case, then each case's verdict and headline measures.
The issue's budget: the whole gate under 3 minutes on Adult on this 2-core machine.
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

CASES = ("gaussian_copula", "bootstrap", "copy", "leak", "unseen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--no-anonymeter", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import numpy as np
    import pandas as pd

    from schemas import load_spec
    from synth.io import build_contract, read_source, split_holdout
    from synth.tabular import make_engine
    from validation import privacy
    from validation.anonymeter_run import runner as anonymeter_runner

    spec = load_spec(REPO / "examples" / "adult.yaml")
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    modelled = [c.name for c in contract.modelled]
    settings = spec.checks.privacy

    def engine_rows(name: str, rows: int) -> pd.DataFrame:
        engine = make_engine(name)
        engine.fit(train[modelled], contract, seed=0)
        return engine.sample(rows, seed=1)

    results = []
    for case in args.cases.split(","):
        reference = holdout
        if case == "copy":
            synthetic = train.sample(frac=1.0, random_state=3).reset_index(drop=True)
        elif case == "leak":
            synthetic = engine_rows("gaussian_copula", len(typed))
            n = int(0.3 * len(synthetic))
            copied = train[modelled].sample(n, random_state=5)
            synthetic = pd.concat([synthetic.iloc[n:], copied]).sample(frac=1.0, random_state=6)
        elif case == "unseen":
            order = np.random.default_rng(1).permutation(len(holdout))
            synthetic = holdout.iloc[order[: len(order) // 2]]
            reference = holdout.iloc[order[len(order) // 2 :]]
        else:
            synthetic = engine_rows(case, len(typed))
        runner = None if args.no_anonymeter else anonymeter_runner(contract, settings, seed=7)
        started = time.perf_counter()
        result = privacy.check(
            train,
            synthetic.reset_index(drop=True),
            reference,
            contract=contract,
            thresholds=settings,
            anonymeter=runner,
        )
        total = time.perf_counter() - started
        results.append({"case": case, "seconds": round(total, 1), "result": result})

    if args.json:
        print(json.dumps([{**r, "result": r["result"].to_dict()} for r in results], default=str))
        return 0
    steps = list(results[0]["result"].charts.get("seconds", {}))
    print(f"Adult: {len(train)} training rows, {len(holdout)} holdout rows\n")
    print(f"{'case':16}" + "".join(f"{s[:12]:>13}" for s in steps) + f"{'total':>9}")
    for r in results:
        seconds = r["result"].charts.get("seconds", {})
        print(
            f"{r['case']:16}"
            + "".join(f"{seconds.get(s, 0):>13.2f}" for s in steps)
            + f"{r['seconds']:>9.1f}"
        )
    print()
    for r in results:
        check = r["result"]
        print(f"{r['case']:16} {'PASS' if check.passed else 'FAIL'}")
        for row in check.details:
            mark = " " if row["passed"] else "x"
            print(
                f"   {mark} {row['synthetic']:>8} (honest {row['honest baseline']}) {row['measure']}"
            )
        for reason in check.reasons:
            if reason.startswith("anonymeter:"):
                print(f"   ! {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
