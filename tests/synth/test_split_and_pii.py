import numpy as np
import pandas as pd
import pytest

from schemas.errors import DataError
from schemas.spec import PiiKind
from synth.io import split_holdout
from synth.pii import detect_kind, fake_pool, key_values, pick_fakes, unique_fakes
from tests.builders import adult


def test_split_is_seeded_disjoint_and_sized() -> None:
    frame = adult(500, canary=False)
    train, holdout = split_holdout(frame, share=0.2, seed=4)
    again, _ = split_holdout(frame, share=0.2, seed=4)
    assert (len(train), len(holdout)) == (400, 100)
    assert train.equals(again)
    assert not set(train["record_id"]) & set(holdout["record_id"])


def test_a_subject_never_lands_on_both_sides_of_the_split() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, size=300)  # a panel: 300 people with 1 to 11 rows each
    frame = pd.DataFrame({"person": np.repeat(np.arange(300), sizes), "x": rng.random(sizes.sum())})
    frame.loc[::97, "person"] = np.nan  # an unknown subject is one of its own
    train, holdout = split_holdout(frame, share=0.2, seed=3, by="person")
    again, _ = split_holdout(frame, share=0.2, seed=3, by="person")
    assert train.equals(again) and len(train) + len(holdout) == len(frame)
    assert not set(train["person"].dropna()) & set(holdout["person"].dropna())
    assert abs(len(holdout) - 0.2 * len(frame)) <= sizes.max() / 2 + 1  # whole subjects only
    assert (
        holdout["person"].isna().sum() + train["person"].isna().sum()
        == frame["person"].isna().sum()
    )


def test_a_split_by_a_missing_column_or_into_one_subject_is_refused() -> None:
    frame = pd.DataFrame({"person": [1] * 10, "x": range(10)})
    with pytest.raises(DataError, match="split.by: column 'who' is not in the source"):
        split_holdout(frame, share=0.2, seed=0, by="who")
    with pytest.raises(DataError, match="whole subjects by 'person'"):
        split_holdout(frame, share=0.2, seed=0, by="person")


def test_detects_kinds_by_name_then_values() -> None:
    assert detect_kind("customer_email", pd.Series(["x"])) is PiiKind.email
    assert detect_kind("c7", pd.Series(["123-45-6789"] * 20)) is PiiKind.ssn
    assert detect_kind("c8", pd.Series(["a@b.org", "c@d.com"] * 10)) is PiiKind.email
    assert detect_kind("notes", pd.Series(["lorem ipsum dolor"] * 5)) is PiiKind.text
    assert detect_kind("c9", pd.Series(["2020-01-31"] * 20)) is not PiiKind.phone


def test_fakes_never_equal_a_real_value() -> None:
    real = set(fake_pool(PiiKind.first_name, seed=1, size=300))
    fakes = pick_fakes(fake_pool(PiiKind.first_name, seed=1, avoid=real), 2000, seed=1)
    assert len(fakes) == 2000 and not set(fakes) & real


def test_a_real_column_covering_fakers_word_list_does_not_hang() -> None:
    from faker.providers.person.en_US import Provider

    real = set(Provider.last_names)
    pool = fake_pool(PiiKind.last_name, seed=1, avoid=real, size=50)
    assert len(set(pool)) == 50 and not set(pool) & real


def test_fakes_are_seeded_and_unique_ones_stay_unique_across_batches() -> None:
    pool = fake_pool(PiiKind.email, seed=9, size=20)
    assert pick_fakes(pool, 50, seed=9).equals(
        pick_fakes(fake_pool(PiiKind.email, seed=9, size=20), 50, seed=9)
    )
    numbered = unique_fakes(pool, real=[])
    both = pd.concat([numbered.values(0, 30), numbered.values(30, 30)])
    assert both.is_unique and both.str.contains("@").all()


def test_keys_are_unique_across_batches_whatever_the_batching() -> None:
    whole = key_values("string", 0, 1000, seed=5)
    parts = pd.concat(
        [key_values("string", 0, 400, seed=5), key_values("string", 400, 600, seed=5)]
    )
    assert whole.is_unique and whole.tolist() == parts.tolist()
    assert key_values("int64", 10, 3, seed=5, offset=100).tolist() == [111, 112, 113]
