"""Issue 32, item 4: a spec cannot make parsing it cost more than a page of settings does.

The attack: a 1 kB spec whose `model.params` is a billion-laughs tree of nested YAML anchors
passed `validate-spec`, and `synth run` grew past 7 GB hashing it. The loader now refuses any
alias, depth and node count are capped, and `params` is bounded for specs handed to the Python
API too: one line, exit 2, before Prefect starts, nothing under `--out`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas.errors import SpecError
from tests.builders import REPO, write_job


def _laughs(levels: int = 9) -> str:
    lines = [
        "  params:",
        '    l0: &l0 ["ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha"]',
    ]
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"    l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _bomb(tmp_path: Path, params_yaml: str) -> Path:
    spec = write_job(tmp_path / "job")
    text = spec.read_text().replace("model:\n", "model:\n" + params_yaml, 1)
    assert "model:\n" in spec.read_text()
    spec.write_text(text)
    return spec


def _synth(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return done, time.monotonic() - start


def test_a_billion_laughs_spec_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    spec = _bomb(tmp_path, _laughs())
    assert len(spec.read_bytes()) < 3000
    for command in (["validate-spec", str(spec)], ["run", str(spec)]):
        done, seconds = _synth(*command)
        assert done.returncode == 2, done.stderr[-2000:]
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines == [
            f"synth: error: {spec}: uses a YAML alias (*name); write the value out "
            f"instead at line {_first_alias_line(spec)}"
        ], lines
        assert seconds < 5 + 10, seconds  # the interpreter's start is most of it
    assert not (tmp_path / "job" / "out").exists()  # no .staging, no run folder


def _first_alias_line(spec: Path) -> int:
    return next(n for n, line in enumerate(spec.read_text().splitlines(), 1) if "*l0" in line)


def test_deep_nesting_and_huge_specs_are_refused_naming_the_file(tmp_path: Path) -> None:
    from schemas.load import load_spec

    deep = _bomb(tmp_path, "  params:\n    deep: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(SpecError, match=r"nests deeper than 32 levels at line \d+$"):
        load_spec(deep)
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: x\n" + "# padding\n" * 200_000)
    with pytest.raises(SpecError, match=r"huge.yaml: a spec is at most 1 MiB$"):
        load_spec(huge)


def test_params_are_bounded_for_specs_given_to_the_python_api(tmp_path: Path) -> None:
    """A mapping whose lists share themselves is a billion laughs without YAML."""
    import yaml

    from schemas.load import spec_from_dict

    raw = yaml.safe_load(write_job(tmp_path / "job").read_text())
    shared: list = ["ha"] * 10
    for _ in range(4):  # 10^5 values, 5 levels deep, in a few kB of memory
        shared = [shared] * 10
    start = time.monotonic()
    with pytest.raises(SpecError, match=r"model\.params.*holds more than 256 values"):
        spec_from_dict(
            {**raw, "model": {**raw["model"], "params": {"l": shared}}},
            label="api",
            base_dir=tmp_path,
        )
    with pytest.raises(SpecError, match=r"model\.params.*text longer than 1024"):
        spec_from_dict(
            {**raw, "model": {**raw["model"], "params": {"x": "a" * 5000}}},
            label="api",
            base_dir=tmp_path,
        )
    assert time.monotonic() - start < 2
    # ordinary engine settings still pass
    spec = spec_from_dict(
        {**raw, "model": {**raw["model"], "params": {"epochs": 3}}}, label="api", base_dir=tmp_path
    )
    assert spec.model.params == {"epochs": 3}
