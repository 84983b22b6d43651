"""Issue 20: a linked job names no rare real value and no real key anywhere it writes.

The attack: a child table's categorical column holds a value only two pupils have, a parent's a
value only one class has, and the real keys are recognisable. Nothing of them may reach the
synthetic tables, metrics.json, the report, the checks' metrics or the log: value protection
replaces rare values before the fit, keys are fresh, and every linked check reports aggregates.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from schemas.load import load_spec
from tests.builders import modality_steps, registered_checks

REPO = Path(__file__).resolve().parents[2]
PUPIL_CANARY = "Zqx-pupil-canary"
CLASS_CANARY = "Zqx-class-canary"


def test_no_rare_value_or_real_key_leaves_a_linked_run(tmp_path: Path, caplog) -> None:
    data = REPO / "examples" / "data" / "linked"
    classes = pd.read_parquet(data / "classes.parquet")
    pupils = pd.read_parquet(data / "pupils.parquet")
    classes["kind"] = ["common"] * (len(classes) - 1) + [CLASS_CANARY]
    pupils["club"] = ["chess", "choir"] * (len(pupils) // 2) + ["chess"] * (len(pupils) % 2)
    pupils.loc[:1, "club"] = PUPIL_CANARY
    classes["class_id"] = "real-class-" + classes["class_id"].astype(str)
    pupils["class_id"] = "real-class-" + pupils["class_id"].astype(str)
    classes.to_parquet(tmp_path / "classes.parquet", index=False)
    pupils.to_parquet(tmp_path / "pupils.parquet", index=False)
    text = (REPO / "examples" / "linked_schools.yaml").read_text()
    text = text.replace("data/linked/", "").replace("path: ../out", f"path: {tmp_path / 'out'}")
    text = text.replace(
        "multigrade: {type: boolean}",
        "multigrade: {type: boolean}\n        kind: {type: categorical}",
    )
    text = text.replace(
        "ses: {type: numerical, role: sensitive}",
        "ses: {type: numerical, role: sensitive}\n        club: {type: categorical}",
    )
    (tmp_path / "job.yaml").write_text(text)
    spec = load_spec(tmp_path / "job.yaml", overrides={"model.cache": False})
    with caplog.at_level(logging.DEBUG):
        modality, prepared, fitted, sampled = modality_steps(spec, tmp_path / "staging")
        done = registered_checks(spec, modality, prepared, fitted, sampled)
        info = modality.run_info(None, prepared, fitted, sampled, spec)
    metrics = {
        **info,
        "verdict": {
            "status": "pass",
            "checks": [r.to_dict() for r in done.values()],
            "reasons": [],
        },
        "run": {**info["run"], "job": "schools", "run_id": "canary", "kind": "linked"},
    }
    written = [json.dumps(metrics, default=str), caplog.text]
    written += [frame.to_csv() for frame in sampled.evidence.values()]
    written += [pd.read_parquet(p).to_csv() for p in sampled.staged.files]
    for canary in (PUPIL_CANARY, CLASS_CANARY, "real-class-"):
        assert not [w for w in written if canary in w], canary
    assert sampled.evidence["pupils"]["club"].isin(["chess", "choir"]).all()
