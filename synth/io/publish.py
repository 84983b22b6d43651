"""Parquet writing and atomic publishing.

A run writes into `OUT/<job>/.staging/<run_id>/`; only a complete, fsynced folder is renamed to
`OUT/<job>/<run_id>/` (or `OUT/<job>/quarantine/<run_id>/` when a gate failed: its report and
metrics, and its rows only on request), and the `latest` link moves last, forward only. A crash at
any point leaves the previous good output and `latest` untouched. Folders and the job's lock are
`synth.io.run_folders`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.contract import Contract
from schemas.errors import SpecError, SynthError
from schemas.spec import MAX_PARTITION_FOLDERS, partition_column_problem
from synth import cancel
from synth.io.run_folders import RunFolders, fsync_dir, point_latest

__all__ = [
    "RunFolders",
    "StagedParts",
    "arrow_schema",
    "check_partitioning",
    "hive_segment",
    "publish",
    "require_inside",
    "seal_parts",
    "write_part",
]

_ARROW = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
}
METADATA_KEY = b"synth"


def arrow_schema(contract: Contract) -> pa.Schema:
    return pa.schema(
        [pa.field(c.name, _ARROW[c.physical], nullable=True) for c in contract.columns]
    )


@dataclass(frozen=True)
class StagedParts:
    files: tuple[Path, ...]
    rows: int
    root: Path | None = None  # set: parts keep their folders below it (a linked job's tables)


def write_part(frames: Iterable[pd.DataFrame], path: Path, contract: Contract) -> int:
    """One staged Parquet part, a row group per frame, one frame in memory; returns its rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(contract)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for frame in frames:
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
            rows += len(frame)
    return rows


def seal_parts(
    staged: StagedParts,
    folder: Path,
    *,
    metadata: dict[str, Any],
    compression: str,
    partition_by: Sequence[str] = (),
) -> list[Path]:
    """Rewrite staged parts into `folder` with the final `synth` metadata (verdict included);
    with `partition_by`, Hive-style: `folder/<col>=<value>/.../part-NNNNN.parquet`, the partition
    columns held by the folder names (as Arrow, Spark, DuckDB and pandas read them back)."""
    for column in partition_by:
        _require_folder_name(column)  # before any work: Arrow fails late on some names
    folder.mkdir(parents=True, exist_ok=True)
    sealed: list[Path] = []
    codec = None if compression == "none" else compression
    for file in staged.files:
        parquet = pq.ParquetFile(file)
        # keep what the part already says about itself (e.g. Hugging Face features for images)
        schema = parquet.schema_arrow.with_metadata(
            {
                **(parquet.schema_arrow.metadata or {}),
                METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str).encode(),
            }
        )
        if partition_by:
            sealed += _seal_partitioned(parquet, file.name, folder, schema, codec, partition_by)
            continue
        target = folder / (file.relative_to(staged.root) if staged.root else file.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(target, schema, compression=codec) as writer:
            for group in range(parquet.num_row_groups):
                writer.write_table(
                    parquet.read_row_group(group).replace_schema_metadata(schema.metadata)
                )
        sealed.append(target)
    for path in sealed:
        _fsync_file(path)
    for directory in sorted({p.parent for p in sealed}, key=lambda p: -len(p.parts)):
        fsync_dir(directory)
    return sealed


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def hive_segment(column: str, value: Any) -> str:
    """`column=value` as a folder name; the value URI-escaped (Arrow's default decoding)."""
    if value is None:
        text = HIVE_NULL
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = quote(str(value), safe="")
    _require_folder_name(column)
    return f"{column}={text}"


def _require_folder_name(column: str) -> None:
    """The spec refuses these names; checked again here, as nothing else guards the path."""
    problem = partition_column_problem(column)
    if problem is not None:
        raise SpecError(f"output.partition_by: column {column!r} {problem}")


def require_inside(path: Path, root: Path) -> Path:
    """`path`, once it is certain to resolve inside `root`: nothing a run writes lands elsewhere."""
    if not path.resolve().is_relative_to(root.resolve()):
        raise SynthError("refusing to write outside the run folder")
    return path


def _seal_partitioned(
    parquet: pq.ParquetFile,
    name: str,
    folder: Path,
    schema: pa.Schema,
    codec: str | None,
    partition_by: Sequence[str],
) -> list[Path]:
    """One staged part split into a file per partition folder, row group by row group."""
    kept = pa.schema([f for f in schema if f.name not in partition_by], metadata=schema.metadata)
    writers: dict[tuple[Any, ...], pq.ParquetWriter] = {}
    paths: list[Path] = []
    try:
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group)
            keys = table.select(list(partition_by)).group_by(list(partition_by)).aggregate([])
            for key in keys.to_pylist():
                values = tuple(key[c] for c in partition_by)
                mask = None
                for column, value in zip(partition_by, values, strict=True):
                    matches = (
                        pc.is_null(table[column])
                        if value is None
                        else pc.fill_null(pc.equal(table[column], value), False)
                    )
                    mask = matches if mask is None else pc.and_(mask, matches)
                rows = table.filter(mask).select(kept.names).replace_schema_metadata(kept.metadata)
                writer = writers.get(values)
                if writer is None:
                    target = require_inside(
                        folder.joinpath(
                            *(
                                hive_segment(c, v)
                                for c, v in zip(partition_by, values, strict=True)
                            ),
                            name,
                        ),
                        folder,
                    )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    writer = writers[values] = pq.ParquetWriter(target, kept, compression=codec)
                    paths.append(target)
                writer.write_table(rows)
    finally:
        for writer in writers.values():
            writer.close()
    return paths


def check_partitioning(contract: Contract, partition_by: Sequence[str]) -> None:
    """Names that can be folder names, and at most MAX_PARTITION_FOLDERS folders, judged from the
    real data's categories."""
    folders = 1
    for column in partition_by:
        _require_folder_name(column)
        c = contract[column]
        folders *= len(c.categories or ()) + (1 if c.null_share else 0)
    if folders > MAX_PARTITION_FOLDERS:
        raise SpecError(
            f"output.partition_by: {', '.join(partition_by)} would make {folders} folders; at "
            f"most {MAX_PARTITION_FOLDERS}"
        )


def publish(
    folders: RunFolders,
    staged: StagedParts,
    *,
    passed: bool,
    metadata: dict[str, Any],
    documents: dict[str, str],
    compression: str,
    partition_by: Sequence[str] = (),
    keep_quarantined_rows: bool = False,
) -> Path:
    """Seal data and documents (report.html, metrics.json) and move the run into place atomically.

    A run that failed a gate goes to quarantine with its documents only: its rows may be the very
    ones the privacy gate caught. With `keep_quarantined_rows` they are kept, in a 0700 folder.
    `latest` moves only to a passed run later than the one it points at. Safe to retry: a run
    already renamed into place is not written again, only pointed to.
    """
    target = require_inside(folders.final if passed else folders.quarantine, folders.job_dir)
    assembled = folders.staging / "run"
    if not target.exists():
        assembled.mkdir(parents=True, exist_ok=True)
        if passed or keep_quarantined_rows:
            data = assembled / "data"
            data.mkdir(exist_ok=True)
            if not passed:
                os.chmod(data, 0o700)  # before any row lands in it
            seal_parts(
                staged,
                data,
                metadata=metadata,
                compression=compression,
                partition_by=partition_by,
            )
            fsync_dir(data)
        for name, text in documents.items():
            _write_text_synced(require_inside(assembled / name, assembled), text)
        fsync_dir(assembled)
        target.parent.mkdir(parents=True, exist_ok=True)
    with cancel.critical():  # a cancellation waits for the rename and `latest`, or stops here
        if not target.exists():
            os.rename(assembled, target)
            fsync_dir(target.parent)
        if passed:
            point_latest(folders)
    cancel.published(str(target))
    folders.discard_staging()
    return target


def _write_text_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
