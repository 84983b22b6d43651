import pandas as pd

from schemas.spec import PiiKind
from synth.io import split_holdout
from synth.pii import detect_kind, fake_values, key_values
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


def test_fakes_never_equal_a_real_value() -> None:
    real = set(fake_values(PiiKind.first_name, 300, seed=1, unique=True))
    fakes = fake_values(PiiKind.first_name, 2000, seed=1, avoid=real)
    assert len(fakes) == 2000 and not set(fakes) & real


def test_fakes_are_seeded() -> None:
    assert fake_values(PiiKind.email, 50, seed=9).equals(fake_values(PiiKind.email, 50, seed=9))


def test_keys_are_unique_across_batches_whatever_the_batching() -> None:
    whole = key_values("string", 0, 1000, seed=5)
    parts = pd.concat(
        [key_values("string", 0, 400, seed=5), key_values("string", 400, 600, seed=5)]
    )
    assert whole.is_unique and whole.tolist() == parts.tolist()
    assert key_values("int64", 10, 3, seed=5).tolist() == [11, 12, 13]
