"""Which free-text columns of a table job a language model writes, and when a spec may ask for it.

A `text` column that is not an identifier is written by the autoregressive engine's language model
(`generate: model`, or `auto` with that engine, with or without differential privacy); otherwise
it is faked. `JobSpec` asks these two functions, so the rule lives in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.dataset import DatasetSchema
    from schemas.spec import ModelSpec


def written_text(dataset: DatasetSchema, model: ModelSpec) -> frozenset[str]:
    """The free-text columns a language model writes: `generate: model`, or `auto` where the
    autoregressive engine trains (else they are faked)."""
    able = model.engine == "autoregressive"
    return frozenset(
        name
        for name, c in dataset.columns.items()
        if c.writes_text and (c.generate == "model" or able)
    )


def modelled_text_problem(dataset: DatasetSchema, model: ModelSpec) -> str | None:
    """Why a column's `generate: model` cannot be honoured by this model, or None."""
    for name, column in dataset.columns.items():
        if column.generate != "model":
            continue
        if model.engine != "autoregressive":
            return (
                f"column {name!r}: generate: model needs model.engine autoregressive "
                "(or generate: fake)"
            )
    return None
