"""The image modality (image folders, image Parquet, image sets inside wheels): `ImageModality`."""

from synth.modalities.images.modality import ImageModality

__all__ = ["ImageModality"]
