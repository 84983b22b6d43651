"""The image flow end to end on scikit-learn's digits (8x8, inside its wheel), through Prefect."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from synth.images.data import read_png_text

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _spec(folder: Path, **model) -> Path:
    spec = {
        "kind": "images",
        "name": "digits8",
        "source": {"kind": "builtin", "name": "sklearn-digits"},
        "images": {"size": 8, "channels": 1},
        "model": {"engine": "cvae", "epochs": 6, "batch_size": 64, "device": "cpu", **model},
        "sample": {"per_class": 50, "seed": 0},
        # six epochs of a small VAE on 8x8 digits: recognisable, not yet diverse enough for the
        # MNIST demo's coverage limits, which tests/unit hold the metrics to
        "checks": {"quality": {"min_coverage": 0.1, "min_class_coverage": 0.0}},
        "output": {"path": str(folder / "out")},
    }
    path = folder / "digits.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_digits_publish_hugging_face_parquet_marked_synthetic(tmp_path: Path, capsys) -> None:
    from datasets import load_dataset

    code = main(["run", str(_spec(tmp_path)), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary.get("reasons")
    assert (
        summary["rows"] == 500 and summary["metrics"]["image_quality"]["conditional_accuracy"] > 0.8
    )
    files = sorted(Path(summary["data"]).glob("*.parquet"))
    table = pq.read_table(files[0])
    assert {b"huggingface", b"synth"} <= set(table.schema.metadata)
    text = read_png_text(table.column("image")[0].as_py()["bytes"])
    assert text["synthetic"] == "true" and text["synth:run_id"] == summary["run_id"]
    loaded = load_dataset("parquet", data_files=[str(f) for f in files], split="train")
    assert loaded.features["label"].names == [str(d) for d in range(10)]
    assert loaded[0]["image"].size == (8, 8)

    report = Path(summary["report"]).read_text(encoding="utf-8")
    for section in ("Synthetic samples per class", "Training curves", "Privacy: are training"):
        assert section in report
    assert report.count("data:image/png;base64,") == 80  # 8 per class, synthetic only
    again = tmp_path / "again.html"
    assert main(["report", summary["output"], "--out", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == report


def test_a_bad_image_spec_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:
    path = _spec(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["images"]["size"] = 4
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path)]) == 2
    assert "images.size" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
