"""Issue 32, item 3: what a source may write into the spec `synth init` drafts.

A source's file name went into the draft's header comment as it was: a file named
`people\\nchecks: {privacy: {enabled: false}, ...}\\n#.csv` broke the comment into live keys (the
privacy and bias checks off, `report.min_count: 1`, or `scale.dask_address` a remote scheduler with
`allow_insecure: true`) and `validate-spec` said ok. Every source-derived string now reaches the
draft as one double-quoted YAML scalar (line breaks and controls escaped), every comment that
mentions one is escaped the same way, and the draft is read back and compared with what `init`
meant before it is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from flows.cli import main
from schemas import InternalError, load_spec
from schemas.spec import ChecksSpec, ReportSpec, ScaleSpec
from synth.io.draft import draft_spec
from synth.io.infer import ColumnGuess
from tests.builders import adult

GATES_OFF = "checks: {privacy: {enabled: false}, bias: {enabled: false}}\nreport: {min_count: 1}\n#"
# a file name holds no `/`: YAML's escapes spell it
REMOTE = 'scale: {dask_address: "tcp:\\x2f\\x2f203.0.113.7:8786", allow_insecure: true}\n#'
HOSTILE_FILES = [
    f"people\n{GATES_OFF}.csv",
    f"people\n{REMOTE}.csv",
    f"people\r{GATES_OFF}.csv",
    f"people\x85{GATES_OFF}.csv",
    f"people\u2028{GATES_OFF}.csv",
    f"people\n---\n{GATES_OFF}.csv",
    f'people"\n{GATES_OFF}.csv',
    "people\x1b[2J\ufeff\u202e.csv",
]


def _assert_the_gates_are_as_default(spec_path: Path) -> None:
    spec = load_spec(spec_path)
    assert spec.checks == ChecksSpec()
    assert spec.checks.privacy.enabled and spec.checks.bias.enabled
    assert spec.report == ReportSpec() and spec.report.min_count == ReportSpec().min_count
    assert spec.scale == ScaleSpec()
    assert spec.scale.dask_address is None and not spec.scale.allow_insecure


def _line_holds_it_safely(line: str) -> bool:
    """A comment, or a key or value written as one double-quoted scalar."""
    stripped = line.strip()
    if stripped.startswith("#"):
        return True
    return '"' in stripped and stripped.index('"') < stripped.find("people")


@pytest.mark.parametrize("file_name", HOSTILE_FILES, ids=range(len(HOSTILE_FILES)))
def test_a_hostile_file_name_is_never_live_yaml(tmp_path: Path, file_name: str) -> None:
    data = tmp_path / file_name
    adult(60).to_csv(data, index=False)
    spec_path = tmp_path / "job.yaml"
    assert main(["init", str(data), "--out", str(spec_path)]) == 0
    _assert_the_gates_are_as_default(spec_path)
    assert load_spec(spec_path).source.path.resolve() == data.resolve()  # still names the file
    text = spec_path.read_text(encoding="utf-8")
    for char in "\r\x85\u2028\u2029\ufeff\x1b\u202e":
        assert char not in text
    raw = yaml.safe_load(text)
    assert set(raw) == {"config_version", "name", "source", "schema", "split", "model"} | {
        "sample",
        "output",
    }
    for line in text.splitlines():
        if "people" in line:
            assert _line_holds_it_safely(line), line


HOSTILE_COLUMNS = [
    "line\nbreak",
    "hash # comment",
    "key: value",
    'say "hi"',
    "it's",
    "---",
    "- item",
    "{flow: map}",
    "[flow, seq]",
    "&anchor",
    "*alias",
    "!tag",
    "? question",
    "padded  ",  # leading blanks the CSV reader skips, at init and at run alike
    "true",
    "12",
    "null",
    "back\\slash",
    "tab\there",
    "ctl\x07\x1b",
    "para\u2029graph",
    "checks: {privacy: {enabled: false}}",
]


def test_hostile_column_names_bind_to_their_own_columns(tmp_path: Path) -> None:
    rows = 60
    frame = pd.DataFrame(
        {name: [i * 7 + n for n in range(rows)] for i, name in enumerate(HOSTILE_COLUMNS)}
    )
    frame["sex"] = ["F", "M"] * (rows // 2)
    data = tmp_path / "people.csv"
    frame.to_csv(data, index=False)
    spec_path = tmp_path / "job.yaml"
    assert main(["init", str(data), "--out", str(spec_path)]) == 0
    _assert_the_gates_are_as_default(spec_path)
    spec = load_spec(spec_path)
    assert list(spec.dataset.columns) == list(frame.columns)
    text = spec_path.read_text(encoding="utf-8")
    for char in "\x07\x1b\u2029\t":
        assert char not in text


def test_a_subject_column_with_a_hostile_name_is_the_split_key(tmp_path: Path) -> None:
    frame = adult(60).rename(columns={"age": "who\nscale: {allow_insecure: true}"})
    data = tmp_path / "people.csv"
    frame.to_csv(data, index=False)
    spec_path = tmp_path / "job.yaml"
    subject = "who\nscale: {allow_insecure: true}"
    assert main(["init", str(data), "--out", str(spec_path), "--subject", subject]) == 0
    _assert_the_gates_are_as_default(spec_path)
    assert load_spec(spec_path).split.by == subject


def test_a_draft_that_does_not_read_back_as_meant_is_refused(monkeypatch) -> None:
    """The read-back is the last line of defence: a draft whose text means something else (here,
    a note whose escaping is undone) is an InternalError in one line, naming no source text."""
    import synth.io.draft as draft

    monkeypatch.setattr(draft, "note", lambda text: text)
    guess = ColumnGuess("age", {"type": "numerical"}, "x\nreport: {min_count: 1}")
    with pytest.raises(InternalError) as caught:
        draft_spec(name="job", source={"kind": "csv", "path": "a.csv"}, columns=[guess], origin="a")
    assert "\n" not in str(caught.value) and "min_count" not in str(caught.value)


def test_nothing_is_written_when_the_read_back_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    """With the quoting undone (the draft as it was), the hostile name is refused, not written."""
    import synth.io.draft as draft

    monkeypatch.setattr(draft, "quoted", lambda text: text)
    data = tmp_path / f"people\n{GATES_OFF}.csv"
    adult(60).to_csv(data, index=False)
    spec_path = tmp_path / "job.yaml"
    assert main(["init", str(data), "--out", str(spec_path)]) == 3
    assert not spec_path.exists()
    assert list(tmp_path.iterdir()) == [data]
    err = capsys.readouterr().err
    assert "does not read back as drafted" in err and "min_count" not in err
