"""The linked spec: the shipped examples load, `--rows` counts subjects, `--source` is refused
(one source per table), relative paths are anchored per table, and the fingerprint ignores where
output goes."""

from pathlib import Path

import pytest

from schemas.errors import SpecError
from schemas.linked_spec import LinkedJobSpec
from schemas.load import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["linked_pigs", "linked_wages", "linked_schools"])
def test_the_linked_examples_load_with_absolute_table_paths(name: str) -> None:
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    assert isinstance(spec, LinkedJobSpec) and spec.kind == "linked"
    for table in spec.tables:
        assert table.source.path.is_absolute() and table.source.path.is_file()


def test_rows_count_subjects_and_source_is_refused() -> None:
    spec = load_spec(EXAMPLES / "linked_pigs.yaml", overrides={"sample.rows": 40})
    assert spec.sample.subjects == 40
    with pytest.raises(SpecError, match=r"^--source: a linked job reads one source per table"):
        load_spec(EXAMPLES / "linked_pigs.yaml", overrides={"source.path": "x.csv"})


def test_the_fingerprint_ignores_the_output_path() -> None:
    a = load_spec(EXAMPLES / "linked_pigs.yaml")
    b = load_spec(EXAMPLES / "linked_pigs.yaml", overrides={"output.path": "/elsewhere"})
    c = load_spec(EXAMPLES / "linked_pigs.yaml", overrides={"sample.seed": 99})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
