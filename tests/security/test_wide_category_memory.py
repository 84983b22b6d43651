"""Issue 18, item 7: one wide categorical column must not exhaust memory in the privacy checks.

The attack: a source with a 40,000-value column (ZIP codes) on 20,000 training rows. A dense
float64 one-hot of it is 20,000 rows x ~18,000 seen codes x 8 bytes = 2.9 GB for the training
rows alone (the issue measured 14 GiB for the training transform at its size), and as much again
for the holdout and the synthetic rows. The paths that encode rows for a distance or a classifier
(the privacy check's distances and membership attack, the privacy filter's guard, which transforms
every training row, and the detection classifier) run in a child process, whose resident memory
may grow by less than 1 GiB (measured: about 330 MB). anonymeter's own encoding runs in its worker
process and is not covered here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.builders import REPO

ADDED_RSS_LIMIT_MB = 1536  # a dense one-hot: 2,900 MB; alone ~350 MB, ~1,070-1,150 within the suite
TRAIN_ROWS = 20_000


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_wide_paths(train_rows: int = TRAIN_ROWS) -> dict[str, Any]:
    """The encoding paths on the wide tables, in this process: resident memory before, the peak
    after, and what each path returned."""
    import resource

    import torch

    from schemas.spec import DetectionChecks, PrivacyChecks
    from tests.validation.test_wide_tables import wide_tables
    from validation import detection, privacy

    torch.set_num_threads(1)
    contract, train, holdout, synthetic, fresh = wide_tables(train_rows)
    assert len(contract["zip"].categories) > 15_000  # the premise: a very wide column
    settings = PrivacyChecks.model_validate({"anonymeter": {"enabled": False}})
    before = _resident_mb()
    result = privacy.check(train, fresh, holdout, contract=contract, thresholds=settings)
    guard = privacy.DistanceGuard.fit(train, holdout, contract, 0.05)
    kept = guard.keep(fresh[[c.name for c in contract.modelled]])
    found = detection.check(train, synthetic, None, contract=contract, thresholds=DetectionChecks())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "added_mb": round(peak - before, 1),
        "dcr_share": result.metrics.get("dcr_share"),
        "kept": int(kept.sum()),
        "roc_auc": found.metrics.get("roc_auc"),
    }


def test_a_40000_value_column_encodes_for_distances_and_detection_in_bounded_memory() -> None:
    code = "import json; from tests.security.test_wide_category_memory import run_wide_paths; "
    code += "print(json.dumps(run_wide_paths()))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(out)
    assert out["added_mb"] < ADDED_RSS_LIMIT_MB, out
    # the paths did their work on the wide column: an honest draw is neither copied nor detected
    assert 0.4 < out["dcr_share"] < 0.6 and out["kept"] > TRAIN_ROWS // 2
    assert out["roc_auc"] < 0.6
