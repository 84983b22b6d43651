"""The autoregressive engine through the whole flow: exact rare conditions, and DP-SGD budgets."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.builders import adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

FAST = {"epochs": 8, "width": 32}
CHECKS_OFF = {  # conditioned or DP rows are judged elsewhere; these runs prove the plumbing
    "quality": {"enabled": False},
    "utility": {"enabled": False},
    "detection": {"enabled": False},
}


def _run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_rare_combination_is_sampled_exactly_through_the_flow(tmp_path: Path, capsys) -> None:
    frame = adult()
    counts = frame.value_counts(["race", "sex", "income"])
    rare = dict(zip(["race", "sex", "income"], counts.index[-1], strict=True))
    assert counts.iloc[-1] <= 3  # seen at most three times in 1,200 rows
    spec = write_job(
        tmp_path / "job",
        frame,
        model={"engine": "autoregressive", "params": FAST},
        sample={"seed": 2, "conditions": [{"values": rare, "rows": 150}]},
        checks=CHECKS_OFF,
        # quarantined (below), its rows kept so the test can read them
        output={"path": str(tmp_path / "job" / "out"), "keep_quarantined_rows": True},
    )
    code, summary = _run_json(capsys, "run", str(spec))
    # no holdout row holds the combination, so privacy cannot be judged and nothing is published
    assert code == 1, summary
    assert [r for r in summary["reasons"] if "privacy cannot be judged" not in r] == []
    rows = pq.read_table(summary["data"]).to_pandas()
    assert len(rows) == 150
    for column, value in rare.items():
        assert (rows[column] == value).all(), column


@pytest.mark.parametrize("epsilon", [1.0, 10.0])
def test_dp_run_reports_the_epsilon_spent_and_the_quality(
    epsilon: float, tmp_path: Path, capsys
) -> None:
    spec = write_job(
        tmp_path / "job",
        model={
            "engine": "autoregressive",
            "params": {"epochs": 4, "width": 32},
            "differential_privacy": {"epsilon": epsilon},
        },
        sample={"seed": 1, "rows": 800},
        checks={
            "quality": {
                "min_column_shapes": 0.0,
                "min_pair_trends": 0.0,
                "min_pair_dependence": 0.0,
                "min_diagnostic": 0.0,
            },
            "utility": {"min_ratio": 0.0},
        },
    )
    code, summary = _run_json(capsys, "run", str(spec))
    assert code in (0, 1), summary  # DP may fail another gate; the run must finish and report
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    dp = metrics["run"]["differential_privacy"]
    assert 0 < dp["epsilon_spent"] <= epsilon and dp["epsilon_budget"] == epsilon
    assert dp["noise_multiplier"] > 0 and dp["delta"] < 1 / 960  # 960 training rows
    checks = {c["name"]: c for c in metrics["verdict"]["checks"]}
    assert checks["quality"]["metrics"]["score"] > 0
    report = Path(summary["report"]).read_text()
    assert "DP epsilon spent" in report


def test_dp_budget_that_cannot_be_met_is_refused_before_writing(tmp_path: Path, capsys) -> None:
    spec = write_job(
        tmp_path / "job",
        model={
            "engine": "autoregressive",
            "params": {"epochs": 50},
            "differential_privacy": {"epsilon": 1e-6},
        },
    )
    code = main(["run", str(spec)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(
        "synth: error: model.differential_privacy: epsilon 1e-06 cannot be met"
    )
    assert not (tmp_path / "job" / "out").exists()


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_publishes_at_every_default_threshold(seed: int, tmp_path: Path, capsys) -> None:
    """The demo job (examples/adult.yaml, our engine by default) keeps every bias default and
    passes every gate: quality, utility, detection, privacy (anonymeter included) and bias."""
    from schemas import load_spec
    from schemas.spec import BiasChecks, ChecksSpec

    example = Path(__file__).resolve().parents[2] / "examples" / "adult.yaml"
    spec = load_spec(example)
    assert spec.model.engine == "autoregressive"
    assert spec.checks.bias.model_dump() == BiasChecks().model_dump()
    assert spec.checks.model_dump() == ChecksSpec().model_dump()
    argv = ("demo", "--seed", str(seed), "--out", str(tmp_path))
    code, summary = _run_json(capsys, *argv)
    assert code == 0, summary
    assert summary["status"] == "published" and summary["rows"] == 32561
    metrics = summary["metrics"]
    assert metrics["quality"]["score"] >= 0.97
    assert metrics["detection"]["roc_auc"] < 0.6
    assert metrics["bias"]["max_outcome_diff"] <= BiasChecks().max_outcome_diff
    assert pq.read_table(summary["data"]).num_rows == 32561
    if seed == 1:  # the stored model again: 2,000 rows are judged against as many real ones
        argv = ("run", str(example), "--seed", "1", "--out", str(tmp_path), "--rows", "2000")
        code, small = _run_json(capsys, *argv)
        assert code == 0, small
        assert small["rows"] == 2000
