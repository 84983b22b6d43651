"""What the model store and `synth regenerate` save, on the bundled Adult job, each step a fresh
`synth` process as CI would start it (Prefect's embedded server included).

    python bench/regenerate.py [--spec examples/adult.yaml]

Steps, in one output folder: `regenerate` (never published: fits and runs), `regenerate` again
(nothing changed: runs nothing), `run` (the model is reused from the store), `run --retrain`.
Prints seconds per step and each step's speed-up over the first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "examples" / "adult.yaml"))
    args = parser.parse_args()
    synth = str(Path(sys.executable).with_name("synth"))
    with tempfile.TemporaryDirectory(prefix="synth-bench-regen-") as tmp:
        env = {**os.environ, "SYNTH_MODEL_STORE_KEY": f"{tmp}/store.key"}
        anonymeter = REPO / ".venv-anonymeter" / "bin" / "python"  # as `make bench` sets it
        if anonymeter.exists():
            env.setdefault("SYNTH_ANONYMETER_PYTHON", str(anonymeter))
        steps = [
            ("regenerate (first: fit + run)", ["regenerate", args.spec]),
            ("regenerate (unchanged)", ["regenerate", args.spec]),
            ("run (model reused)", ["run", args.spec]),
            ("run --retrain", ["run", args.spec, "--retrain"]),
        ]
        rows = []
        for name, argv in steps:
            started = time.perf_counter()
            done = subprocess.run(
                [synth, *argv, "--out", f"{tmp}/out", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - started
            last = json.loads(done.stdout.strip().splitlines()[-1])
            what = last.get("reason") or last.get("status")
            rows.append((name, seconds, done.returncode, what))
    first = rows[0][1]
    print(f"{'step':32} {'seconds':>8} {'speed-up':>9} {'exit':>5}  outcome")
    for name, seconds, code, what in rows:
        print(f"{name:32} {seconds:8.1f} {first / seconds:8.1f}x {code:5}  {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
