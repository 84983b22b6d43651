import pandas as pd

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
    both = pd.concat([unique_fakes(pool, 0, 30), unique_fakes(pool, 30, 30)])
    assert both.is_unique and both.str.contains("@").all()


def test_keys_are_unique_across_batches_whatever_the_batching() -> None:
    whole = key_values("string", 0, 1000, seed=5)
    parts = pd.concat(
        [key_values("string", 0, 400, seed=5), key_values("string", 400, 600, seed=5)]
    )
    assert whole.is_unique and whole.tolist() == parts.tolist()
    assert key_values("int64", 10, 3, seed=5, offset=100).tolist() == [111, 112, 113]
