"""Engine names live in schemas/engines.py; every other list of them must agree with it."""

from __future__ import annotations

from typing import get_args

from schemas.engines import (
    DEFAULT_IMAGE_ENGINE,
    DEFAULT_TABLE_ENGINE,
    IMAGE_ENGINES,
    TABLE_ENGINES,
)
from schemas.image_spec import ImageModel
from schemas.spec import ENGINES, ModelSpec


def test_the_table_factory_builds_exactly_the_engines_a_spec_may_name() -> None:
    from synth.tabular import ENGINES as registry

    assert tuple(registry) == TABLE_ENGINES == ENGINES
    assert get_args(ModelSpec.model_fields["engine"].annotation) == TABLE_ENGINES
    assert ModelSpec().engine == DEFAULT_TABLE_ENGINE


def test_the_image_models_are_exactly_the_engines_an_image_spec_may_name() -> None:
    from synth.image.models import KINDS

    assert tuple(KINDS) == IMAGE_ENGINES
    assert get_args(ImageModel.model_fields["engine"].annotation) == IMAGE_ENGINES
    assert ImageModel().engine == DEFAULT_IMAGE_ENGINE


def test_no_name_means_an_engine_of_both_modalities() -> None:
    assert not set(TABLE_ENGINES) & set(IMAGE_ENGINES)
