"""The linked modality: several tables under one subject, generated together."""

from synth.modalities.linked.modality import LinkedModality

__all__ = ["LinkedModality"]
