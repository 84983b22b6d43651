"""Bad input: exit 2, one line naming the field or column, and nothing written under --out."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from flows.cli import main
from tests.builders import adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("synth: error:")]


def _break_csv(folder: Path) -> Path:
    spec = write_job(folder, fmt="csv")
    data = folder / "data.csv"
    data.write_text(data.read_text() + "1,2,3,4,5,6,7,8,9,10,11,12\n")
    return spec


def _short_row(folder: Path) -> Path:
    spec = write_job(folder, fmt="csv")
    data = folder / "data.csv"
    data.write_text(data.read_text() + "1,2,3\n")  # pandas would pad it with missing values
    return spec


def _semicolons(folder: Path) -> Path:
    spec = write_job(folder, fmt="csv")
    adult().to_csv(folder / "data.csv", index=False, sep=";")  # the spec says ","
    return spec


def _mixed_encoding(folder: Path) -> Path:
    spec = write_job(folder, fmt="csv")
    with (folder / "data.csv").open("ab") as handle:
        handle.write(
            "1,Zoë Noël,zoe@example.org,40,Private,Bachelors,White,Female,40,<=50K\n".encode(
                "latin-1"
            )
        )
    return spec


def _empty_file(folder: Path) -> Path:
    spec = write_job(folder, fmt="csv")
    (folder / "data.csv").write_text("")
    return spec


def _wrong_type(folder: Path) -> Path:
    frame = adult().astype({"age": object})
    frame.loc[5, "age"] = "old"
    return write_job(folder, frame, fmt="csv")


def _duplicate_key(folder: Path) -> Path:
    frame = adult()
    frame.loc[9, "record_id"] = frame.loc[8, "record_id"]
    return write_job(folder, frame)


def _edit_spec(folder: Path, edit) -> Path:
    spec = write_job(folder)
    raw = yaml.safe_load(spec.read_text())
    edit(raw)
    spec.write_text(yaml.safe_dump(raw))
    return spec


CASES = {
    "malformed csv": (_break_csv, [], "data.csv: malformed CSV"),
    "short row": (_short_row, [], "data.csv: malformed CSV: line 1202 has 3 fields, the header 10"),
    "wrong delimiter": (_semicolons, [], 'as 10 with ";": set source.delimiter: ";"'),
    "mixed encoding": (_mixed_encoding, [], "data.csv: line 1202 is not valid utf-8 text"),
    "interpreter named in the spec": (
        lambda f: _edit_spec(
            f, lambda r: r["checks"]["privacy"]["anonymeter"].update(python=str(f / "no-python"))
        ),
        [],
        "checks.privacy.anonymeter.python: no longer read from a spec",
    ),
    "empty file": (_empty_file, [], "data.csv: the file is empty"),
    "missing column": (
        lambda f: write_job(f, adult().drop(columns="race")),
        [],
        "declared column 'race' is missing",
    ),
    "wrong type": (_wrong_type, [], "column 'age': 1 of 1200 values cannot be read as numbers"),
    "duplicate key": (_duplicate_key, [], "column 'record_id': 1 duplicate values"),
    "unknown engine": (write_job, ["--engine", "magic"], "model.engine: unknown engine"),
    "engine params": (
        lambda f: _edit_spec(
            f, lambda r: r.update(model={"engine": "independent", "params": {"epochs": 3}})
        ),
        [],
        "model.params: not accepted by engine independent",
    ),
    "unseen condition value": (
        lambda f: _edit_spec(
            f,
            lambda r: r["sample"].update(
                conditions=[{"values": {"workclass": "Astronaut"}, "rows": 5}]
            ),
        ),
        [],
        "sample.conditions[0]: the value for 'workclass' never occurs in the real data",
    ),
    "unknown spec field": (
        lambda f: _edit_spec(f, lambda r: r["model"].update(epochz=3)),
        [],
        "model.epochz: unknown field",
    ),
    "missing source": (
        lambda f: _edit_spec(f, lambda r: r["source"].update(path=str(f / "gone.parquet"))),
        [],
        "gone.parquet: source file or dataset folder does not exist",
    ),
    "unreadable sql url": (
        lambda f: _edit_spec(
            f,
            lambda r: r.update(
                source={
                    "kind": "sql",
                    "url": "postgresql+nodriver://u:pw@127.0.0.1/db",
                    "query": "select 1",
                }
            ),
        ),
        [],
        "source.url: cannot use postgresql on 127.0.0.1 database db (NoSuchModuleError)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case: str, tmp_path: Path, capsys
) -> None:
    make, extra, expected = CASES[case]
    spec = make(tmp_path / "job")
    out = tmp_path / "out"
    code, err = _run(capsys, "run", str(spec), "--out", str(out), *extra)
    lines = _error_lines(err)
    assert code == 2, err
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err  # Prefect logs the failed run, without a traceback
    assert not out.exists()


def test_a_missing_anonymeter_exits_2_with_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(tmp_path / "no-python"))
    out = tmp_path / "out"
    code, err = _run(capsys, "run", str(write_job(tmp_path / "job")), "--out", str(out))
    lines = _error_lines(err)
    assert code == 2 and len(lines) == 1, err
    assert "checks.privacy.anonymeter is enabled but cannot run" in lines[0]
    assert "SYNTH_ANONYMETER_PYTHON" in lines[0] and not out.exists()


def test_a_bad_file_fails_in_seconds_before_prefect_starts(tmp_path: Path) -> None:
    spec = _short_row(tmp_path / "job")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(spec)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"synth: error: {tmp_path / 'job' / 'data.csv'}: malformed CSV: line 1202 has 3 fields, "
        "the header 10 (ragged rows are refused, not padded)"
    ]  # no server start, no flow run logged
    assert time.perf_counter() - started < 30


def test_json_mode_prints_one_object_on_error(tmp_path: Path, capsys) -> None:
    spec = write_job(tmp_path / "job")
    assert main(["run", str(spec), "--engine", "magic", "--json"]) == 2
    assert '"exit_code": 2' in capsys.readouterr().out


def test_validate_spec_command(tmp_path: Path, capsys) -> None:
    assert main(["validate-spec", str(write_job(tmp_path / "job"))]) == 0
    assert main(["validate-spec", str(tmp_path / "nope.yaml")]) == 2


def test_help_answers_fast_without_heavy_imports() -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert time.perf_counter() - started < 2.0
    assert "run" in done.stdout and "demo" in done.stdout
    probe = "import sys, flows.cli; print(sorted(m for m in ('prefect', 'sdv', 'torch', 'pandas') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
        == "[]"
    )


def test_dask_address_on_an_image_job_is_refused(tmp_path: Path, capsys) -> None:
    from flows.cli import examples_dir

    spec = examples_dir() / "digits.yaml"
    code, err = _run(
        capsys,
        "run",
        str(spec),
        "--out",
        str(tmp_path / "out"),
        "--dask-address",
        "tcp://127.0.0.1:8786",
    )
    assert code == 2
    assert _error_lines(err) == [
        "synth: error: --dask-address: digits is a job of kind images, which runs in one process"
    ]
    assert not (tmp_path / "out").exists()
