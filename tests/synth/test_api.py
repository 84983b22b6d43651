"""The Python API's `Run` (no flow here: tests/e2e/test_api.py runs the README's example)."""

from __future__ import annotations

import pandas as pd
import pytest

from schemas.errors import DataError
from synth.api import Run


def test_a_quarantined_run_s_kept_rows_are_read_only_when_asked(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(data / "part-00000.parquet")
    summary = {"status": "quarantined", "job": "j", "run_id": "r", "output": str(tmp_path)}
    run = Run.from_summary(
        {**summary, "report": str(tmp_path / "report.html"), "rows": 2, "data": str(data)}
    )
    with pytest.raises(DataError, match=r"to_pandas\(quarantined=True\)"):
        run.to_pandas()
    assert len(run.to_pandas(quarantined=True)) == 2
