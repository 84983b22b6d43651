"""Where a table job's rows come from: a CSV file, Parquet, or a SQL query."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from schemas.base import _Strict

__all__ = ["CsvSource", "ParquetSource", "SourceSpec", "SqlSource"]


class CsvSource(_Strict):
    kind: Literal["csv"] = "csv"
    path: Path
    delimiter: str = Field(default=",", min_length=1)
    encoding: str = "utf-8"
    na_values: list[str] = Field(default_factory=list)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
        return encoding


class ParquetSource(_Strict):
    kind: Literal["parquet"] = "parquet"
    path: Path = Field(description="A Parquet file or a dataset directory.")


class SqlSource(_Strict):
    kind: Literal["sql"] = "sql"
    url: str | None = Field(
        default=None, description="SQLAlchemy URL (prefer url_env for secrets)."
    )
    url_env: str | None = Field(default=None, description="Environment variable holding the URL.")
    query: str

    @model_validator(mode="after")
    def _one_url(self) -> SqlSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self


SourceSpec = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="kind")]
