"""A small linked dataset built from real Adult rows, for the linked checks' tests.

Households are runs of consecutive Adult rows (one to six people); a household's row takes its
head's (first person's) race, native country and census weight, and each person keeps their own
columns, with the household's race (constant within every household). People are events ordered
by `joined`: the head joins at a date set by their age, each next person (sorted by years of
education, so education only rises along a household) as many days later as the previous
person works hours a week. Every value comes from a real Adult row.

`split` cuts whole households into training, holdout and a third real part no engine saw: that
part is an honest stand-in for synthetic data (fresh draws from the same population), which
every check must pass; the adversaries below are built from it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from schemas.dataset import DatasetSchema
from schemas.relations import Relations, TableLink
from synth.io import build_contract
from tests.builders import ADULT
from validation.linked.tree import take_subjects

Tables = dict[str, pd.DataFrame]

HOUSEHOLDS = {
    "hh_id": {"type": "id", "role": "key"},
    "race": {"type": "categorical"},
    "native-country": {"type": "categorical"},
    "weight": {"type": "numerical"},
}
PEOPLE = {
    "person_id": {"type": "id", "role": "key"},
    "hh_id": {"type": "id"},
    "joined": {"type": "datetime"},
    "age": {"type": "numerical"},
    "education": {"type": "categorical"},
    "sex": {"type": "categorical"},
    "workclass": {"type": "categorical"},
    "hours-per-week": {"type": "numerical"},
    "income": {"type": "categorical"},
    "race": {"type": "categorical"},
}
MONEY = {
    "entry_id": {"type": "id", "role": "key"},
    "person_id": {"type": "id"},
    "kind": {"type": "categorical"},
    "amount": {"type": "numerical"},
}


@lru_cache(maxsize=4)
def _build(households: int, seed: int) -> tuple[Relations, tuple[tuple[str, pd.DataFrame], ...]]:
    adult = pd.read_parquet(ADULT)
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=households)
    rows = adult.iloc[: int(sizes.sum())].reset_index(drop=True)
    rows["hh_id"] = np.repeat(np.arange(households), sizes)
    rows = rows.sort_values(["hh_id", "education-num"], kind="stable").reset_index(drop=True)
    head = rows.groupby("hh_id").head(1).set_index("hh_id")
    parents = pd.DataFrame(
        {
            "hh_id": head.index.to_numpy(),
            "race": head["race"].to_numpy(),
            "native-country": head["native-country"].to_numpy(),
            "weight": head["fnlwgt"].to_numpy(dtype="float64"),
        }
    )
    start = pd.Timestamp("2000-01-01") + pd.to_timedelta(head["age"] * 30, unit="D")
    step = rows.groupby("hh_id")["hours-per-week"].shift(1).fillna(0)
    offset = step.groupby(rows["hh_id"]).cumsum()
    people = pd.DataFrame(
        {
            "person_id": np.arange(len(rows)),
            "hh_id": rows["hh_id"].to_numpy(),
            "joined": start.reindex(rows["hh_id"]).to_numpy()
            + pd.to_timedelta(offset.to_numpy(), unit="D"),
            "age": rows["age"].to_numpy(dtype="float64"),
            "education": rows["education"].to_numpy(),
            "sex": rows["sex"].to_numpy(),
            "workclass": rows["workclass"].to_numpy(),
            "hours-per-week": rows["hours-per-week"].to_numpy(dtype="float64"),
            "income": rows["income"].to_numpy(),
            "race": parents.set_index("hh_id")["race"].reindex(rows["hh_id"]).to_numpy(),
        }
    )
    links, frames = [], []
    for name, columns, frame, extra in (
        ("households", HOUSEHOLDS, parents, {"primary_key": "hh_id"}),
        (
            "people",
            PEOPLE,
            people,
            {
                "primary_key": "person_id",
                "parent": "households",
                "foreign_key": "hh_id",
                "order_by": "joined",
            },
        ),
    ):
        schema = DatasetSchema.model_validate({"columns": columns})
        contract, typed = build_contract(frame, schema, label=name)
        links.append(TableLink(name=name, contract=contract, **extra))
        frames.append((name, typed))
    money = _money(rows, people["person_id"].to_numpy())
    schema = DatasetSchema.model_validate({"columns": MONEY})
    contract, typed = build_contract(money, schema, label="money")
    links.append(TableLink("money", contract, "entry_id", parent="people", foreign_key="person_id"))
    frames.append(("money", typed))
    return Relations(tuple(links)), tuple(frames)


def _money(rows: pd.DataFrame, people: np.ndarray) -> pd.DataFrame:
    """A third level: each person's yearly wage (hours x 52) and any capital gain or loss, one
    unordered row each."""
    parts = []
    for kind, amounts in (
        ("wage", rows["hours-per-week"] * 52),
        ("gain", rows["capital-gain"]),
        ("loss", rows["capital-loss"]),
    ):
        some = amounts.to_numpy() > 0
        parts.append(
            pd.DataFrame(
                {"person_id": people[some], "kind": kind, "amount": amounts[some].to_numpy()}
            )
        )
    money = pd.concat(parts, ignore_index=True).sort_values("person_id", kind="stable")
    return money.reset_index(drop=True).assign(entry_id=lambda f: np.arange(len(f)))


def households(
    households: int = 1600, seed: int = 0, *, levels: int = 2
) -> tuple[Tables, Relations]:
    """Households and their people; with `levels=3`, the people's money too."""
    relations, frames = _build(households, seed)
    relations = Relations(relations.tables[:levels])
    return {name: frame.copy() for name, frame in frames if name in relations.names}, relations


def split(
    tables: Tables,
    relations: Relations,
    *,
    seed: int = 0,
    shares: tuple[float, float] = (0.5, 0.25),
) -> tuple[Tables, Tables, Tables]:
    """(train, holdout, fresh): whole households, seeded."""
    n = len(tables[relations.root.name])
    side = np.random.default_rng(seed).permutation(n)
    cut = np.cumsum([int(shares[0] * n), int(shares[1] * n)])
    masks = []
    for low, high in ((0, cut[0]), (cut[0], cut[1]), (cut[1], n)):
        mask = np.zeros(n, dtype=bool)
        mask[side[low:high]] = True
        masks.append(mask)
    train, holdout, fresh = (take_subjects(tables, relations, m) for m in masks)
    return train, holdout, fresh


def with_copies(synthetic: Tables, train: Tables, relations: Relations, subjects: int) -> Tables:
    """`synthetic` plus the whole histories (every row under them, in every table) of the first
    `subjects` training households with at least two people, under fresh keys (a generator that
    memorised them)."""
    root = relations.root.name
    counts = train["people"]["hh_id"].value_counts()
    picked = [k for k in train[root]["hh_id"] if counts.get(k, 0) >= 2][:subjects]
    out = dict(synthetic)
    keys: dict[str, dict] = {}
    for table in relations.tables:
        frame, mine = train[table.name], synthetic[table.name]
        if table.parent is None:
            rows = frame[frame["hh_id"].isin(picked)].copy()
        else:
            rows = frame[frame[table.foreign_key].isin(list(keys[table.parent]))].copy()
            rows[table.foreign_key] = rows[table.foreign_key].map(keys[table.parent])
            rows[table.foreign_key] = rows[table.foreign_key].astype(mine[table.foreign_key].dtype)
        pk = table.primary_key
        top = int(pd.concat([mine[pk], frame[pk]]).astype("int64").max()) + 1
        fresh = pd.array(top + np.arange(len(rows))).astype(mine[pk].dtype)
        keys[table.name] = dict(zip(rows[pk].tolist(), fresh.tolist(), strict=True))
        rows[pk] = fresh
        out[table.name] = pd.concat([mine, rows], ignore_index=True)
    return out
