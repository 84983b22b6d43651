"""The `synth` command refuses bad input before Prefect starts (no server here: not slow)."""

from __future__ import annotations

from pathlib import Path

import yaml

from flows.cli import main


def _image_spec(folder: Path, source: dict) -> Path:
    spec = folder / "images.yaml"
    raw = {"kind": "images", "name": "gone", "source": source, "output": {"path": str(folder)}}
    spec.write_text(yaml.safe_dump(raw))
    return spec


def test_a_missing_image_source_is_one_line_before_any_server(tmp_path: Path, capsys) -> None:
    for source in (
        {"kind": "image_folder", "path": "no-such-folder"},
        {"kind": "image_parquet", "path": "no-such.parquet"},
    ):
        code = main(["run", str(_image_spec(tmp_path, source))])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith("synth: error: ") and source["path"] in err[0]
        assert "does not exist" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.yaml"]  # nothing written


def test_validate_spec_describes_each_kind_through_its_modality(capsys) -> None:
    from flows.cli import examples_dir

    specs = [examples_dir() / "adult.yaml", examples_dir() / "digits.yaml"]
    assert main(["validate-spec", *map(str, specs)]) == 0
    out = capsys.readouterr().out
    assert "columns)" in out and "28x28 images)" in out
