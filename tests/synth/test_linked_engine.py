"""The linked engine on small real data: households of Adult rows, and people with dated events
built from Adult rows. Keys link by construction, lengths and per-parent constants follow the
real data, events come in order, conditions are exact, saves reload exactly, DP is per subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.errors import SpecError
from schemas.relations import Relations, TableLink
from schemas.spec import DatasetSchema
from synth.io import build_contract
from synth.linked.engine import LinkedEngine
from tests.builders import ADULT, REPO

FAST = {"epochs": 60, "patience": 4, "width": 16}


def _link(frame: pd.DataFrame, columns: dict, name: str, **where) -> tuple[TableLink, pd.DataFrame]:
    contract, typed = build_contract(frame, DatasetSchema(columns=columns), label=name)
    return TableLink(name=name, contract=contract, **where), typed


def households(people: int = 1200, seed: int = 0) -> tuple[dict[str, pd.DataFrame], Relations]:
    """Households of 1-5 Adult rows that share race and country (sorted by them, then cut in
    chunks): `race` is constant within every household, the rest varies."""
    cols = ["age", "workclass", "education", "sex", "race", "hours-per-week", "income"]
    rows = pd.read_parquet(ADULT, columns=[*cols, "native-country"])
    rows = rows.sample(n=people, random_state=seed).sort_values(["native-country", "race"])
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5], size=people, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    house = np.repeat(np.arange(people), sizes)[:people]
    # a chunk never spans two races or countries: start a new household where they change
    changed = (rows[["native-country", "race"]] != rows[["native-country", "race"]].shift()).any(
        axis=1
    )
    house = np.cumsum(changed.to_numpy() | np.r_[True, house[1:] != house[:-1]]) - 1
    rows = rows.assign(hh=house, pid=np.arange(people))
    parent = rows.groupby("hh", as_index=False).first()[["hh", "native-country"]]
    root, parent = _link(
        parent,
        {"hh": {"type": "id", "role": "key"}, "native-country": {"type": "categorical"}},
        "households",
        primary_key="hh",
    )
    schema = {
        c: {"type": "numerical" if c in ("age", "hours-per-week") else "categorical"} for c in cols
    }
    child, persons = _link(
        rows[["pid", "hh", *cols]],
        {"pid": {"type": "id", "role": "key"}, "hh": {"type": "id"}, **schema},
        "persons",
        primary_key="pid",
        parent="households",
        foreign_key="hh",
    )
    return {"households": parent, "persons": persons}, Relations((root, child))


def events(people: int = 300, seed: int = 1) -> tuple[dict[str, pd.DataFrame], Relations]:
    """People (grouped Adult rows of one education and sex) and their dated events, ordered by
    a date made from the row's age and fnlwgt; a panel under a virtual root when `panel`."""
    cols = ["age", "fnlwgt", "education", "sex", "workclass", "hours-per-week", "income"]
    rows = pd.read_parquet(ADULT, columns=cols).sample(n=people * 4, random_state=seed)
    rows = rows.sort_values(["education", "sex", "fnlwgt"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 8, size=len(rows))
    person = np.repeat(np.arange(len(rows)), sizes)[: len(rows)]
    changed = (rows[["education", "sex"]] != rows[["education", "sex"]].shift()).any(axis=1)
    person = np.cumsum(changed.to_numpy() | np.r_[True, person[1:] != person[:-1]]) - 1
    days = rows["age"] * 365 + rows["fnlwgt"] % 365
    rows = rows.assign(
        person=person,
        event=np.arange(len(rows)),
        when=pd.Timestamp("1950-01-01") + pd.to_timedelta(days, unit="D"),
    )
    parent = rows.groupby("person", as_index=False).first()[["person", "education", "sex"]]
    root, parent = _link(
        parent,
        {
            "person": {"type": "id", "role": "key"},
            "education": {"type": "categorical"},
            "sex": {"type": "categorical"},
        },
        "people",
        primary_key="person",
    )
    child, visits = _link(
        rows[["event", "person", "when", "workclass", "hours-per-week", "income"]],
        {
            "event": {"type": "id", "role": "key"},
            "person": {"type": "id"},
            "when": {"type": "datetime"},
            "workclass": {"type": "categorical"},
            "hours-per-week": {"type": "numerical"},
            "income": {"type": "categorical"},
        },
        "visits",
        primary_key="event",
        parent="people",
        foreign_key="person",
        order_by="when",
    )
    return {"people": parent, "visits": visits}, Relations((root, child))


@pytest.fixture(scope="module")
def house() -> tuple[LinkedEngine, dict[str, pd.DataFrame], Relations]:
    tables, relations = households()
    engine = LinkedEngine(**FAST)
    engine.fit(tables, relations, seed=0)
    return engine, tables, relations


@pytest.fixture(scope="module")
def visits() -> tuple[LinkedEngine, dict[str, pd.DataFrame], Relations]:
    tables, relations = events()
    engine = LinkedEngine(**FAST)
    engine.fit(tables, relations, seed=0)
    return engine, tables, relations


def _lengths(frame: pd.DataFrame, key: str, parents: int) -> np.ndarray:
    counts = frame.groupby(key).size()
    return np.bincount(np.r_[counts.to_numpy(), np.zeros(parents - len(counts), int)])


def test_every_child_has_a_generated_parent_and_keys_are_unique(house) -> None:
    engine, _, relations = house
    out = engine.sample(400, seed=1)
    assert list(out) == ["households", "persons"]
    for link in relations.tables:
        assert list(out[link.name].columns) == link.contract.names
    parents, children = out["households"], out["persons"]
    assert len(parents) == 400 and parents["hh"].is_unique and children["pid"].is_unique
    assert children["hh"].isin(parents["hh"]).all()  # no orphan
    assert children["hh"].notna().all()


def test_lengths_follow_the_real_distribution(house) -> None:
    engine, tables, _ = house
    out = engine.sample(len(tables["households"]), seed=2)
    real = _lengths(tables["persons"], "hh", len(tables["households"]))
    fake = _lengths(out["persons"], "hh", len(out["households"]))
    size = max(len(real), len(fake))
    real, fake = (np.pad(x, (0, size - len(x))) / x.sum() for x in (real, fake))
    assert 0.5 * np.abs(real - fake).sum() < 0.15  # total variation distance
    ratio = len(out["persons"]) / len(tables["persons"])
    assert 0.8 < ratio < 1.2


def test_columns_constant_per_parent_stay_constant(house) -> None:
    engine, tables, _ = house
    assert "race" in engine._layouts["persons"].moved
    out = engine.sample(500, seed=3)["persons"]
    assert (out.groupby("hh")["race"].nunique(dropna=False) == 1).all()
    assert out.groupby("hh")["sex"].nunique().max() > 1  # a varying column still varies
    real = tables["persons"]["race"].value_counts(normalize=True)
    fake = out["race"].value_counts(normalize=True)
    assert abs(real.get("White", 0) - fake.get("White", 0)) < 0.1


def test_conditions_on_root_columns_are_exact(house) -> None:
    engine, _, _ = house
    out = engine.sample(200, seed=4, conditions={"native-country": "Mexico"})
    assert (out["households"]["native-country"] == "Mexico").all()
    with pytest.raises(SpecError):
        engine.sample(10, seed=4, conditions={"age": 30})  # a child's column, not the root's


def test_same_seed_same_tables_and_a_save_reloads_exactly(house, tmp_path: Path) -> None:
    engine, _, _ = house
    first = engine.sample(150, seed=5)
    again = engine.sample(150, seed=5)
    assert all(first[n].equals(again[n]) for n in first)
    assert not first["persons"].equals(engine.sample(150, seed=6)["persons"])
    digest = engine.save(tmp_path)
    loaded = LinkedEngine.load(tmp_path, manifest_sha256=digest)
    reloaded = loaded.sample(150, seed=5)
    assert all(first[n].equals(reloaded[n]) for n in first)
    info = loaded.info()
    assert info["engine"] == "autoregressive" and set(info["tables"]) == {"households", "persons"}


def test_events_come_in_order_with_real_gaps(visits) -> None:
    engine, tables, _ = visits
    out = engine.sample(len(tables["people"]), seed=7)
    events = out["visits"]
    assert events["person"].isin(out["people"]["person"]).all()
    assert pd.api.types.is_datetime64_any_dtype(events["when"])
    ordered = events.groupby("person")["when"].apply(lambda t: t.is_monotonic_increasing)
    assert ordered.all()
    real = tables["visits"].sort_values(["person", "when"])
    real_gap = real.groupby("person")["when"].diff().dt.days.dropna()
    fake_gap = events.groupby("person")["when"].diff().dt.days.dropna()
    assert abs(np.median(real_gap) - np.median(fake_gap)) <= max(30, 0.3 * np.median(real_gap))
    # within the training range: a late start plus many gaps is clipped, order kept
    assert events["when"].min() >= tables["visits"]["when"].min()
    assert events["when"].max() <= tables["visits"]["when"].max()
    real_len = tables["visits"].groupby("person").size().mean()
    fake_len = events.groupby("person").size().mean()
    assert abs(real_len - fake_len) < 0.25 * real_len


def test_dp_per_subject_spends_within_budget() -> None:
    tables, relations = households(people=600)
    engine = LinkedEngine(epochs=2, width=8, epsilon=4.0, delta=1e-5)
    engine.fit(tables, relations, seed=0)
    privacy = engine.info()["differential_privacy"]
    assert privacy["unit"] == "subject"
    assert privacy["epsilon_spent"] <= 4.0
    assert set(privacy["per_table"]) == {"households", "persons"}
    persons = engine.info()["tables"]["persons"]["differential_privacy"]
    assert persons["subjects"] == len(tables["households"])
    out = engine.sample(100, seed=0)
    assert out["persons"]["hh"].isin(out["households"]["hh"]).all()


def test_three_levels_with_text_keys_link_at_every_level() -> None:
    tables, relations = households(people=600)
    persons, homes = tables["persons"], tables["households"]
    countries = pd.DataFrame({"country": homes["native-country"].dropna().unique()})
    top, countries = _link(
        countries,
        {"country": {"type": "categorical", "role": "key"}},
        "countries",
        primary_key="country",
    )
    homes = homes.dropna(subset=["native-country"]).rename(columns={"native-country": "country"})
    middle, homes = _link(
        homes.assign(size=homes["hh"].map(persons.groupby("hh").size())),
        {
            "hh": {"type": "id", "role": "key"},
            "country": {"type": "id"},
            "size": {"type": "numerical"},
        },
        "households",
        primary_key="hh",
        parent="countries",
        foreign_key="country",
    )
    persons = persons[persons["hh"].isin(homes["hh"])]
    chain = Relations((top, middle, relations["persons"]))
    engine = LinkedEngine(**FAST)
    engine.fit({"countries": countries, "households": homes, "persons": persons}, chain, seed=0)
    out = engine.sample(20, seed=1)
    assert len(out["countries"]) == 20 and out["countries"]["country"].is_unique
    assert out["countries"]["country"].str.startswith("countries-").all()
    assert out["households"]["country"].isin(out["countries"]["country"]).all()
    assert out["persons"]["hh"].isin(out["households"]["hh"]).all()
    assert len(out["persons"]) > 0


def test_a_growth_curve_keeps_its_persistence() -> None:
    data = REPO / "examples" / "data" / "linked"
    pigs, weighings = (
        pd.read_parquet(data / "pigs.parquet"),
        pd.read_parquet(data / "weighings.parquet"),
    )
    weighings = weighings.assign(row=np.arange(len(weighings)))
    top, pigs = _link(
        pigs,
        {
            "pig": {"type": "id", "role": "key"},
            "vitamin_e": {"type": "categorical"},
            "copper": {"type": "categorical"},
            "litter": {"type": "numerical"},
        },
        "pigs",
        primary_key="pig",
    )
    child, weighings = _link(
        weighings,
        {
            "row": {"type": "id", "role": "key"},
            "pig": {"type": "id"},
            "time": {"type": "numerical"},
            "weight": {"type": "numerical"},
            "feed": {"type": "numerical"},
        },
        "weighings",
        primary_key="row",
        parent="pigs",
        foreign_key="pig",
        order_by="time",
    )
    engine = LinkedEngine(**FAST)
    engine.fit({"pigs": pigs, "weighings": weighings}, Relations((top, child)), seed=0)
    assert "weight" in engine._layouts["weighings"].deltas
    events = engine.sample(72, seed=2)["weighings"]
    assert events.groupby("pig")["time"].apply(lambda t: t.is_monotonic_increasing).all()
    assert events["weight"].between(weighings["weight"].min(), weighings["weight"].max()).all()
    previous = events.groupby("pig")["weight"].shift()
    both = previous.notna() & events["weight"].notna()
    assert (
        np.corrcoef(previous[both].astype(float), events["weight"][both].astype(float))[0, 1] > 0.95
    )


def test_a_short_panel_of_few_subjects_keeps_its_starts_joint() -> None:
    """48 subjects of 14 yearly events whose two numbers move together (a state's size: its
    capital and its output), from real Adult values. A start is one row per subject, too few to
    learn a joint from alone; later events shown without their history teach it too."""
    rows = pd.read_parquet(ADULT, columns=["age", "hours-per-week"]).head(48)
    size = rows["age"].to_numpy(dtype=float) * 100  # each subject's scale
    year = np.tile(np.arange(14), 48)
    who = np.repeat(np.arange(48), 14)
    growth = 1 + 0.02 * year
    capital = np.repeat(size, 14) * growth
    output = np.repeat(size * 1.5 + rows["hours-per-week"].to_numpy() * 10, 14) * growth
    parent = pd.DataFrame({"id": np.arange(48)})
    root, parent = _link(parent, {"id": {"type": "id", "role": "key"}}, "states", primary_key="id")
    frame = pd.DataFrame({"id": who, "year": year, "capital": capital, "output": output})
    child, years = _link(
        frame,
        {
            "id": {"type": "id"},
            "year": {"type": "numerical"},
            "capital": {"type": "numerical"},
            "output": {"type": "numerical"},
        },
        "years",
        parent="states",
        foreign_key="id",
        order_by="year",
    )
    real_first = frame[frame["year"] == 0]
    assert real_first["capital"].corr(real_first["output"]) > 0.95
    engine = LinkedEngine(**FAST)
    engine.fit({"states": parent, "years": years}, Relations((root, child)), seed=0)
    out = engine.sample(400, seed=1)["years"]
    first = out.sort_values(["id", "year"]).groupby("id").head(1)
    assert first["capital"].corr(first["output"]) > 0.6
    assert out["capital"].corr(out["output"]) > 0.6
