"""The image flow end to end on scikit-learn's digits (8x8, inside its wheel), through Prefect."""

import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from flows.cli import main
from synth.image.output import read_png_text
from tests.e2e.browser import (
    assert_no_console_errors,
    assert_no_remote_references,
    assert_svgs_render,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _spec(folder: Path, source: dict | None = None, **sections: Any) -> Path:
    spec = {
        "kind": "images",
        "name": "digits8",
        "source": source or {"kind": "builtin", "name": "sklearn-digits"},
        "images": {"size": 8, "channels": 1},
        # eight epochs of the default VAE: about 10 s, and it clears the default limits
        "model": {"engine": "cvae", "epochs": 8, "batch_size": 64, "device": "cpu"},
        "sample": {"per_class": 50, "seed": 0},
        "output": {"path": str(folder / "out")},
    }
    spec.update(sections)
    path = folder / "digits.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(spec: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", str(spec), *flags, "--json"])
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    code, summary = _run(_spec(tmp_path_factory.mktemp("digits")))
    assert code == 0, summary.get("reasons")
    return summary


def test_digits_publish_hugging_face_parquet_marked_synthetic(
    digits_run: dict[str, Any], tmp_path: Path
) -> None:
    from datasets import load_dataset

    summary = digits_run
    assert summary["rows"] == 500
    quality = summary["metrics"]["image_quality"]
    assert quality["conditional_accuracy"] >= 0.9 and quality["coverage"] >= 0.8, quality
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


def test_image_and_table_parquet_carry_the_same_synth_metadata_keys(
    digits_run: dict[str, Any], tmp_path: Path
) -> None:
    """One flow writes both: the same provenance (source fingerprint, engine parameters, ...)."""
    from tests.builders import adult, write_job

    output = {"path": str(tmp_path / "out"), "keep_quarantined_rows": True}
    table_job = write_job(tmp_path / "table", adult(400), output=output)
    code, table_run = _run(table_job, "--rows", "200")
    assert code in (0, 1), table_run  # published or not, its rows are kept
    keys = {}
    for kind, summary in (("images", digits_run), ("table", table_run)):
        part = next(Path(summary["data"]).rglob("*.parquet"))
        keys[kind] = set(json.loads(pq.read_schema(part).metadata[b"synth"]))
    assert keys["images"] == keys["table"]
    assert {"source_fingerprint", "engine_params", "kind", "spec_hash"} <= keys["images"]


def test_changing_only_the_schedule_leaves_regenerate_idle_for_an_image_job(
    digits_run: dict[str, Any], capsys
) -> None:
    spec = Path(digits_run["output"]).parents[2] / "digits.yaml"
    raw = yaml.safe_load(spec.read_text())
    raw["schedule"] = {"cron": "0 3 * * *"}
    scheduled = spec.with_name("digits-scheduled.yaml")
    scheduled.write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert main(["regenerate", str(scheduled), "--dry-run", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["reason"] == "unchanged", row
    raw["sample"]["seed"] = 1  # a change of meaning does rerun it
    scheduled.write_text(yaml.safe_dump(raw))
    assert main(["regenerate", str(scheduled), "--dry-run", "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["reason"] == "spec changed", row


def test_image_report_renders_offline_and_shows_only_synthetic_images(
    digits_run: dict[str, Any], browser
) -> None:
    report = Path(digits_run["report"])
    html = report.read_text(encoding="utf-8")
    browser.get(report.resolve().as_uri())
    assert browser.title.startswith("synth report")
    assert_no_remote_references(browser)
    assert_svgs_render(browser, html)
    assert_no_console_errors(browser)
    shown = browser.execute_script(
        "return [...document.images].map(i => [i.src, i.naturalWidth, i.getBoundingClientRect()"
        ".width])"
    )
    assert len(shown) == 80
    assert all(natural == 8 and width > 0 for _, natural, width in shown), shown[:3]
    for src, _, _ in shown:  # every picture in the page says it is synthetic
        png = base64.b64decode(src.split(",", 1)[1])
        assert read_png_text(png)["synthetic"] == "true"


def test_a_bad_image_spec_exits_2_naming_the_field(tmp_path: Path, capsys) -> None:
    path = _spec(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["images"]["size"] = 4
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path)]) == 2
    assert "images.size" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _digit_folder(folder: Path) -> tuple[Path, Path]:
    """sklearn's digits as class folders of PNGs, and a CSV giving each a `stroke` group: 'heavy'
    for the inkier half of its class, 'light' for the rest (a stand-in for a sensitive attribute
    that shows in the pixels, as skin tone does in faces)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images * 255 / 16), 0, 255).astype(np.uint8)
    rows = []
    for i, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
        path = folder / "images" / str(label) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        rows.append({"file": path.name, "label": label, "ink": int(image.sum())})
    frame = pd.DataFrame(rows)
    heavy = frame["ink"] > frame.groupby("label")["ink"].transform("median")
    frame["stroke"] = np.where(heavy, "heavy", "light")
    csv = folder / "groups.csv"
    frame[["file", "stroke"]].to_csv(csv, index=False)
    return folder / "images", csv


def test_sensitive_groups_are_generated_per_class_and_judged_for_quality(tmp_path: Path) -> None:
    images, csv = _digit_folder(tmp_path)
    source = {"kind": "image_folder", "path": str(images), "extra_csv": str(csv)}
    spec = _spec(tmp_path, source, images={"size": 8, "channels": 1, "sensitive": ["stroke"]})
    code, summary = _run(spec)
    assert code == 0, summary.get("reasons")
    table = pq.read_table(sorted(Path(summary["data"]).glob("*.parquet"))[0]).to_pandas()
    assert set(table["stroke"]) == {"heavy", "light"}
    shares = table.groupby("label")["stroke"].apply(lambda s: (s == "heavy").mean())
    assert shares.between(0.4, 0.6).all()  # each class keeps its half-and-half split
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    bias = next(c for c in metrics["verdict"]["checks"] if c["name"] == "image_bias")
    groups = {row["group"]: row for row in bias["charts"]["per_group_quality"]}
    assert set(groups) == {"heavy", "light"}
    assert all(
        row["accuracy"] is not None and row["coverage"] is not None for row in groups.values()
    )
    assert "largest_group_quality_gap" in bias["metrics"]
    assert metrics["run"]["conditioning_cells"] == 20
    assert "Quality per sensitive group" in Path(summary["report"]).read_text(encoding="utf-8")


def test_the_mnist_demo_publishes_recognisable_and_diverse_digits(tmp_path: Path) -> None:
    """examples/digits.yaml as shipped (MNIST 28x28, 4,000 training images, CPU): about 5 minutes."""
    spec = Path(__file__).resolve().parents[2] / "examples" / "digits.yaml"
    code, summary = _run(spec, "--out", str(tmp_path))
    assert code == 0, summary.get("reasons")
    quality = summary["metrics"]["image_quality"]
    assert quality["conditional_accuracy"] >= 0.9 and quality["coverage"] >= 0.8, quality
    assert summary["rows"] == 4000


def test_the_faces_example_publishes_only_faces_farther_from_training_than_unseen_ones(
    tmp_path: Path,
) -> None:
    """examples/faces.yaml as shipped: LFW crops, the privacy filter on at the holdout's 5%."""
    spec = Path(__file__).resolve().parents[2] / "examples" / "faces.yaml"
    code, summary = _run(spec, "--out", str(tmp_path))
    assert code == 0, summary.get("reasons")
    metrics = json.loads((Path(summary["output"]) / "metrics.json").read_text())
    checks = {c["name"]: c["metrics"] for c in metrics["verdict"]["checks"]}
    assert (
        checks["privacy_filter"]["replaced"] > 0 and checks["privacy_filter"]["not_replaced"] == 0
    )
    assert checks["image_privacy"]["memorised_share"] == 0.0
    assert checks["image_privacy"]["near_duplicate_count"] == 0
    assert "Privacy filter" in Path(summary["report"]).read_text(encoding="utf-8")
