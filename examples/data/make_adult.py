"""Rebuild examples/data/adult.parquet from ../shared/datasets/adult/adult.csv (deterministic).

Adds `record_id` (a key) and `full_name` / `email` (direct identifiers made up with Faker, seeded), so
that the demo exercises key regeneration and PII replacement. Run: python examples/data/make_adult.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

HERE = Path(__file__).resolve().parent
SOURCE = (
    Path(sys.argv[1])
    if len(sys.argv) > 1
    else HERE.parents[2] / "shared" / "datasets" / "adult" / "adult.csv"
)


def main() -> None:
    frame = pd.read_csv(SOURCE, na_values=["?"], skipinitialspace=True)
    faker = Faker("en_US")
    faker.seed_instance(20261126)
    rng = np.random.default_rng(20261126)
    first = [faker.first_name() for _ in range(3000)]
    last = [faker.last_name() for _ in range(3000)]
    firsts = np.asarray(first)[rng.integers(0, len(first), len(frame))]
    lasts = np.asarray(last)[rng.integers(0, len(last), len(frame))]
    domains = np.asarray(["example.com", "example.org", "example.net", "mail.test"])
    number = rng.integers(1, 10_000, len(frame))
    frame.insert(
        0,
        "email",
        [
            f"{f.lower()}.{ln.lower()}{n}@{d}"
            for f, ln, n, d in zip(
                firsts, lasts, number, domains[rng.integers(0, 4, len(frame))], strict=True
            )
        ],
    )
    frame.insert(0, "full_name", [f"{f} {ln}" for f, ln in zip(firsts, lasts, strict=True)])
    frame.insert(0, "record_id", np.arange(100_001, 100_001 + len(frame), dtype="int64"))
    frame.to_parquet(HERE / "adult.parquet", index=False, compression="zstd")


if __name__ == "__main__":
    main()
