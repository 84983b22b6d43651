"""The table modality (CSV, Parquet, SQL): `TableModality`."""

from synth.modalities.table.modality import TableModality

__all__ = ["TableModality"]
