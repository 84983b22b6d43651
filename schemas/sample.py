"""How a table job's rows are sampled: conditions, rebalancing, parity and the privacy filter."""

from __future__ import annotations

from pydantic import Field, PositiveInt, field_validator

from schemas.base import _Strict
from schemas.dataset import Scalar

__all__ = ["Condition", "Parity", "PrivacyFilter", "Rebalance", "SampleSpec"]


class Condition(_Strict):
    values: dict[str, Scalar] = Field(min_length=1)
    rows: PositiveInt


class Rebalance(_Strict):
    """Target shares for the groups of one categorical column, reached by conditional sampling."""

    column: str
    shares: dict[str, float] = Field(
        min_length=1,
        description="Category -> share of the unconditioned rows; shares sum to 1 and categories "
        "left out get none.",
    )

    @field_validator("shares")
    @classmethod
    def _shares_sum_to_one(cls, shares: dict[str, float]) -> dict[str, float]:
        if any(v < 0 or v > 1 for v in shares.values()):
            raise ValueError("each share must be between 0 and 1")
        if abs(sum(shares.values()) - 1.0) > 1e-6:
            raise ValueError(f"shares must sum to 1, not {sum(shares.values()):.6g}")
        return shares


class Parity(_Strict):
    """Equal positive-outcome rate across the groups of one column, by conditional sampling."""

    column: str
    target: str | None = Field(default=None, description="Default: the column with role target.")
    positive: Scalar | None = Field(
        default=None, description="The favourable outcome; default: the rarer class in training."
    )
    rate: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The rate every group gets; default: the real rate over all training rows.",
    )


class PrivacyFilter(_Strict):
    """Drop synthetic rows closer to a training row than the holdout's low tail, then top up."""

    enabled: bool = False
    quantile: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="A synthetic row closer to its nearest training row than this quantile of the "
        "holdout rows' nearest-training-row distances is replaced.",
    )
    max_rounds: int = Field(default=10, ge=1, le=100, description="Top-up rounds per batch.")


class SampleSpec(_Strict):
    rows: int | None = Field(
        default=None,
        ge=0,
        description="Unconditioned rows; default: as many as the source has (0 with conditions).",
    )
    seed: int = 0
    conditions: list[Condition] = Field(default_factory=list)
    batch_size: PositiveInt = Field(default=50_000, description="Rows sampled and written at once.")
    rebalance: list[Rebalance] = Field(
        default_factory=list,
        description="Target shares per column for the unconditioned rows; several columns are "
        "raked jointly, keeping the real associations between them.",
    )
    parity: Parity | None = None
    privacy_filter: PrivacyFilter = Field(
        default=PrivacyFilter(),
        description="Replace synthetic rows that sit closer to a training row than honest data does.",
    )
