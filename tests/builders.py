"""Small, real test data built in code: slices of the bundled Adult sample and job specs around them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parent.parent
ADULT = REPO / "examples" / "data" / "adult.parquet"
CANARY_NAME = "Zyxqwv Canarypii"
CANARY_EMAIL = "zyxqwv.canary7f3a9@leak.test"
COLUMNS: dict[str, dict[str, Any]] = {
    "record_id": {"type": "id", "role": "key"},
    "full_name": {"type": "text", "role": "pii", "pii_kind": "name"},
    "email": {"type": "text", "role": "pii"},
    "age": {"type": "numerical", "role": "quasi_identifier", "constraints": {"min": 17, "max": 90}},
    "workclass": {"type": "categorical"},
    "education": {"type": "categorical", "role": "quasi_identifier"},
    "race": {"type": "categorical", "role": ["sensitive", "quasi_identifier"]},
    "sex": {"type": "categorical", "role": ["sensitive", "quasi_identifier"]},
    "hours-per-week": {"type": "numerical"},
    "income": {"type": "categorical", "role": "target"},
}


def adult(
    rows: int = 1200, *, seed: int = 0, canary: bool = True, extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A seeded sample of real Adult rows with the test columns; row 0 carries canary identifiers."""
    frame = pd.read_parquet(ADULT, columns=[*COLUMNS, *extra]).sample(n=rows, random_state=seed)
    frame = frame.reset_index(drop=True)
    if canary:
        frame.loc[0, "full_name"] = CANARY_NAME
        frame.loc[0, "email"] = CANARY_EMAIL
    return frame


def spec(
    source: Path, *, name: str = "adult-small", out: Path | None = None, **sections: Any
) -> dict[str, Any]:
    kind = "csv" if source.suffix == ".csv" else "parquet"
    raw: dict[str, Any] = {
        "config_version": 1,
        "name": name,
        "source": {"kind": kind, "path": str(source)},
        "schema": {"columns": {k: dict(v) for k, v in COLUMNS.items()}},
        "model": {"engine": "gaussian_copula"},
        "sample": {"seed": 3, "batch_size": 500},
        # The default thresholds are set for real table sizes. A few hundred rows are too few for
        # a useful income model or stable pair scores from any engine, so these pipeline tests
        # loosen them; tests/validation/test_quality.py holds the defaults to the whole Adult sample.
        "checks": {
            "utility": {"min_ratio": 0.0},
            "quality": {"min_column_shapes": 0.6, "min_pair_trends": 0.3},
            # the holdout has a few hundred rows: as many attacks as that is all anonymeter can make
            "privacy": {"anonymeter": {"n_attacks": 300, "max_attempts": 15000}},
        },
        "output": {"path": str(out) if out else "out"},
    }
    raw.update(sections)
    return raw


def write_job(
    folder: Path, frame: pd.DataFrame | None = None, *, fmt: str = "parquet", **sections: Any
) -> Path:
    """Write data + spec into `folder`; return the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = adult() if frame is None else frame
    source = folder / f"data.{fmt}"
    if fmt == "csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(spec(source, out=folder / "out", **sections), sort_keys=False))
    return path


def stage_frames(frames: list[pd.DataFrame], folder: Path, contract: Any) -> Any:
    """`frames` staged as the pipeline stages them: one Parquet part per frame (`write_part`)."""
    from synth.io.publish import StagedParts, write_part

    files = tuple(folder / f"part-{i:05d}.parquet" for i in range(len(frames)))
    rows = sum(write_part([f], path, contract) for f, path in zip(frames, files, strict=True))
    return StagedParts(files, rows)


def modality_steps(spec: Any, staging: Path) -> tuple[Any, Any, Any, Any]:
    """A spec's modality run step by step in this process, as the flow runs it but without
    Prefect: (modality, prepared, fitted, sampled), the model always fitted anew."""
    from synth.modalities import modality_for

    modality = modality_for(spec)
    prepared = modality.prepare(modality.read(spec), spec)
    fitted = modality.fit(prepared, spec, retrain=True)
    sampled = modality.sample(
        fitted,
        prepared,
        spec,
        staging=staging,
        execute=lambda work, items: [work(item) for item in items],
        run_id="test",
    )
    return modality, prepared, fitted, sampled


def registered_checks(spec: Any, modality: Any, prepared: Any, fitted: Any, sampled: Any) -> dict:
    """Every registered check of the spec's modality on those steps' output, by name."""
    from validation.registry import checks_for

    done: dict = {}
    for name, check in checks_for(modality.kind).items():
        inputs = modality.check_inputs(name, prepared, fitted, sampled, spec, done)
        if inputs is not None:
            done[name] = check(
                inputs.real,
                inputs.synthetic,
                inputs.holdout,
                contract=inputs.contract,
                thresholds=inputs.thresholds,
                **inputs.keywords,
            )
    return done


def panel_job(folder: Path, frame: pd.DataFrame, types: dict[str, str], **table: Any) -> dict:
    """A linked job's mapping over one panel table written to `folder/panel.parquet`: `types`
    maps each column to its type; `table` adds `subject`, `order_by` and the like."""
    frame.to_parquet(folder / "panel.parquet", index=False)
    columns = {name: {"type": kind} for name, kind in types.items()}
    return {
        "kind": "linked",
        "name": "panel",
        "tables": [
            {
                "name": "waves",
                "source": {"kind": "parquet", "path": "panel.parquet"},
                "schema": {"columns": columns},
                **table,
            }
        ],
    }


DEBIAN = REPO / "examples" / "data" / "debian_packages.parquet"
TEAM_SECTIONS = ("doc", "python", "perl", "haskell", "rust")


def debian_teams(
    packages: int = 900, *, per_team: int = 4, sections: tuple[str, ...] = TEAM_SECTIONS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Real Debian packages as a parent/child pair: (teams, packages). A team is up to
    `per_team` packages of one maintainer in one section (the parent's `section`); each
    package keeps its architecture, installed size and `summary` text, under `team`."""
    frame = pd.read_parquet(DEBIAN)
    frame = frame[frame["section"].isin(sections)].head(packages)
    frame = frame.sort_values(["section", "maintainer", "package"]).reset_index(drop=True)
    group = frame.groupby(["section", "maintainer"]).cumcount() // per_team
    keys = frame["section"] + "\x1f" + frame["maintainer"] + "\x1f" + group.astype(str)
    frame["team"] = pd.factorize(keys)[0]
    teams = frame.drop_duplicates("team")[["team", "section"]].reset_index(drop=True)
    children = frame[["package", "team", "architecture", "installed_size_kb", "summary"]]
    return teams, children.reset_index(drop=True)
