import json
from pathlib import Path

import pytest
import yaml

from schemas import SpecError, json_schema, load_spec, spec_from_dict
from schemas.image_spec import ImageJobSpec
from schemas.spec import JobSpec, Role
from tests.builders import REPO, spec


def _write(tmp_path: Path, raw: dict) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_example_spec_loads_with_roles_and_anchored_paths() -> None:
    job = load_spec(REPO / "examples" / "adult.yaml")
    assert job.name == "adult"
    assert job.dataset.columns["race"].roles == {Role.sensitive, Role.quasi_identifier}
    assert job.source.path.is_absolute() and job.source.path.exists()
    assert job.split.holdout == 0.2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["sample"].update(rowz=5), "sample.rowz: unknown field"),
        (lambda r: r["model"].update(engine="magic"), "model.engine: unknown engine"),
        (lambda r: r.update(config_version=2), "config_version"),
        (lambda r: r["schema"]["columns"]["age"].update(type="number"), "schema.columns.age.type"),
        (lambda r: r["schema"]["columns"]["age"].update(pii_kind="email"), "schema.columns.age"),
        (lambda r: r["sample"].update(conditions=[{"values": {"nope": 1}, "rows": 3}]), "nope"),
        (lambda r: r["sample"].update(conditions=[{"values": {"email": "x"}, "rows": 3}]), "email"),
        (lambda r: r.update(name="Bad Name"), "name"),
        (lambda r: r["sample"].update(rows=0), "sample.rows: 0 rows and no conditions"),
        (lambda r: r["source"].update(encoding="klingon"), "source.csv.encoding"),
        (lambda r: r["source"].update(delimiter=""), "source.csv.delimiter"),
        (
            lambda r: r["schema"]["columns"].update(dob={"type": "datetime", "role": "pii"}),
            "column 'dob': a pii column must be text, categorical or id",
        ),
        (
            lambda r: r["sample"].update(conditions=[{"values": {"age": 120}, "rows": 3}]),
            "the value for 'age' breaks its declared constraints",
        ),
        (
            lambda r: r["output"].update(partition_by=["email"]),
            "output.partition_by: column 'email' must be a modelled categorical",
        ),
        (
            lambda r: r.update(split={"holdout": 0.2, "by": "nobody"}),
            "split.by: column 'nobody' is not declared in schema",
        ),
        (
            lambda r: r["output"].update(partition_by=["nope"]),
            "output.partition_by: column 'nope' is not declared",
        ),
        (lambda r: r.update(scale={"dask_address": "localhost:8786"}), "scale.dask_address"),
        (
            lambda r: r["model"].update(differential_privacy={"epsilon": 1.0}),
            "model.differential_privacy: only engine autoregressive trains with DP-SGD",
        ),
        (
            lambda r: r.update(
                model={"engine": "autoregressive", "differential_privacy": {"epsilon": 0}}
            ),
            "model.differential_privacy.epsilon",
        ),
        (
            lambda r: r.update(
                model={
                    "engine": "autoregressive",
                    "params": {"epsilon": 3},
                    "differential_privacy": {"epsilon": 1},
                }
            ),
            "model.params: epsilon belong in model.differential_privacy",
        ),
    ],
)
def test_invalid_spec_is_one_line_naming_the_field(tmp_path: Path, mutate, field: str) -> None:
    raw = spec(tmp_path / "data.csv")
    mutate(raw)
    with pytest.raises(SpecError) as caught:
        load_spec(_write(tmp_path, raw))
    message = str(caught.value)
    assert field in message
    assert "\n" not in message


def test_overrides_replace_fields_and_an_engine_switch_drops_params(tmp_path: Path) -> None:
    raw = spec(tmp_path / "data.csv")
    raw["model"] = {"engine": "ctgan", "params": {"epochs": 3}}
    path = _write(tmp_path, raw)
    job = load_spec(path, overrides={"model.engine": "independent", "sample.rows": 7})
    assert (job.model.engine, job.model.params, job.sample.rows) == ("independent", {}, 7)
    assert load_spec(path, overrides={"model.engine": "ctgan"}).model.params == {"epochs": 3}


def test_committed_json_schema_matches_the_models() -> None:
    committed = json.loads((REPO / "schemas" / "jobspec.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema()))


def test_spec_fingerprint_ignores_formatting(tmp_path: Path) -> None:
    raw = spec(tmp_path / "data.csv")
    a = _write(tmp_path, raw)
    b = tmp_path / "b.yaml"
    b.write_text(json.dumps(raw, indent=4))  # JSON is YAML too
    assert load_spec(a).fingerprint() == load_spec(b).fingerprint()
    # where and when it runs does not change what it makes; how the output is cut does
    moved = {
        **raw,
        "scale": {"dask_address": "tls://10.0.0.5:8786"},
        "schedule": {"cron": "0 3 * * *"},
    }
    assert load_spec(_write(tmp_path / "c", moved)).fingerprint() == load_spec(a).fingerprint()
    cut = {**raw, "output": {**raw["output"], "partition_by": ["sex"]}}
    assert load_spec(_write(tmp_path / "d", cut)).fingerprint() != load_spec(a).fingerprint()


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_spec_validates(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name and spec.fingerprint()


def test_dp_settings_reach_the_engine_and_the_fingerprint(tmp_path: Path) -> None:
    raw = spec(tmp_path / "data.csv")
    raw["model"] = {"engine": "autoregressive", "params": {"epochs": 3}}
    plain = load_spec(_write(tmp_path / "a", raw))
    raw["model"]["differential_privacy"] = {"epsilon": 2.0}
    private = load_spec(_write(tmp_path / "b", raw))
    assert private.model.engine_params() == {
        "epochs": 3,
        "epsilon": 2.0,
        "delta": None,
        "max_grad_norm": 1.0,
    }
    assert plain.model.engine_params() == {"epochs": 3}
    assert private.fingerprint() != plain.fingerprint()


def _example(name: str) -> JobSpec | ImageJobSpec:
    # anchored at a fixed folder: a fingerprint includes the source's absolute path
    raw = yaml.safe_load((REPO / "examples" / name).read_text())
    return spec_from_dict(raw, label=name, base_dir=Path("/nonexistent-synth-root/examples"))


@pytest.mark.parametrize(
    ("name", "pinned"),
    [
        ("adult.yaml", "55c727022e43bc8ca3e7f38a63da975f61d2386463dfc5d2fd4ecc86f42e46af"),
        ("digits.yaml", "d8be51f75c0e3be67aa11afc6a4c3ba00404eda191ba4f89218a175bb41d13ea"),
        # linked: unchanged when linked tables gained their text check and modelled text
        ("linked_pigs.yaml", "5943ff7e05f4b0bafb531047d9cc2c325be83e5395527e1b11c72cc546a81e3f"),
    ],
)
def test_example_fingerprints_are_pinned(name: str, pinned: str) -> None:
    # model-store keys, `synth regenerate` and published runs' spec_hash depend on these values:
    # a refactor of the spec models must not move them
    assert _example(name).fingerprint() == pinned


def test_every_spec_names_its_modality_and_a_table_hashes_as_before(tmp_path: Path) -> None:
    raw = spec(tmp_path / "data.csv")
    unnamed = load_spec(_write(tmp_path / "a", raw))
    named = load_spec(_write(tmp_path / "b", {**raw, "kind": "table"}))
    assert (unnamed.kind, named.kind, _example("digits.yaml").kind) == ("table", "table", "images")
    assert named.fingerprint() == unnamed.fingerprint()
    with pytest.raises(
        SpecError, match=r"kind: unknown kind; choose one of table, images, linked$"
    ):
        load_spec(_write(tmp_path / "c", {**raw, "kind": "tables"}))


def test_image_specs_ignore_their_schedule_and_output_folder() -> None:
    base = _example("digits.yaml")
    raw = yaml.safe_load((REPO / "examples" / "digits.yaml").read_text())
    raw["schedule"] = {"cron": "0 3 * * *"}
    raw["output"] = {"path": "elsewhere", "keep_quarantined_rows": True}
    moved = spec_from_dict(raw, label="moved", base_dir=Path("/nonexistent-synth-root/examples"))
    assert moved.fingerprint() == base.fingerprint()
    raw["checks"]["quality"]["k"] = 7  # a threshold is meaning
    assert spec_from_dict(raw, label="k", base_dir=Path(".")).fingerprint() != base.fingerprint()


def test_image_thresholds_are_set_from_the_spec_within_bounds(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "examples" / "digits.yaml").read_text())
    raw["checks"]["quality"].update(min_precision=0.5, max_kid=0.1, k=3, max_images=100)
    raw["checks"]["privacy"].update(max_exact_duplicates=0, max_images=200)
    job = load_spec(_write(tmp_path / "a", raw))
    quality, privacy = job.checks.quality, job.checks.privacy
    assert (quality.min_precision, quality.min_recall, quality.max_kid) == (0.5, None, 0.1)
    assert (quality.k, quality.max_images) == (3, 100)
    assert (privacy.max_exact_duplicates, privacy.max_images, privacy.max_duplicate_excess) == (
        0,
        200,
        0.0,
    )
    raw["checks"]["quality"]["k"] = 0
    with pytest.raises(SpecError, match="checks.quality.k"):
        load_spec(_write(tmp_path / "b", raw))


def test_an_unknown_engine_lists_the_engines_of_the_specs_modality(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "examples" / "digits.yaml").read_text())
    raw["model"]["engine"] = "ctgan"
    with pytest.raises(SpecError, match=r"model.engine: unknown engine; choose one of cgan, cvae$"):
        load_spec(_write(tmp_path, raw))


def test_naming_the_default_engine_keeps_the_params(tmp_path: Path) -> None:
    raw = spec(tmp_path / "data.csv")
    raw["model"] = {"params": {"epochs": 3}}  # the default engine, autoregressive
    job = load_spec(_write(tmp_path, raw), overrides={"model.engine": "autoregressive"})
    assert (job.model.engine, job.model.params) == ("autoregressive", {"epochs": 3})


@pytest.mark.parametrize("kind", ["tables", ["images"]])
def test_an_unknown_kind_names_the_file_even_with_flags(tmp_path: Path, kind) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "kind": kind}))
    with pytest.raises(SpecError, match=r"bad\.yaml: kind: unknown kind"):
        load_spec(bad, overrides={"sample.rows": 5, "model.engine": "ctgan"})


def test_settings_added_later_are_hashed_only_off_their_defaults() -> None:
    from schemas.base import _NEW_CHECK_SECTIONS, _NEW_COLUMN_DEFAULTS
    from schemas.checks import TextChecks
    from schemas.dataset import ColumnSpec

    assert TextChecks().model_dump(mode="json") == _NEW_CHECK_SECTIONS["text"]
    column = ColumnSpec(type="text").model_dump(mode="json")
    assert {k: column[k] for k in _NEW_COLUMN_DEFAULTS} == _NEW_COLUMN_DEFAULTS


def _with_note(tmp_path: Path, **note: object) -> dict:
    raw = spec(tmp_path / "data.csv")
    raw["schema"]["columns"]["note"] = {"type": "text", **note}
    return raw


def test_free_text_is_written_by_our_engine_and_faked_elsewhere(tmp_path: Path) -> None:
    raw = _with_note(tmp_path)
    raw["model"] = {"engine": "autoregressive"}
    assert load_spec(_write(tmp_path / "a", raw)).written_text() == {"note"}
    raw["model"] = {"engine": "gaussian_copula"}
    assert load_spec(_write(tmp_path / "b", raw)).written_text() == frozenset()
    raw["model"] = {"engine": "autoregressive", "differential_privacy": {"epsilon": 2.0}}
    assert load_spec(_write(tmp_path / "c", raw)).written_text() == {"note"}  # its budget's share
    faked = _with_note(tmp_path, generate="fake")
    faked["model"] = {"engine": "autoregressive"}
    assert load_spec(_write(tmp_path / "d", faked)).written_text() == frozenset()


@pytest.mark.parametrize(
    ("model", "note", "message"),
    [
        ({"engine": "gaussian_copula"}, {"generate": "model"}, "needs model.engine autoregressive"),
        ({"engine": "autoregressive"}, {"generate": "model", "role": "pii"}, "never modelled"),
        ({"engine": "autoregressive"}, {"type": "categorical", "max_length": 64}, "text column"),
    ],
)
def test_text_settings_that_cannot_hold_are_one_line(
    tmp_path: Path, model: dict, note: dict, message: str
) -> None:
    raw = _with_note(tmp_path, **note)
    raw["model"] = model
    with pytest.raises(SpecError, match=message) as caught:
        load_spec(_write(tmp_path, raw))
    assert "\n" not in str(caught.value)


def test_a_job_whose_text_is_now_written_hashes_anew(tmp_path: Path) -> None:
    plain = spec(tmp_path / "data.csv")
    before = load_spec(_write(tmp_path / "a", plain)).fingerprint()
    raw = _with_note(tmp_path)
    raw["model"] = {"engine": "gaussian_copula"}
    faked = load_spec(_write(tmp_path / "b", raw))
    raw["model"] = {"engine": "autoregressive"}
    written = load_spec(_write(tmp_path / "c", raw))
    raw["schema"]["columns"]["note"]["generate"] = "fake"
    fake_ours = load_spec(_write(tmp_path / "d", raw))
    assert len({before, faked.fingerprint(), written.fingerprint()}) == 3
    assert fake_ours.fingerprint() != written.fingerprint()
