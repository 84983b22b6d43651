"""The linked data layer: specs that refuse broken references, keys checked, orphans refused or
dropped and counted, and the split by subject (a subject never on both sides, in any table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.errors import DataError, SpecError
from schemas.load import spec_from_dict
from synth.linked.data import link, read_linked, split_subjects
from synth.linked.keys import subject_rows
from tests.builders import panel_job

ADULT = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.parquet"


def _households(tmp_path: Path, *, orphans: int = 0, repeat_key: bool = False) -> dict:
    """Three levels from real Adult rows: households (chunks of 3 people), people, and each
    person's jobs (1-2 rows, ordered by a number)."""
    adult = pd.read_parquet(ADULT).head(600)
    people = adult[["age", "sex", "race", "income", "hours-per-week"]].copy()
    people.insert(0, "person", np.arange(len(people)) + 100)
    people.insert(1, "household", np.arange(len(people)) // 3)
    households = (
        adult.groupby(np.arange(len(adult)) // 3)
        .agg(country=("native-country", "first"), relationship=("relationship", "first"))
        .reset_index(names="household")
    )
    if repeat_key:
        households.loc[1, "household"] = households.loc[0, "household"]
    if orphans:
        people.loc[: orphans - 1, "household"] = 10_000
    jobs = people[["person"]].loc[people.index.repeat(1 + people["age"].to_numpy() % 2)]
    hours = pd.read_parquet(ADULT)["hours-per-week"].iloc[: len(jobs)].to_numpy()
    jobs = jobs.assign(seq=jobs.groupby("person").cumcount(), hours=hours)
    for name, frame in (("households", households), ("people", people), ("jobs", jobs)):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return {
        "kind": "linked",
        "name": "households",
        "tables": [
            {
                "name": "households",
                "source": {"kind": "parquet", "path": "households.parquet"},
                "schema": {
                    "columns": {
                        "household": {"type": "id"},
                        "country": {"type": "categorical"},
                        "relationship": {"type": "categorical"},
                    }
                },
                "primary_key": "household",
            },
            {
                "name": "people",
                "source": {"kind": "parquet", "path": "people.parquet"},
                "schema": {
                    "columns": {
                        "person": {"type": "id"},
                        "household": {"type": "id"},
                        "age": {"type": "numerical"},
                        "sex": {"type": "categorical"},
                        "race": {"type": "categorical"},
                        "income": {"type": "categorical"},
                        "hours-per-week": {"type": "numerical"},
                    }
                },
                "primary_key": "person",
                "foreign_keys": [{"column": "household", "parent": "households"}],
            },
            {
                "name": "jobs",
                "source": {"kind": "parquet", "path": "jobs.parquet"},
                "schema": {
                    "columns": {
                        "person": {"type": "id"},
                        "seq": {"type": "numerical"},
                        "hours": {"type": "numerical"},
                    }
                },
                "foreign_keys": [{"column": "person", "parent": "people"}],
                "order_by": "seq",
            },
        ],
    }


def _load(raw: dict, tmp_path: Path):
    return spec_from_dict(raw, label="linked.yaml", base_dir=tmp_path)


def test_a_subject_never_appears_on_both_sides_in_any_table(tmp_path):
    spec = _load(_households(tmp_path), tmp_path)
    data = link(read_linked(spec), spec)
    train, holdout = split_subjects(data, share=0.25, seed=3)
    for name in ("households", "people", "jobs"):
        assert len(train[name]) + len(holdout[name]) == len(data.tables[name])
        assert len(holdout[name]) > 0
    assert len(holdout["households"]) == 50  # a quarter of 200 subjects
    # every row of a subject on one side: households, then the people and jobs under them
    people_train = set(train["people"]["household"]) & set(holdout["people"]["household"])
    assert not people_train
    assert set(train["people"]["household"]) <= set(train["households"]["household"])
    assert set(holdout["jobs"]["person"]) <= set(holdout["people"]["person"])
    assert not set(train["jobs"]["person"]) & set(holdout["jobs"]["person"])
    codes = subject_rows(train, data.relations)
    assert codes["jobs"].max() < len(train["households"])
    # another seed, another split: the split is seeded, not fixed
    other, _ = split_subjects(data, share=0.25, seed=4)
    assert set(other["households"]["household"]) != set(train["households"]["household"])


def test_keys_become_keys_and_the_tree_is_parents_first(tmp_path):
    spec = _load(_households(tmp_path), tmp_path)
    data = link(read_linked(spec), spec)
    relations = data.relations
    assert relations.names == ["households", "people", "jobs"]
    assert relations["jobs"].sequential and relations["jobs"].parent == "people"
    modelled = {c.name for c in relations["people"].contract.modelled}
    assert "person" not in modelled and "household" not in modelled and "age" in modelled


def test_a_repeated_primary_key_is_one_line_naming_the_table(tmp_path):
    spec = _load(_households(tmp_path, repeat_key=True), tmp_path)
    with pytest.raises(DataError) as caught:
        link(read_linked(spec), spec)
    message = str(caught.value)
    assert "tables.households.primary_key" in message and "\n" not in message
    assert "repeats a value in 1 rows" in message


def test_orphans_are_refused_or_dropped_and_counted(tmp_path):
    raw = _households(tmp_path, orphans=4)
    spec = _load(raw, tmp_path)
    with pytest.raises(DataError, match=r"tables\.people\.foreign_keys: 4 rows name no"):
        link(read_linked(spec), spec)
    raw["tables"][1]["orphans"] = "drop"
    spec = _load(raw, tmp_path)
    # the jobs of the dropped people are orphans now: refused in turn, unless dropped too
    with pytest.raises(DataError, match=r"tables\.jobs\.foreign_keys: \d+ rows name no 'people'"):
        link(read_linked(spec), spec)
    raw["tables"][2]["orphans"] = "drop"
    spec = _load(raw, tmp_path)
    data = link(read_linked(spec), spec)
    assert data.orphans["people"] == 4
    assert len(data.tables["people"]) == 596
    assert 4 <= data.orphans["jobs"] <= 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["tables"][1]["foreign_keys"][0].update(parent="nowhere"), "is not a table"),
        (lambda r: r["tables"][2].update(order_by="when"), "order_by: column 'when' is not"),
        (lambda r: r["tables"][0].pop("primary_key"), "a parent table needs one"),
        (lambda r: r["tables"][1].pop("foreign_keys"), "names its parent"),
        (lambda r: r["tables"].append(dict(r["tables"][1])), "given twice"),
        (
            lambda r: r["tables"][1]["foreign_keys"][0].update(parent_column="country"),
            "must be 'households''s primary_key",
        ),
        (lambda r: r.update(sample={"conditions": {"person": 3}}), "not a modelled column"),
    ],
)
def test_a_broken_reference_is_a_spec_error_naming_the_field(tmp_path, change, message):
    raw = _households(tmp_path)
    change(raw)
    with pytest.raises(SpecError) as caught:
        _load(raw, tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_panel_hangs_under_a_virtual_root_of_its_subjects(tmp_path):
    adult = pd.read_parquet(ADULT).head(300)
    panel = pd.DataFrame(
        {
            "who": np.arange(300) // 6,
            "wave": np.arange(300) % 6,
            "hours": adult["hours-per-week"].to_numpy(),
            "sex": adult.groupby(np.arange(300) // 6)["sex"].transform("first").to_numpy(),
        }
    )
    types = {"who": "id", "wave": "numerical", "hours": "numerical", "sex": "categorical"}
    raw = panel_job(tmp_path, panel, types, subject="who", order_by="wave")
    spec = _load(raw, tmp_path)
    data = link(read_linked(spec), spec)
    root = data.relations.root
    assert root.virtual and root.name == "waves_subjects" and data.subjects == 50
    assert [t.name for t in data.relations.published] == ["waves"]
    train, holdout = split_subjects(data, share=0.2, seed=0)
    assert not set(train["waves"]["who"]) & set(holdout["waves"]["who"])
    assert len(holdout["waves_subjects"]) == 10


def test_regenerate_sees_the_fingerprint_a_run_records(tmp_path):
    """`synth regenerate` compares the last run's source fingerprint with one it computes from
    the spec alone: for a linked job, the same hash of every table's content."""
    from synth.io.lineage import source_fingerprint_of

    spec = _load(_households(tmp_path), tmp_path)
    before = source_fingerprint_of(spec)
    assert before == read_linked(spec).fingerprint
    jobs = pd.read_parquet(tmp_path / "jobs.parquet")
    jobs.iloc[:-1].to_parquet(tmp_path / "jobs.parquet", index=False)  # one table changes
    assert source_fingerprint_of(spec) != before
