"""Issue 18 item 5: nothing sensitive sits in the output tree users share and CI caches.

The model store (bootstrap keeps real rows; SDV pickles keep category frequencies and exact
extremes) lives outside the output by default, and a run that failed a gate keeps its rows only on
request, then in a 0700 folder. The CI example caches neither the store nor a secret.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from schemas import load_spec
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.io.model_store import ModelStore, store_root
from synth.io.publish import RunFolders, publish
from tests.builders import COLUMNS, REPO, adult, stage_frames, write_job

QUICK = {
    "model": {"engine": "independent"},
    # hours beyond any real row: the engine obliges, the range expectation fails the gate
    "sample": {"seed": 3, "conditions": [{"values": {"hours-per-week": 150}, "rows": 20}]},
    "checks": {
        "utility": {"enabled": False},
        "quality": {"enabled": False},
        "detection": {"enabled": False},
        "bias": {"enabled": False},
        "privacy": {"anonymeter": {"enabled": False}},
    },
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _publish_failed(out: Path, **keep: bool) -> Path:
    contract, typed = build_contract(adult(200), DatasetSchema(columns=COLUMNS), label="t")
    folders = RunFolders.new(out, "job", "r1")
    folders.begin()
    staged = stage_frames([typed], folders.staged_parts, contract)
    return publish(
        folders,
        staged,
        passed=False,
        metadata={},
        documents={"metrics.json": "{}", "report.html": "<html></html>"},
        compression="zstd",
        **keep,
    )


def test_the_default_model_store_is_a_private_cache_outside_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNTH_MODEL_STORE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # never the developer's ~/.cache
    spec = load_spec(write_job(tmp_path / "job", adult(100)))
    root = store_root(spec)
    assert root == tmp_path / "home" / ".cache" / "synth" / "models"
    assert not root.is_relative_to(Path(spec.output.path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store_root(spec) == tmp_path / "xdg" / "synth" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # XDG: a relative path is ignored
    assert store_root(spec) == root

    from synth.tabular.base import make_engine

    engine = make_engine("independent")
    contract, typed = build_contract(adult(100), spec.dataset, label="t")
    engine.fit(typed, contract, seed=0)
    ModelStore.open(root).put("k" * 64, engine)
    assert _mode(root) == 0o700


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_a_failed_run_leaves_no_models_and_no_rows_in_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack: read the shared output folder after a run whose gate failed."""
    from flows.cli import main

    monkeypatch.delenv("SYNTH_MODEL_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = write_job(tmp_path / "job", adult(400), **QUICK)
    code = main(["run", str(spec), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and summary["status"] == "quarantined" and summary["data"] is None
    out = tmp_path / "job" / "out"
    assert not [p for p in out.rglob("*") if p.name == ".models"]
    assert not [
        p
        for p in out.rglob("*")
        if p.suffix in (".parquet", ".pkl", ".json") and p.name != "metrics.json"
    ]
    assert sorted(p.name for p in Path(summary["output"]).iterdir()) == [
        "metrics.json",
        "report.html",
    ]
    stored = tmp_path / "cache" / "synth" / "models"
    assert [p for p in stored.iterdir() if not p.name.startswith(".")]  # it went here instead
    assert _mode(stored) == 0o700


def test_quarantine_keeps_no_rows_unless_asked_and_then_only_privately(tmp_path: Path) -> None:
    dropped = _publish_failed(tmp_path / "default")
    assert dropped == tmp_path / "default" / "job" / "quarantine" / "r1"
    assert sorted(p.name for p in dropped.iterdir()) == ["metrics.json", "report.html"]
    assert not list((tmp_path / "default").rglob("*.parquet"))  # nor left in staging

    kept = _publish_failed(tmp_path / "kept", keep_quarantined_rows=True)
    assert _mode(kept / "data") == 0o700
    assert list((kept / "data").glob("*.parquet"))


def test_the_spec_keeps_quarantined_rows_only_when_it_says_so(tmp_path: Path) -> None:
    default = load_spec(write_job(tmp_path / "a", adult(50)))
    asked = load_spec(write_job(tmp_path / "b", adult(50), output={"keep_quarantined_rows": True}))
    assert default.output.keep_quarantined_rows is False
    assert asked.output.keep_quarantined_rows is True
    output = default.output.model_copy(update={"keep_quarantined_rows": True})
    # what is kept of a failed run does not change what is published: regenerate ignores it
    assert default.model_copy(update={"output": output}).fingerprint() == default.fingerprint()


def test_staging_is_private_while_rows_are_unjudged(tmp_path: Path) -> None:
    folders = RunFolders.new(tmp_path, "job", "r1")
    folders.begin()
    assert _mode(folders.staging) == 0o700


def test_the_ci_example_caches_no_store_and_echoes_no_secret() -> None:
    text = (REPO / "examples" / "ci" / "regenerate.yml").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["regenerate"]["steps"]
    cached = [
        s["with"]["path"] for s in steps if str(s.get("uses", "")).startswith("actions/cache")
    ]
    assert cached == ["out"]
    env = {k: v for s in steps for k, v in (s.get("env") or {}).items()}
    assert "runner.temp" in env["SYNTH_MODEL_STORE"]  # outside out/, so never cached
    for step in steps:
        run = step.get("run", "")
        assert "secrets." not in run  # a secret reaches a command through env: only
        assert not ("echo" in run and "KEY" in run)
