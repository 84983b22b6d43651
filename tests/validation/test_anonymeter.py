"""anonymeter's attacks through the second interpreter: real anonymeter, small made-up data."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.spec import AnonymeterChecks
from validation.anonymeter_run import AnonymeterUnavailable, evaluate, interpreter

ROOT = Path(__file__).parents[2]
N = 400
QIS = ["age", "zip", "income", "city"]
SENSITIVE = ["sex", "diagnosis"]
CANARY = "CANARY-7f3a"


def _anonymeter_python() -> str:
    for candidate in (
        os.environ.get("SYNTH_ANONYMETER_PYTHON"),
        ROOT / ".venv-anonymeter/bin/python",
    ):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    reason = "no anonymeter interpreter: run `make anonymeter` or set SYNTH_ANONYMETER_PYTHON"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def settings() -> Iterator[AnonymeterChecks]:
    with pytest.MonkeyPatch.context() as patch:  # the interpreter comes from the environment only
        patch.setenv("SYNTH_ANONYMETER_PYTHON", _anonymeter_python())
        yield AnonymeterChecks(
            n_attacks=200,
            max_attempts=5_000,
            multivariate_columns=3,
            timeout_s=300,
        )


def _people(n: int, seed: int) -> pd.DataFrame:
    """Independent draws from one distribution, in the numpy dtypes synth hands over, plus the
    nullable / datetime / categorical kinds that must survive pyarrow 26 -> pyarrow 21."""
    rng = np.random.default_rng(seed)
    when = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1_000, n), "D"))
    when[::10] = pd.NaT
    city = pd.Series(rng.choice(["north", "south", "east", "west"], n), dtype=object)
    city[::7] = np.nan
    visits = pd.array(rng.integers(0, 5, n), dtype="Int64")
    visits[::9] = pd.NA
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype("float64"),
            "zip": pd.Series(rng.choice([f"Z{i:02d}" for i in range(50)], n), dtype=object),
            "income": rng.lognormal(10, 0.5, n).round(2),
            "city": city,
            "sex": pd.Series(rng.choice(["F", "M"], n), dtype=object),
            "diagnosis": pd.Series(rng.choice(["a", "b", "c", "d"], n), dtype=object),
            # Every value distinct and recognisable: none may reach the result.
            "name": pd.Series([f"{CANARY}-{seed}-{i:04d}" for i in range(n)], dtype=object),
            "seen": when,
            "visits": visits,
            "smoker": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "plan": pd.Categorical(rng.choice(["basic", "plus"], n)),
        }
    )


@pytest.fixture(scope="module")
def real() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _people(N, seed=1), _people(N, seed=2)


@pytest.fixture(scope="module")
def copied(real, settings) -> dict:
    """The synthetic set is the training set, shuffled: the worst case."""
    train, control = real
    synthetic = train.sample(frac=1.0, random_state=3).reset_index(drop=True)
    return evaluate(
        train,
        control,
        synthetic,
        quasi_identifiers=QIS,
        sensitive=SENSITIVE,
        settings=settings,
        seed=0,
    )


@pytest.fixture(scope="module")
def independent(real, settings) -> dict:
    """The synthetic set is a fresh sample of the same distribution: no leak at all."""
    train, control = real
    return evaluate(
        train,
        control,
        _people(N, seed=4),
        quasi_identifiers=QIS,
        sensitive=SENSITIVE,
        settings=settings,
        seed=0,
    )


def _each(result: dict) -> dict[str, dict]:
    ev = result["evaluators"]
    out = {k: v for k, v in ev.items() if k != "inference"}
    out.update({f"inference:{k}": v for k, v in ev["inference"].items()})
    return out


def test_a_copy_of_the_training_set_is_high_risk(copied: dict) -> None:
    each = _each(copied)
    assert set(each) == {
        "singling_out_univariate",
        "singling_out_multivariate",
        "linkability",
        "inference:sex",
        "inference:diagnosis",
    }
    assert copied["errors"] == []
    for name, entry in each.items():
        assert entry["status"] == "ok", name
        assert entry["risk"]["value"] > 0.5, (name, entry["risk"])
        assert entry["risk"]["ci"][0] > 0.3, (name, entry["risk"])
        assert entry["attack_rate"]["value"] > entry["control_rate"]["value"], name
    assert each["linkability"]["n_neighbors"] == 10
    assert each["linkability"]["aux_cols"] == [["age", "zip"], ["income", "city"]]
    assert each["singling_out_multivariate"]["n_cols"] == 3
    assert each["inference:sex"]["aux_cols"] == [c for c in _people(2, 0).columns if c != "sex"]
    assert all(v >= 0.5 for v in copied["max_risk"].values()), copied["max_risk"]


def test_an_independent_sample_is_low_risk(independent: dict) -> None:
    for name, entry in _each(independent).items():
        assert entry["status"] == "ok", name
        # The point estimate stays low and the interval reaches (almost) zero.
        assert entry["risk"]["value"] < 0.2, (name, entry["risk"])
        assert entry["risk"]["ci"][0] < 0.05, (name, entry["risk"])


def test_the_result_is_aggregates_only(copied: dict, independent: dict) -> None:
    train, control = _people(N, 1), _people(N, 2)
    values = set()
    for frame in (train, control, _people(N, 4)):
        for name in ("zip", "city", "sex", "diagnosis", "name", "plan"):
            values.update(str(v) for v in frame[name].dropna().unique())
    for result in (copied, independent):
        text = json.dumps(result)
        assert CANARY not in text
        leaked = sorted(v for v in values if f'"{v}"' in text)
        assert leaked == [], leaked


def test_types_survive_the_trip_to_the_other_interpreter(copied: dict) -> None:
    train = _people(N, 1)
    columns = copied["columns"]
    assert list(columns) == list(train.columns)
    kinds = {name: c["kind"] for name, c in columns.items()}
    assert kinds == {
        "age": "numeric",
        "zip": "categorical",
        "income": "numeric",
        "city": "categorical",
        "sex": "categorical",
        "diagnosis": "categorical",
        "name": "categorical",
        "seen": "datetime",
        "visits": "numeric",
        "smoker": "boolean",
        "plan": "categorical",
    }
    assert {n: c["nulls_in_train"] for n, c in columns.items()} == {
        n: int(train[n].isna().sum()) for n in train.columns
    }
    assert copied["rows"] == {"train": N, "control": N, "synthetic": N}


def test_the_same_seed_gives_the_same_result(real, settings, copied: dict) -> None:
    train, control = real
    synthetic = train.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = evaluate(
        train,
        control,
        synthetic,
        quasi_identifiers=QIS,
        sensitive=SENSITIVE,
        settings=settings,
        seed=0,
    )
    for name, entry in _each(copied).items():
        assert _each(again)[name]["risk"] == entry["risk"], name


def test_a_smaller_control_set_is_refused(real, settings) -> None:
    train, control = real
    with pytest.raises(ValueError, match="control"):
        evaluate(
            train,
            control.iloc[:-1],
            train,
            quasi_identifiers=QIS,
            sensitive=SENSITIVE,
            settings=settings,
            seed=0,
        )


def test_a_missing_interpreter_is_unavailable(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nowhere" / "python"
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(missing))
    with pytest.raises(AnonymeterUnavailable, match="SYNTH_ANONYMETER_PYTHON") as caught:
        interpreter()
    message = str(caught.value)
    assert str(missing) in message and "\n" not in message


def test_nothing_configured_and_nothing_installed(monkeypatch) -> None:
    import importlib.util

    if importlib.util.find_spec("anonymeter") is not None:
        pytest.skip("this interpreter has anonymeter")
    monkeypatch.delenv("SYNTH_ANONYMETER_PYTHON", raising=False)
    monkeypatch.setattr("validation.anonymeter_run.installed_venvs", list)  # no .venv-anonymeter
    with pytest.raises(AnonymeterUnavailable) as caught:
        interpreter()
    assert "make anonymeter" in str(caught.value) and "\n" not in str(caught.value)


def test_a_worker_failure_names_only_the_exception_type(tmp_path: Path, real, monkeypatch) -> None:
    """Whatever the worker prints (anonymeter quotes rows) stays out of the error."""
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *find_spec*) exit 0;; esac\n'
        f"echo 'Traceback (most recent call last):' >&2\n"
        f"echo \"KeyError: '{CANARY}'\" >&2\n"
        "exit 3\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SYNTH_ANONYMETER_PYTHON", str(fake))
    train, control = real
    with pytest.raises(RuntimeError) as caught:
        evaluate(
            train,
            control,
            train,
            quasi_identifiers=QIS,
            sensitive=SENSITIVE,
            settings=AnonymeterChecks(),
            seed=0,
        )
    assert str(caught.value) == "anonymeter worker failed (exit 3, KeyError)"
    assert caught.value.__cause__ is None and caught.value.__context__ is None
