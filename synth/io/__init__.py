"""Readers, the contract check, the holdout split, fingerprints and the atomic Parquet publisher."""

from synth.io.contract import build_contract
from synth.io.readers import read_source, source_fingerprint
from synth.io.split import split_holdout

__all__ = ["build_contract", "read_source", "source_fingerprint", "split_holdout"]
