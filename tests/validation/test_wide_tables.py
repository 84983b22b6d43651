"""Every check on a table with a 40,000-value categorical column (ZIP codes): no crash, bounded memory.

The table is built in code: a population with a ZIP-like code drawn from 40,000 values (a few rows
each), age, sex, a join date and an income that depends on them. Real and synthetic rows are
independent draws from it (for the fidelity checks, among those with a code the real rows have), so every check that judges fidelity or privacy must pass (a fresh draw
of the population is the most honest generator there is) and finish without one-hot tables of the
code's width. The checks run in a child process so its peak resident memory is theirs alone.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from schemas.contract import Contract
from schemas.spec import (
    DatasetSchema,
    DetectionChecks,
    ExpectationChecks,
    PrivacyChecks,
    QualityChecks,
    UtilityChecks,
)
from synth.io import build_contract
from tests.builders import REPO

pytestmark = pytest.mark.slow  # 30,000 rows through every check: about a minute

ZIP_CODES = 40_000
# imports and tables take ~650 MB, every check ~900 MB at peak (measured); one float64 one-hot of
# the code over 30,000 rows would take 7 GB
PEAK_RSS_LIMIT_MB = 2_000


def population(rows: int, *, seed: int, levels: int = ZIP_CODES) -> pd.DataFrame:
    """`rows` independent draws of the population."""
    rng = np.random.default_rng(seed)
    code = rng.integers(0, levels, rows)
    age = rng.integers(17, 90, rows).astype("float64")
    sex = rng.choice(["Female", "Male"], rows, p=[0.4, 0.6])
    joined = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, rows), unit="D")
    # income depends on age, sex and the code's region (its first digit), so utility has signal
    score = (age - 40) / 15 + (sex == "Male") * 0.8 + (code * 10 // levels) / 5 - 1
    income = np.where(score + rng.logistic(size=rows) > 0.5, ">50K", "<=50K")
    return pd.DataFrame(
        {
            "zip": [f"{v:05d}" for v in code],
            "age": age,
            "sex": sex,
            "joined": joined,
            "income": income,
        }
    )


SCHEMA = {
    "zip": {"type": "categorical", "role": "quasi_identifier"},
    "age": {"type": "numerical", "role": "quasi_identifier"},
    "sex": {"type": "categorical", "role": ["sensitive", "quasi_identifier"]},
    "joined": {"type": "datetime"},
    "income": {"type": "categorical", "role": "target"},
}


def wide_tables(
    train_rows: int = 30_000, *, seed: int = 0
) -> tuple[Contract, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Contract, train, holdout (a quarter as many), and two honest synthetic tables as large as
    train: fresh draws of the population, and fresh draws whose code the real rows have."""
    holdout_rows = train_rows // 4
    real = population(train_rows + holdout_rows, seed=seed)
    contract, typed = build_contract(
        real, DatasetSchema.model_validate({"columns": SCHEMA}), label="wide"
    )
    # an engine only ever writes real categories: fresh draws whose code the real rows have
    fresh = population(4 * train_rows, seed=seed + 1)
    known = fresh["zip"].isin(set(contract["zip"].categories))
    synthetic = fresh[known.to_numpy()].iloc[:train_rows].reset_index(drop=True)
    fresh = fresh.iloc[:train_rows]
    return contract, typed.iloc[:train_rows], typed.iloc[train_rows:], synthetic, fresh


def run_every_check(train_rows: int = 30_000) -> dict[str, Any]:
    """Each check function on the wide tables: pass flags, headline numbers, seconds, peak RSS."""
    from validation import detection, expectations, privacy, quality, utility
    from validation.profile import distributions

    contract, train, holdout, synthetic, fresh = wide_tables(train_rows)
    no_anonymeter = PrivacyChecks.model_validate({"anonymeter": {"enabled": False}})
    checks = {
        "quality": lambda: quality.check(
            train, synthetic, None, contract=contract, thresholds=QualityChecks()
        ),
        "utility": lambda: utility.check(
            train, synthetic, holdout, contract=contract, thresholds=UtilityChecks()
        ),
        "detection": lambda: detection.check(
            train, synthetic, None, contract=contract, thresholds=DetectionChecks()
        ),
        # an engine writes only training codes, so most of its rows share a code with one training
        # row and no holdout row: a linkage risk the privacy check is right to see. The honest
        # privacy baseline is a fresh draw of the population.
        "privacy": lambda: privacy.check(
            train, fresh, holdout, contract=contract, thresholds=no_anonymeter
        ),
        "expectations": lambda: expectations.check(
            train, synthetic, None, contract, ExpectationChecks()
        ),
    }
    out: dict[str, Any] = {}
    for name, run in checks.items():
        start = time.perf_counter()
        result = run()
        out[name] = {
            "passed": result.passed,
            "reasons": list(result.reasons),
            "metrics": result.metrics,
            "details": [d for d in result.details if d.get("expectation") == "domain"],
            "seconds": round(time.perf_counter() - start, 1),
        }
    start = time.perf_counter()
    charts = distributions(train, synthetic, contract, min_count=10)
    out["profile"] = {"charts": charts, "seconds": round(time.perf_counter() - start, 1)}
    broken = synthetic.copy()
    broken.loc[:99, "zip"] = "not-a-zip"
    outside = expectations.check(train, broken, None, contract, ExpectationChecks())
    (domain,) = [
        d for d in outside.details if d["expectation"] == "domain" and d["column"] == "zip"
    ]
    out["outside_domain"] = {"passed": outside.passed, "unexpected": domain["unexpected_count"]}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return out


@pytest.fixture(scope="module")
def wide_run() -> dict[str, Any]:
    code = "import json; from tests.validation.test_wide_tables import run_every_check as r; "
    code += "print(json.dumps(r(), default=str))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_check_finishes_on_a_40000_value_column_in_bounded_memory(wide_run) -> None:
    print({name: wide_run[name].get("seconds") for name in wide_run if name != "peak_rss_mb"})
    print("peak RSS MB", wide_run["peak_rss_mb"])
    assert wide_run["peak_rss_mb"] < PEAK_RSS_LIMIT_MB


def test_an_honest_draw_passes_fidelity_utility_and_privacy_on_a_wide_table(wide_run) -> None:
    for name in ("quality", "utility", "detection", "privacy"):
        assert wide_run[name]["passed"], (name, wide_run[name]["reasons"])
    assert 0.9 < wide_run["utility"]["metrics"]["ratio"] < 1.1
    assert wide_run["detection"]["metrics"]["roc_auc"] < 0.6
    assert 0.45 < wide_run["privacy"]["metrics"]["dcr_share"] < 0.55


def test_expectations_hold_a_wide_domain_and_count_codes_outside_it(wide_run) -> None:
    assert wide_run["expectations"]["passed"], wide_run["expectations"]["reasons"]
    (domain,) = [d for d in wide_run["expectations"]["details"] if d["column"] == "zip"]
    assert domain["unexpected_count"] == 0
    assert wide_run["outside_domain"]["passed"] is False
    assert wide_run["outside_domain"]["unexpected"] == 100


def test_the_profile_names_at_most_twenty_codes_and_only_frequent_ones(wide_run) -> None:
    (chart,) = [c for c in wide_run["profile"]["charts"] if c["column"] == "zip"]
    # 40,000 codes over 37,500 rows: none is seen 10 times, so none may be named
    assert chart["labels"] == ["other", "missing"]
    assert chart["hidden_categories"] > 20_000
