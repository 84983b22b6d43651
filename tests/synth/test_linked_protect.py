"""Value protection in a linked job counts parents for the columns a parent's rows share: a value
one person holds on seven rows names one person and is replaced, on every one of their rows, so
the column stays constant within the person (and the engine still models it once per person)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from schemas.load import spec_from_dict
from synth.linked.data import link, read_linked
from synth.linked.protect import constant_within_parents, protect_tables
from tests.builders import panel_job

ADULT = Path(__file__).resolve().parents[2] / "examples" / "data" / "adult.parquet"
RARE = "Zqx-one-person"


def _panel(tmp_path: Path):
    adult = pd.read_parquet(ADULT).head(420)
    who = np.arange(420) // 7  # 60 people, 7 waves each
    panel = pd.DataFrame(
        {
            "who": who,
            "wave": np.arange(420) % 7,
            "hours": adult["hours-per-week"].to_numpy(),
            "race": adult.groupby(who)["race"].transform("first").to_numpy(),
            "job": adult["occupation"].to_numpy(),
        }
    )
    panel.loc[panel["who"] == 3, "race"] = RARE  # one person, seven rows
    types = {"who": "id", "wave": "numerical", "hours": "numerical", "race": "categorical"}
    raw = panel_job(
        tmp_path, panel, {**types, "job": "categorical"}, subject="who", order_by="wave"
    )
    spec = spec_from_dict(raw, label="panel.yaml", base_dir=tmp_path)
    return link(read_linked(spec), spec)


def test_a_value_one_person_holds_on_many_rows_is_replaced_on_all_of_them(tmp_path):
    data = _panel(tmp_path)
    waves = data.relations["waves"]
    assert constant_within_parents(data.tables["waves"], waves) == ["race"]
    done = protect_tables(data.tables, data.relations, min_count=5, seed=0, enabled=True)
    protected = done["waves"].train
    assert RARE not in set(protected["race"])  # 7 rows, but one person: protected
    assert (protected.groupby("who")["race"].nunique() == 1).all()  # still one value a person
    assert done["waves"].report()["columns"]["race"]["rows_changed"] >= 1  # counted per person
    assert done["waves"].report()["rows_changed"] >= 7  # the total counts that person's rows
    assert list(protected.columns) == list(data.tables["waves"].columns)
    # the columns that change within a person are protected row by row, as in a table job
    untouched = protect_tables(data.tables, data.relations, min_count=5, seed=0, enabled=False)
    assert RARE in set(untouched["waves"].train["race"])
