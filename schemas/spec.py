"""The table job spec: the only way configuration enters a table job. YAML in, validated pydantic
models out.

`JobSpec` ties the table's parts together: its source (schemas/sources.py), schema
(schemas/dataset.py), model, sample plan (schemas/sample.py), checks (schemas/checks.py), output
and scale. Every name other modules import from here stays importable from here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from schemas.base import EngineParams, OutputBase, ScheduleSpec, SpecBase, SplitBase, _Strict
from schemas.checks import (
    AnonymeterChecks,
    BiasChecks,
    ChecksSpec,
    DetectionChecks,
    ExpectationChecks,
    PiiScan,
    PrivacyChecks,
    QualityChecks,
    ReportSpec,
    UtilityChecks,
)
from schemas.dataset import (
    ColumnConstraints,
    ColumnSpec,
    ColumnType,
    DatasetSchema,
    FixedCombinations,
    Inequality,
    PiiKind,
    Role,
    Scalar,
    TableConstraint,
    _meets,
)
from schemas.engines import DEFAULT_TABLE_ENGINE, TABLE_ENGINES, TableEngine
from schemas.sample import Condition, Parity, PrivacyFilter, Rebalance, SampleSpec
from schemas.sources import CsvSource, ParquetSource, SourceSpec, SqlSource
from schemas.text import modelled_text_problem, written_text

__all__ = [
    "ENGINES",
    "MAX_PARTITION_FOLDERS",
    "SECURE_DASK_SCHEMES",
    "AnonymeterChecks",
    "BiasChecks",
    "ChecksSpec",
    "ColumnConstraints",
    "ColumnSpec",
    "ColumnType",
    "Condition",
    "CsvSource",
    "DatasetSchema",
    "DetectionChecks",
    "DifferentialPrivacy",
    "EngineName",
    "ExpectationChecks",
    "FixedCombinations",
    "Inequality",
    "JobSpec",
    "ModelSpec",
    "OutputSpec",
    "Parity",
    "ParquetSource",
    "PiiKind",
    "PiiScan",
    "PrivacyChecks",
    "PrivacyFilter",
    "QualityChecks",
    "Rebalance",
    "ReportSpec",
    "Role",
    "SampleSpec",
    "Scalar",
    "ScaleSpec",
    "ScheduleSpec",
    "SourceSpec",
    "SplitSpec",
    "SqlSource",
    "TableConstraint",
    "UtilityChecks",
    "ValueProtection",
    "partition_column_problem",
]

# the names this module always exported; schemas/engines.py is where they are defined
ENGINES = TABLE_ENGINES
EngineName = TableEngine


class SplitSpec(SplitBase):
    """A table's split; `by` keeps each subject's rows on one side."""

    by: str | None = Field(
        default=None,
        description="A column naming the subject of each row (a person in a panel): all of a "
        "subject's rows go to the same side, so the holdout holds unseen subjects and no check "
        "credits a model for recognising someone it trained on.",
    )


class DifferentialPrivacy(_Strict):
    """DP-SGD (Opacus) for the `autoregressive` engine: the model's training is (epsilon,
    delta)-differentially private; the bins and category lists the codecs take from the data
    are not."""

    epsilon: float = Field(
        gt=0, description="The budget; the run is refused if it would be exceeded."
    )
    delta: float | None = Field(
        default=None, gt=0, lt=1, description="Default 1 / n^1.1 for n training rows."
    )
    max_grad_norm: float = Field(default=1.0, gt=0, description="Per-row gradient clipping norm.")


class ValueProtection(_Strict):
    """Rare values never leave: applied to the training rows before any engine fits, so neither
    the stored model nor the output holds them (synth/tabular/protection.py)."""

    enabled: bool = Field(
        default=True,
        description="Off only for negative controls (e.g. a copying engine the privacy gate must "
        "still catch).",
    )
    min_count: int = Field(
        default=5,
        ge=2,
        description="A category, fixed combination or value of a number with few distinct values "
        "held by fewer training rows is replaced by a common one; numbers and dates are clipped "
        "to their min_count-th smallest and largest training values.",
    )


class ModelSpec(_Strict):
    engine: TableEngine = DEFAULT_TABLE_ENGINE
    params: EngineParams = Field(default_factory=dict)
    cache: bool = Field(
        default=True,
        description="Reuse the model stored for this source, model section, schema, split, seed "
        "and code (`synth run --retrain` fits anew); see synth/io/model_store.py.",
    )
    differential_privacy: DifferentialPrivacy | None = None
    value_protection: ValueProtection = ValueProtection()

    @model_validator(mode="after")
    def _dp_needs_our_engine(self) -> ModelSpec:
        if self.differential_privacy is not None:
            if self.engine != "autoregressive":
                raise ValueError(
                    "model.differential_privacy: only engine autoregressive trains with DP-SGD"
                )
            clash = sorted({"epsilon", "delta", "max_grad_norm"} & set(self.params))
            if clash:
                raise ValueError(
                    f"model.params: {', '.join(clash)} belong in model.differential_privacy"
                )
        return self

    def engine_params(self) -> dict[str, Any]:
        """`params` plus the DP settings, as the engine takes them."""
        dp = self.differential_privacy
        return {**self.params, **(dp.model_dump() if dp else {})}


MAX_PARTITION_FOLDERS = 1000


def partition_column_problem(name: str) -> str | None:
    """Why `name` cannot head a Hive folder (`<name>=<value>`), or None when it can.

    The name becomes a path segment as is: a separator or `..` would write outside the run, a
    leading `.` or `_` is a folder Arrow skips (or fails on) when it reads the data back, and `=`
    or `%` would be read back as part of the value.
    """
    if not name or name in (".", ".."):
        return "is empty or a relative path"
    if name[0] in "._":
        return "starts with '.' or '_', which Arrow skips when it reads folders back"
    if any(c in "/\\=%" or not c.isprintable() for c in name):
        return "holds '/', '\\', '=', '%' or a control character"
    return None


class OutputSpec(OutputBase):
    """A table's output: Parquet parts of `rows_per_file` rows, optionally in Hive folders."""

    rows_per_file: PositiveInt = Field(
        default=1_000_000,
        description="Rows per Parquet part; also the unit of work one Dask task samples.",
    )
    partition_by: list[str] = Field(
        default_factory=list,
        description="Categorical or boolean columns to write Hive-style folders by "
        f"(data/sex=Female/part-00000.parquet); at most {MAX_PARTITION_FOLDERS} folders.",
    )

    @field_validator("partition_by")
    @classmethod
    def _partition_names_are_folder_names(cls, names: list[str]) -> list[str]:
        for name in names:
            problem = partition_column_problem(name)
            if problem is not None:
                raise ValueError(f"column {name!r} {problem}")  # located by pydantic
        return names


# Dask comms that encrypt (inproc never leaves the process).
SECURE_DASK_SCHEMES = ("tls", "wss", "inproc")


class ScaleSpec(_Strict):
    """Where sampling, writing and the per-partition checks run. The result does not depend on it:
    partitions are cut and seeded by the plan, never by the number of workers."""

    dask_address: str | None = Field(
        default=None,
        pattern=r"^(tcp|tls|inproc|ws|wss|ucx)://\S+$",
        description="Scheduler of an existing Dask cluster (e.g. tls://10.0.0.5:8786); partitions "
        "then run on its workers through prefect-dask. Workers must see the output path.",
    )
    allow_insecure: bool = Field(
        default=False,
        description="Accept a scheduler address without TLS (tcp://, ws://, ucx://). The model "
        "and the fake pools travel to the workers; unencrypted, anyone on the network path reads "
        "them. Off: only tls://, wss:// and inproc:// are accepted.",
    )

    @model_validator(mode="after")
    def _encrypted_unless_allowed(self) -> ScaleSpec:
        scheme = (self.dask_address or "").partition("://")[0]
        if self.dask_address and scheme not in SECURE_DASK_SCHEMES and not self.allow_insecure:
            raise ValueError(
                f"dask_address: {scheme}:// is not encrypted; use tls:// (with Dask's TLS "
                "settings) or set scale.allow_insecure: true"
            )
        return self


class JobSpec(SpecBase):
    """A table synthesis job: where the data is, what it means, how to model, sample, check and
    publish."""

    kind: Literal["table"] = Field(
        default="table", description="What the job synthesises; a spec without it is a table."
    )
    engines: ClassVar[tuple[str, ...]] = TABLE_ENGINES  # for one-line errors
    default_engine: ClassVar[str] = DEFAULT_TABLE_ENGINE
    rows_field: ClassVar[str] = "sample.rows"  # what `--rows` sets
    source: SourceSpec
    dataset: DatasetSchema = Field(alias="schema")
    split: SplitSpec = SplitSpec()
    model: ModelSpec = ModelSpec()
    sample: SampleSpec = SampleSpec()
    checks: ChecksSpec = ChecksSpec()
    report: ReportSpec = ReportSpec()
    output: OutputSpec = OutputSpec()
    scale: ScaleSpec = ScaleSpec()

    @model_validator(mode="before")
    @classmethod
    def _no_program_named_in_the_spec(cls, raw: Any) -> Any:
        node = raw
        for part in ("checks", "privacy", "anonymeter"):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and "python" in node:
            raise ValueError(
                "checks.privacy.anonymeter.python: no longer read from a spec (it would run any "
                "program the spec names); set SYNTH_ANONYMETER_PYTHON or run `make anonymeter`"
            )
        return raw

    @model_validator(mode="after")
    def _copies_of_real_rows_only_behind_the_privacy_gate(self) -> JobSpec:
        if self.model.engine == "bootstrap" and not self.checks.privacy.enabled:
            raise ValueError(
                "model.engine: bootstrap publishes copies of real rows, so it runs only with "
                "checks.privacy.enabled: true (the privacy gate quarantines its output)"
            )
        return self

    def _meaning(self) -> dict[str, Any]:
        """As every spec's, plus the free-text columns a language model writes: `generate: auto`
        hashes as before, yet a job whose text is now modelled gets a new model."""
        written = self.written_text()
        return {**super()._meaning(), **({"written_text": sorted(written)} if written else {})}

    def written_text(self) -> frozenset[str]:
        """The free-text columns a language model writes (schemas/text.py)."""
        return written_text(self.dataset, self.model)

    @model_validator(mode="after")
    def _modelled_text_needs_our_engine(self) -> JobSpec:
        problem = modelled_text_problem(self.dataset, self.model)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _split_by_a_declared_column(self) -> JobSpec:
        if self.split.by is not None and self.split.by not in self.dataset.columns:
            raise ValueError(f"split.by: column {self.split.by!r} is not declared in schema")
        return self

    @field_validator("dataset")
    @classmethod
    def _identifiers_have_identifier_types(cls, dataset: DatasetSchema) -> DatasetSchema:
        keyish = (ColumnType.numerical, ColumnType.id, ColumnType.categorical)
        fakeable = (ColumnType.text, ColumnType.id, ColumnType.categorical)
        for name, column in dataset.columns.items():
            if Role.key in column.roles and column.type not in keyish:
                raise ValueError(f"column {name!r}: a key must be numerical, id or categorical")
            if (
                Role.pii in column.roles
                and Role.key not in column.roles
                and column.type not in fakeable
            ):
                raise ValueError(
                    f"column {name!r}: a pii column must be text, categorical or id (fakes are "
                    "text); model dates or numbers as quasi_identifier instead"
                )
        return dataset

    @model_validator(mode="after")
    def _conditions_name_model_columns(self) -> JobSpec:
        for i, condition in enumerate(self.sample.conditions):
            for column in condition.values:
                spec = self.dataset.columns.get(column)
                if spec is None:
                    raise ValueError(f"sample.conditions[{i}]: column {column!r} is not declared")
                if spec.roles & {Role.pii, Role.key} or spec.type in (
                    ColumnType.id,
                    ColumnType.text,
                ):
                    raise ValueError(
                        f"sample.conditions[{i}]: column {column!r} is not modelled, so it "
                        "cannot be conditioned on"
                    )
                if not _meets(spec.constraints, condition.values[column]):
                    raise ValueError(
                        f"sample.conditions[{i}]: the value for {column!r} breaks its declared "
                        "constraints"
                    )
        if self.sample.rows == 0 and not self.sample.conditions:
            raise ValueError("sample.rows: 0 rows and no conditions leaves nothing to sample")
        self._fair_sampling_names_categorical_columns()
        self._partitions_name_modelled_categories()
        return self

    def _partitions_name_modelled_categories(self) -> None:
        names = self.output.partition_by
        if len(set(names)) != len(names):
            raise ValueError("output.partition_by: a column is named twice")
        for column in names:
            self._require_grouping_column("output.partition_by", column)

    def _require_grouping_column(self, where: str, column: str, *, banded: bool = False) -> None:
        """Groups (rebalancing, parity, output folders) need a declared, modelled categorical or
        boolean column; rebalance and parity groups may also be the bands of a numerical or
        datetime column."""
        spec = self.dataset.columns.get(column)
        if spec is None:
            raise ValueError(f"{where}: column {column!r} is not declared")
        kinds = [ColumnType.categorical, ColumnType.boolean]
        kinds += [ColumnType.numerical, ColumnType.datetime] if banded else []
        if spec.type not in kinds or spec.roles & {Role.pii, Role.key}:
            raise ValueError(
                f"{where}: column {column!r} must be a modelled categorical or boolean column"
                + (" or a numerical or datetime one (grouped in bands)" if banded else "")
            )

    def _fair_sampling_names_categorical_columns(self) -> None:
        grouped = [
            (f"sample.rebalance[{i}]", r.column) for i, r in enumerate(self.sample.rebalance)
        ]
        parity = self.sample.parity
        if parity is not None:
            targets = [n for n, c in self.dataset.columns.items() if Role.target in c.roles]
            if parity.target is None and not targets:
                raise ValueError("sample.parity: no target given and no column has role target")
            grouped += [
                ("sample.parity.column", parity.column),
                ("sample.parity.target", parity.target or targets[0]),
            ]
        names = [column for _, column in grouped[: len(self.sample.rebalance)]]
        if len(set(names)) != len(names):
            raise ValueError("sample.rebalance: a column is rebalanced twice")
        for where, column in grouped:
            self._require_grouping_column(where, column, banded=where != "sample.parity.target")
        if parity is not None and parity.column == (parity.target or targets[0]):
            raise ValueError("sample.parity: the group column and the target are the same column")

    def _not_meaning(self) -> dict[str, Any]:
        # where the rows are sampled (a Dask cluster or here) does not change them
        return {**super()._not_meaning(), "scale": True}
