"""Job specs and dataset contracts: pure data models, no heavy imports."""

from schemas.base import SpecBase
from schemas.contract import ColumnContract, Contract
from schemas.errors import DataError, GateFailed, InternalError, SpecError, SynthError
from schemas.image_spec import ImageJobSpec
from schemas.load import json_schema, load_spec, spec_from_dict
from schemas.spec import ColumnSpec, ColumnType, JobSpec, Role

__all__ = [
    "ColumnContract",
    "ColumnSpec",
    "ColumnType",
    "Contract",
    "DataError",
    "GateFailed",
    "ImageJobSpec",
    "InternalError",
    "JobSpec",
    "Role",
    "SpecBase",
    "SpecError",
    "SynthError",
    "json_schema",
    "load_spec",
    "spec_from_dict",
]
