"""Privacy measures on hand-made data whose answers are known, and the check on small real slices."""

import json

import numpy as np
import pandas as pd
import pytest

from schemas import load_spec
from schemas.spec import PrivacyChecks, Role
from synth.io import build_contract, read_source, split_holdout
from synth.sampling import Batch, RowFilter
from synth.tabular import make_engine
from tests.builders import REPO, write_job
from validation import privacy
from validation.anonymeter_run import runner as anonymeter_runner
from validation.distance import Encoder, nearest, row_hashes

NO_ANONYMETER = PrivacyChecks().model_copy(
    update={"anonymeter": PrivacyChecks().anonymeter.model_copy(update={"enabled": False})}
)


# --- the measures ---------------------------------------------------------------------------------


def test_exact_share_counts_query_rows_found_in_the_reference() -> None:
    assert privacy.exact_share(np.array([1, 2, 3, 4]), np.array([2, 4, 9])) == 0.5
    assert privacy.exact_share(np.array([], dtype=np.uint64), np.array([1])) == 0.0


def test_dcr_share_counts_ties_as_half() -> None:
    # closer to training, tie, closer to holdout, closer to training
    share = privacy.dcr_share(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 4.0]))
    assert share == pytest.approx(2.5 / 4)


def test_size_adjusted_dcr_share_puts_honest_data_at_one_half() -> None:
    # With 3x as many training rows, an honest row's nearest real row is in training 3 times in 4.
    to_train = np.array([0.0, 0.0, 0.0, 2.0])
    to_holdout = np.array([1.0, 1.0, 1.0, 1.0])
    assert privacy.dcr_share_adjusted(to_train, to_holdout, 300, 100) == pytest.approx(0.5)
    assert privacy.dcr_share_adjusted(to_holdout * 0, to_holdout, 300, 100) == 1.0
    # ties split in proportion to the sizes: all ties is honest too
    assert privacy.dcr_share_adjusted(to_holdout, to_holdout, 300, 100) == pytest.approx(0.5)


def test_nndr_is_one_when_the_nearest_row_is_duplicated() -> None:
    ratio = privacy.nndr(np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 3.0]]))
    assert ratio.tolist() == [1.0, 0.5, 0.0]


def test_attack_auc_and_tpr_on_known_scores() -> None:
    # member/non-member pairs ranked right: (.1,.15) (.1,.3) (.2,.3); wrong: (.2,.15) -> 3/4
    result = privacy.attack(np.array([0.1, 0.2]), np.array([0.15, 0.3]))
    assert result["auc"] == 0.75
    perfect = privacy.attack(np.zeros(200), np.ones(200))
    assert perfect["auc"] == 1.0 and perfect["tpr_at_1pct_fpr"] == 1.0
    assert perfect["auc_ci"] == [1.0, 1.0]


def test_attack_on_identical_distributions_is_chance_with_an_honest_interval() -> None:
    rng = np.random.default_rng(0)
    result = privacy.attack(rng.random(3000), rng.random(3000), seed=1)
    low, high = result["auc_ci"]
    assert low < 0.5 < high and high - low < 0.05
    assert result["tpr_at_1pct_fpr"] < 0.03


def test_tpr_at_one_percent_fpr_uses_no_more_than_one_percent_of_negatives() -> None:
    negatives = -np.arange(100.0)  # attack scores are negative distances
    positives = -np.array([0.0, 0.5, 1.5, 50.0])
    # the threshold sits at the 2nd highest negative score (-1): scores above it are 0 and -0.5
    assert privacy.attack(-positives, -negatives)["tpr_at_1pct_fpr"] == 0.5


def test_rare_share_counts_rows_on_combinations_rare_in_training() -> None:
    train = np.array(["a"] * 5 + ["b"] + ["c"] * 2)
    share, distinct = privacy.rare_share(train, np.array(["a", "b", "c", "d"]), rare_count=3)
    assert (share, distinct) == (0.5, 2)


# --- the encoding and the neighbour search ---------------------------------------------------------


@pytest.fixture(scope="module")
def small_contract(tmp_path_factory):
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0],
            "colour": ["red", "blue", "red", "green", "blue", None, "red", "green"],
        }
    )
    folder = tmp_path_factory.mktemp("enc")
    frame.to_parquet(folder / "d.parquet")
    spec = load_spec(
        _spec_file(
            folder,
            {"x": {"type": "numerical"}, "colour": {"type": "categorical"}},
        )
    )
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="d")
    return contract, typed


def _spec_file(folder, columns):
    import yaml

    path = folder / "job.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "enc",
                "source": {"kind": "parquet", "path": str(folder / "d.parquet")},
                "schema": {"columns": columns},
            }
        )
    )
    return path


def test_each_column_contributes_at_most_one_to_the_squared_distance(small_contract) -> None:
    contract, typed = small_contract
    encoder = Encoder.fit(typed, contract)
    points = encoder.transform(typed).dense
    # one numeric column (value + missing flag) and 3 colours + a missing slot
    assert points.shape == (8, 2 + 4)

    def squared(i: int, j: int) -> float:
        return float(np.sum((points[i] - points[j]) ** 2))

    # rows 0 and 1: x 1 vs 2 (mid-ranks 1/7 apart among 7 present values), red vs blue: exactly 1
    assert squared(0, 1) == pytest.approx(1.0 + (1 / 7) ** 2)
    # rows 0 and 2: same colour, x 1 vs 3
    assert squared(0, 2) == pytest.approx((2 / 7) ** 2)
    # row 4 (x missing, blue) vs row 1 (x 2, blue): the missing flag (1) plus the quantile offset
    assert squared(4, 1) == pytest.approx(1.0 + (1.5 / 7) ** 2)
    # row 5 (colour missing) vs row 6 (red): the missing slot is its own category
    assert squared(5, 6) == pytest.approx(1.0 + (1 / 7) ** 2)
    assert squared(3, 3) == 0.0


def test_nearest_matches_brute_force_and_snaps_identical_rows_to_zero() -> None:
    rng = np.random.default_rng(0)
    query, reference = rng.random((300, 7)), rng.random((2000, 7))
    query[:10] = reference[:10]
    dist, index = nearest(query, reference, k=2)
    brute = np.sqrt(((query[:, None, :] - reference[None]) ** 2).sum(-1))
    assert np.allclose(dist, np.sort(brute, 1)[:, :2])
    assert (index[:, 0] == np.argmin(brute, 1)).all()
    assert (dist[:10, 0] == 0.0).all() and (index[:10, 0] == np.arange(10)).all()


def test_row_hashes_see_equal_rows_whatever_their_order(small_contract) -> None:
    contract, typed = small_contract
    shuffled = typed.sample(frac=1.0, random_state=1)
    assert set(row_hashes(typed, contract)) == set(row_hashes(shuffled, contract))
    assert len(set(row_hashes(typed, contract))) == len(typed)


# --- the check on real Adult slices ----------------------------------------------------------------


@pytest.fixture(scope="module")
def adult_small(tmp_path_factory):
    spec = load_spec(write_job(tmp_path_factory.mktemp("adult")))
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(typed, share=0.4, seed=0)
    return contract, typed, train, holdout


def test_a_shuffled_copy_fails_and_unseen_real_rows_pass(adult_small) -> None:
    contract, typed, train, holdout = adult_small
    copy = train.sample(frac=1.0, random_state=2).reset_index(drop=True)
    failed = privacy.check(
        train, copy, holdout, contract=contract, thresholds=NO_ANONYMETER, real_identifiers=typed
    )
    assert not failed.passed
    assert failed.metrics["exact_copies"] > 0.5 and failed.metrics["attack_auc"] > 0.9

    half = len(holdout) // 2
    unseen, rest = holdout.iloc[:half], holdout.iloc[half:]
    honest = privacy.check(train, unseen, rest, contract=contract, thresholds=NO_ANONYMETER)
    assert honest.passed, honest.reasons
    assert abs(honest.metrics["dcr_share"] - 0.5) < 0.05
    # aggregates only: no canary or category value leaks into what the report draws
    text = json.dumps([failed.to_dict(), honest.to_dict()])
    assert "Canarypii" not in text and "Bachelors" not in text


def test_identifiers_in_a_modelled_column_fail_or_warn_per_spec(adult_small) -> None:
    contract, _typed, train, holdout = adult_small
    leaky = train.copy()
    leaky["workclass"] = [f"user{i}@example.org" for i in range(len(leaky))]
    fail = privacy.check(train, leaky, holdout, contract=contract, thresholds=NO_ANONYMETER)
    assert any("'workclass'" in r and "email" in r for r in fail.reasons)
    warn_only = NO_ANONYMETER.model_copy(
        update={"pii": NO_ANONYMETER.pii.model_copy(update={"action": "warn"})}
    )
    warned = privacy.check(train, leaky, holdout, contract=contract, thresholds=warn_only)
    assert not any("'workclass'" in r for r in warned.reasons)
    assert any(r["column"] == "workclass" for r in warned.charts["identifiers"])


def test_a_fake_equal_to_a_real_identifier_fails(adult_small) -> None:
    contract, typed, train, holdout = adult_small
    synthetic = holdout.copy()
    synthetic["email"] = [f"fake{i}@example.invalid" for i in range(len(synthetic))]
    synthetic.loc[synthetic.index[0], "email"] = typed["email"].iloc[5]
    result = privacy.check(
        train,
        synthetic,
        holdout,
        contract=contract,
        thresholds=NO_ANONYMETER,
        real_identifiers=typed,
    )
    assert any("'email': 1 replaced identifiers equal a real value" in r for r in result.reasons)


def test_the_row_filter_replaces_rows_that_sit_on_training_rows(adult_small) -> None:
    contract, _typed, train, holdout = adult_small
    modelled = [c.name for c in contract.modelled]
    engine = make_engine("bootstrap")
    engine.fit(train[modelled], contract, seed=0)
    guard = privacy.DistanceGuard.fit(train, holdout, contract, quantile=0.05)
    row_filter = RowFilter(guard.keep, max_rounds=20)
    batch = Batch(index=0, start=0, rows=200, seed=11)
    kept = row_filter.apply(engine, batch, engine.sample(200, seed=11))
    # the bootstrap engine only copies, so every row is at distance 0 and none can be kept
    assert row_filter.replaced == 200 and row_filter.shortfall == 200 and kept.empty

    engine = make_engine("independent")
    engine.fit(train[modelled], contract, seed=0)
    row_filter = RowFilter(guard.keep, max_rounds=20)
    rows = engine.sample(300, seed=5)
    first = row_filter.apply(engine, Batch(0, 0, 300, 5), rows)
    again = RowFilter(guard.keep, max_rounds=20).apply(engine, Batch(0, 0, 300, 5), rows)
    assert len(first) == 300 and row_filter.shortfall == 0
    assert guard.keep(first).all()
    pd.testing.assert_frame_equal(first, again)  # seeded top-ups: same rows every time


# --- the whole Adult sample: the showcase ------------------------------------------------------


@pytest.fixture(scope="module")
def adult_full():
    spec = load_spec(REPO / "examples" / "adult.yaml")
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="adult")
    train, holdout = split_holdout(typed, share=0.2, seed=0)
    return spec, contract, typed, train, holdout


@pytest.mark.slow
def test_adult_bootstrap_copy_and_partial_leak_fail_while_unseen_rows_pass(adult_full) -> None:
    spec, contract, typed, train, holdout = adult_full
    settings = NO_ANONYMETER
    modelled = [c.name for c in contract.modelled]
    engine = make_engine("bootstrap")
    engine.fit(train[modelled], contract, seed=0)
    boot = privacy.check(
        train, engine.sample(len(typed), seed=1), holdout, contract=contract, thresholds=settings
    )
    assert not boot.passed and boot.metrics["attack_auc"] > 0.8

    copy = train.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert not privacy.check(train, copy, holdout, contract=contract, thresholds=settings).passed

    rng = np.random.default_rng(1)
    order = rng.permutation(len(holdout))
    unseen = holdout.iloc[order[: len(order) // 2]]
    rest = holdout.iloc[order[len(order) // 2 :]]
    # no false alarm from any measure, anonymeter's attacks included
    with_anonymeter = anonymeter_runner(contract, spec.checks.privacy, seed=7)
    honest = privacy.check(
        train, unseen, rest, contract=contract, thresholds=settings, anonymeter=with_anonymeter
    )
    assert honest.passed, honest.reasons
    assert len(honest.details) == 12  # 7 distance/attack/rare measures + 5 anonymeter risks

    fresh = make_engine("gaussian_copula")
    fresh.fit(train[modelled], contract, seed=0)
    synthetic = fresh.sample(len(train), seed=1)
    leaked = int(0.3 * len(synthetic))
    leak = pd.concat([synthetic.iloc[leaked:], train[modelled].sample(leaked, random_state=5)])
    leak = leak.sample(frac=1.0, random_state=6).reset_index(drop=True)
    result = privacy.check(train, leak, holdout, contract=contract, thresholds=settings)
    flagged = " ".join(result.reasons)
    assert "DCR share" in flagged and "membership attack" in flagged
    assert Role.quasi_identifier in contract["age"].roles


def test_a_wide_column_is_compared_by_code_at_the_distance_a_one_hot_gives(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=400),
            "zip": [f"{v:05d}" for v in rng.integers(0, 300, 400)],
            "colour": rng.choice(["red", "blue", None], 400),
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    columns = {
        "x": {"type": "numerical"},
        "zip": {"type": "categorical"},
        "colour": {"type": "categorical"},
    }
    spec = load_spec(_spec_file(tmp_path, columns))
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="d")
    encoder = Encoder.fit(typed, contract)
    points = encoder.transform(typed)
    # the ZIP-like column is one code per row, not ~300 one-hot dimensions
    assert points.dense.shape == (400, 2 + 3) and points.codes.shape == (400, 1)
    codes = points.codes[:, 0]
    one_hot = np.zeros((400, codes.max() + 1))
    one_hot[np.arange(400), codes] = np.sqrt(0.5)
    dense = np.hstack([points.dense, one_hot])
    query, reference = slice(0, 100), slice(100, 400)
    by_code, where = nearest(points[query], points[reference], k=3)
    by_one_hot, _ = nearest(dense[query], dense[reference], k=3)
    assert np.allclose(by_code, by_one_hot)
    brute = np.sqrt(((dense[query][:, None] - dense[reference][None]) ** 2).sum(-1))
    assert np.allclose(np.take_along_axis(brute, where, 1), by_code)


def test_many_one_hot_columns_encode_past_the_int8_range(tmp_path) -> None:
    """pandas keeps a small domain's codes as int8: offsetting them past the 127th one-hot slot
    overflowed (a 70-column survey table crashed the privacy check)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"c{i}": rng.choice(["a", "b", "c", "d", "e"], 60) for i in range(40)})
    frame.to_parquet(tmp_path / "d.parquet")
    spec = load_spec(_spec_file(tmp_path, {c: {"type": "categorical"} for c in frame}))
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="d")
    points = Encoder.fit(typed, contract).transform(typed)
    assert points.dense.shape == (60, 40 * 6)
    assert np.allclose((points.dense > 0).sum(1), 40)  # one slot per column, each in its place


def _checked(tmp_path, frame: pd.DataFrame, columns: dict, by: str | None):
    frame.to_parquet(tmp_path / "d.parquet")
    spec = load_spec(_spec_file(tmp_path, columns))
    contract, typed = build_contract(read_source(spec.source), spec.dataset, label="d")
    return contract, typed


def _panel(rng: np.random.Generator, people: int, start: int) -> pd.DataFrame:
    """People with fixed traits and eight yearly rows each: a wage panel in miniature."""
    traits = {f"t{i}": rng.choice(list("abcdef"), people) for i in range(5)}
    frame = pd.DataFrame({"person": np.arange(start, start + people), **traits})
    frame = frame.loc[frame.index.repeat(8)].reset_index(drop=True)
    frame["year"] = np.tile(np.arange(8), people).astype(float)
    frame["wage"] = rng.normal(size=len(frame))
    return frame


def test_unseen_people_pass_the_privacy_check_of_a_panel_split_by_person(tmp_path) -> None:
    """Split by person, an equal-sized row sample of training spreads over four times the people
    of the holdout's: rows of people no model saw then sat nearer training (DCR share 0.6)."""
    rng = np.random.default_rng(0)
    real, fresh = _panel(rng, 500, 0), _panel(rng, 400, 10_000)
    columns = {
        "person": {"type": "id"},
        **{f"t{i}": {"type": "categorical"} for i in range(5)},
        "year": {"type": "numerical"},
        "wage": {"type": "numerical"},
    }
    contract, typed = _checked(tmp_path, pd.concat([real, fresh]), columns, "person")
    real_t, fresh_t = typed.iloc[: len(real)], typed.iloc[len(real) :].reset_index(drop=True)
    train, holdout = split_holdout(real_t, share=0.2, seed=0, by="person")
    judged = privacy.check(
        train, fresh_t, holdout, contract=contract, thresholds=NO_ANONYMETER, subject="person"
    )
    assert judged.passed, judged.reasons
    assert abs(judged.metrics["dcr_share"] - 0.5) < 0.07
    by_rows = privacy.check(train, fresh_t, holdout, contract=contract, thresholds=NO_ANONYMETER)
    assert by_rows.metrics["dcr_share"] > judged.metrics["dcr_share"] + 0.03  # the old bias
    copies = pd.concat([train.iloc[: len(train) // 2]] * 2, ignore_index=True)
    assert not privacy.check(
        train, copies, holdout, contract=contract, thresholds=NO_ANONYMETER, subject="person"
    ).passed


def test_size_adjusted_dcr_share_counts_identical_rows_by_where_they_are(tmp_path) -> None:
    """On a table of few discrete values many rows tie at distance 0 with both sets; counted in
    proportion to the set sizes, fresh rows from the same population scored above 0.55."""
    rng = np.random.default_rng(1)
    cells = {f"c{i}": list("abcd") for i in range(4)}  # 256 combinations, some common
    p = rng.dirichlet(np.full(4, 0.5), size=4)
    frame = pd.DataFrame(
        {c: rng.choice(v, 12_000, p=p[i]) for i, (c, v) in enumerate(cells.items())}
    )
    contract, typed = _checked(tmp_path, frame, {c: {"type": "categorical"} for c in cells}, None)
    train, holdout, fresh = typed.iloc[:8000], typed.iloc[8000:10_000], typed.iloc[10_000:]
    judged = privacy.check(
        train, fresh.reset_index(drop=True), holdout, contract=contract, thresholds=NO_ANONYMETER
    )
    assert abs(judged.metrics["dcr_share_all"] - 0.5) < 0.04, judged.metrics
    assert not any("size-adjusted" in r for r in judged.reasons)
