"""Which free-text columns a language model writes, and when a spec may ask for it.

A `text` column that is not an identifier is written by the autoregressive engine's language model
(`generate: model`, or `auto` where that engine trains); otherwise it is faked. Under
differential privacy too: its text models spend a share of the budget (per row in a table job,
per subject in a linked one). `JobSpec` asks these two functions for its table and
`LinkedJobSpec` for each of its tables (a `LinkedModel` answers `engine` as a `ModelSpec` does),
so the rule lives in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.dataset import DatasetSchema
    from schemas.linked_spec import LinkedModel
    from schemas.spec import ModelSpec


def written_text(dataset: DatasetSchema, model: ModelSpec | LinkedModel) -> frozenset[str]:
    """The free-text columns a language model writes: `generate: model`, or `auto` where the
    autoregressive engine trains, else they are faked."""
    able = model.engine == "autoregressive"
    return frozenset(
        name
        for name, c in dataset.columns.items()
        if c.writes_text and (c.generate == "model" or able)
    )


def modelled_text_problem(dataset: DatasetSchema, model: ModelSpec | LinkedModel) -> str | None:
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
