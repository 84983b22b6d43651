"""The job spec: the only way configuration enters synth. YAML in, validated pydantic models out."""

from __future__ import annotations

import codecs
import hashlib
import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

ENGINES = (
    "gaussian_copula",
    "ctgan",
    "tvae",
    "copulagan",
    "independent",
    "bootstrap",
    "autoregressive",
)
EngineName = Literal[
    "gaussian_copula", "ctgan", "tvae", "copulagan", "independent", "bootstrap", "autoregressive"
]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ColumnType(StrEnum):
    numerical = "numerical"
    categorical = "categorical"
    boolean = "boolean"
    datetime = "datetime"
    id = "id"
    text = "text"


class Role(StrEnum):
    pii = "pii"
    quasi_identifier = "quasi_identifier"
    sensitive = "sensitive"
    target = "target"
    key = "key"


class PiiKind(StrEnum):
    name = "name"
    first_name = "first_name"
    last_name = "last_name"
    email = "email"
    phone = "phone"
    ssn = "ssn"
    address = "address"
    city = "city"
    postcode = "postcode"
    iban = "iban"
    credit_card = "credit_card"
    ip = "ip"
    username = "username"
    text = "text"


class ColumnConstraints(_Strict):
    """Per-column constraints the real data must meet and the synthetic data is checked against."""

    min: float | None = None
    max: float | None = None
    values: list[Scalar] | None = Field(default=None, description="Allowed values (categorical).")
    unique: bool = False
    nullable: bool = True


def _meets(constraints: ColumnConstraints, value: Scalar) -> bool:
    if constraints.values is not None and str(value) not in {str(v) for v in constraints.values}:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if constraints.min is not None and value < constraints.min:
            return False
        if constraints.max is not None and value > constraints.max:
            return False
    return True


class ColumnSpec(_Strict):
    type: ColumnType
    role: Role | list[Role] | None = None
    pii_kind: PiiKind | None = Field(
        default=None, description="What fakes replace a pii column; detected when omitted."
    )
    datetime_format: str | None = Field(default=None, description="strftime format to parse.")
    constraints: ColumnConstraints = ColumnConstraints()
    bands: list[float | str] | None = Field(
        default=None,
        min_length=1,
        description="Increasing edges that cut a numerical or datetime column into bands "
        "('< e1', '[e1, e2)', ..., '>= en'): its groups in the bias check, rebalance and parity. "
        "Default: a few bands near its quantiles, each with at least bias.min_count rows.",
    )

    @property
    def roles(self) -> frozenset[Role]:
        if self.role is None:
            return frozenset()
        return frozenset([self.role] if isinstance(self.role, Role) else self.role)

    @model_validator(mode="after")
    def _pii_kind_needs_pii_role(self) -> ColumnSpec:
        if self.pii_kind is not None and Role.pii not in self.roles:
            raise ValueError("pii_kind is only allowed on a column with role pii")
        return self

    @field_validator("bands", mode="before")
    @classmethod
    def _dates_as_text(cls, bands: Any) -> Any:
        # YAML reads 2020-01-01 as a date; keep it as ISO text, which a datetime column parses
        if isinstance(bands, list):
            return [b.isoformat() if isinstance(b, date) else b for b in bands]
        return bands

    @model_validator(mode="after")
    def _bands_are_increasing_edges(self) -> ColumnSpec:
        if self.bands is None:
            return self
        if self.type is ColumnType.numerical:
            if any(isinstance(b, str) for b in self.bands):
                raise ValueError("bands: edges of a numerical column are numbers")
            edges: list[Any] = list(self.bands)
        elif self.type is ColumnType.datetime:
            try:
                edges = [datetime.fromisoformat(str(b)) for b in self.bands]
            except ValueError:
                raise ValueError("bands: edges of a datetime column are ISO dates") from None
        else:
            raise ValueError("bands are only allowed on a numerical or datetime column")
        if any(edges[k + 1] <= edges[k] for k in range(len(edges) - 1)):
            raise ValueError("bands: edges must increase")
        return self


class Inequality(_Strict):
    """`high` is greater than (or equal to, unless strict) `low` on every row where both are set."""

    kind: Literal["inequality"] = "inequality"
    low: str
    high: str
    strict: bool = False

    @property
    def columns(self) -> list[str]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.high} {'>' if self.strict else '>='} {self.low}"


class FixedCombinations(_Strict):
    """Only combinations of these columns' values that occur in the real data may occur."""

    kind: Literal["fixed_combinations"] = "fixed_combinations"
    columns: list[str] = Field(min_length=2)

    def describe(self) -> str:
        return f"fixed combinations of {', '.join(self.columns)}"


TableConstraint = Annotated[Inequality | FixedCombinations, Field(discriminator="kind")]


class DatasetSchema(_Strict):
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    undeclared: Literal["error", "drop"] = Field(
        default="error", description="What to do with source columns the schema does not declare."
    )
    constraints: list[TableConstraint] = Field(
        default_factory=list,
        description="Rules across columns; checked on real and synthetic data.",
    )

    @model_validator(mode="after")
    def _constraints_name_modelled_columns(self) -> DatasetSchema:
        for i, constraint in enumerate(self.constraints):
            for name in constraint.columns:
                column = self.columns.get(name)
                if column is None:
                    raise ValueError(f"constraints[{i}]: column {name!r} is not declared")
                if column.roles & {Role.pii, Role.key} or column.type in (
                    ColumnType.id,
                    ColumnType.text,
                ):
                    raise ValueError(f"constraints[{i}]: column {name!r} is not modelled")
            if isinstance(constraint, Inequality):
                kinds = {self.columns[n].type for n in constraint.columns}
                if len(kinds) != 1 or not kinds <= {ColumnType.numerical, ColumnType.datetime}:
                    raise ValueError(
                        f"constraints[{i}]: an inequality compares two numerical or two datetime "
                        "columns"
                    )
            if len(set(constraint.columns)) != len(constraint.columns):
                raise ValueError(f"constraints[{i}]: a column is named twice")
        return self


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


class SplitSpec(_Strict):
    holdout: float = Field(default=0.2, gt=0.0, lt=1.0, description="Share kept out of training.")
    seed: int = 0
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
    engine: EngineName = "autoregressive"
    params: dict[str, Any] = Field(default_factory=dict)
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


class ExpectationChecks(_Strict):
    enabled: bool = True
    max_unexpected_share: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of rows one expectation may fail."
    )
    null_share_tolerance: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Allowed excess of nulls over the real share, on top of that share's "
        "sampling noise (a 1% one-sided bound).",
    )
    range_tolerance: float = Field(
        default=0.0,
        ge=0.0,
        description="Widen each observed numeric range by this share of its span (declared "
        "min/max are never widened).",
    )


class QualityChecks(_Strict):
    """SDMetrics' QualityReport and DiagnosticReport, plus how much pairwise dependence survives."""

    enabled: bool = True
    sample_rows: PositiveInt = Field(
        default=50_000, description="Synthetic rows (seeded sample) the quality checks read."
    )
    min_column_shapes: float = Field(default=0.80, ge=0.0, le=1.0)
    min_pair_trends: float = Field(default=0.70, ge=0.0, le=1.0)
    min_diagnostic: float = Field(default=0.95, ge=0.0, le=1.0)
    min_pair_dependence: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Mean share of each real pairwise association (Cramer's V >= 0.1) kept in "
        "the synthetic data; an engine that models columns independently scores near 0.",
    )
    significance: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="With a holdout, a score below its minimum fails only when it is also below "
        "what unseen real rows score by more than sampling noise explains at this one-sided level.",
    )


class UtilityChecks(_Strict):
    """Train on synthetic, test on real (the holdout) against train on real, test on real."""

    enabled: bool = True
    min_ratio: float = Field(
        default=0.80, ge=0.0, description="TSTR score / TRTR score (ROC AUC or R2) at least."
    )
    significance: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="The ratio fails only when its upper confidence bound (paired bootstrap over "
        "the holdout rows, one-sided at this level) is below `min_ratio` too.",
    )


class DetectionChecks(_Strict):
    """A classifier told to tell real rows from synthetic ones; 0.5 ROC AUC is ideal."""

    enabled: bool = True
    max_auc: float = Field(default=0.75, ge=0.5, le=1.0)
    rows: PositiveInt = Field(default=10_000, description="Rows taken from each side.")
    folds: int = Field(default=5, ge=2, le=20)
    significance: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="The AUC fails only when above `max_auc` by more than sampling noise explains "
        "(Hanley-McNeil standard error at the rows per side) at this one-sided level.",
    )


class AnonymeterChecks(_Strict):
    """anonymeter's singling-out, linkability and inference attacks, run in their own interpreter
    (anonymeter pins numpy < 1.27 and pyarrow < 22, which the core does not). That interpreter
    comes from the environment only ($SYNTH_ANONYMETER_PYTHON, else `make anonymeter`'s venv):
    whoever writes a spec must not choose a program to run."""

    enabled: bool = True
    n_attacks: PositiveInt = Field(default=1000, description="Attacks per evaluator.")
    max_attempts: PositiveInt = Field(
        default=50_000,
        description="Singling out: attempts to find n_attacks unique queries (keep it >= 50x "
        "n_attacks, or multivariate queries run short and the risk is understated).",
    )
    multivariate_columns: int = Field(
        default=4,
        ge=2,
        le=20,
        description="Columns combined in each multivariate singling-out query.",
    )
    max_singling_out_risk: float = Field(default=0.10, ge=0.0, le=1.0)
    max_linkability_risk: float = Field(default=0.10, ge=0.0, le=1.0)
    max_inference_risk: float = Field(default=0.10, ge=0.0, le=1.0)
    timeout_s: PositiveInt = Field(default=900, description="The worker is killed after this long.")


class PiiScan(_Strict):
    """Scan modelled text-like columns for direct identifiers nobody declared."""

    enabled: bool = True
    action: Literal["warn", "fail"] = Field(
        default="fail", description="What identifiers found in the synthetic output do to the gate."
    )


class PrivacyChecks(_Strict):
    """Distances to training rows judged against the holdout, a membership attack, rare
    quasi-identifier combinations, undeclared identifiers, and anonymeter."""

    enabled: bool = True
    rows: PositiveInt = Field(
        default=10_000,
        description="Rows drawn from each of training, holdout and synthetic data for the distance "
        "checks (at most the holdout's size, so training and holdout samples are equal).",
    )
    significance: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="A measure fails only when it is above its limit by more than sampling noise "
        "explains at this one-sided level (small tables are noisy; a gate must not cry wolf).",
    )
    max_exact_copy_excess: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Share of synthetic rows identical to a training row, minus the same share "
        "against an equal-sized holdout sample, at most.",
    )
    max_dcr_share: float = Field(
        default=0.55,
        ge=0.5,
        le=1.0,
        description="Share of synthetic rows closer to training than to holdout rows; 0.5 is ideal.",
    )
    nndr_quantile: float = Field(default=0.05, gt=0.0, lt=0.5)
    max_nndr_excess: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Share of synthetic rows whose nearest/second-nearest training distance ratio is "
        "in the holdout's nndr_quantile low tail, minus the holdout's own share.",
    )
    max_attack_auc: float = Field(
        default=0.60, ge=0.5, le=1.0, description="Distance-based membership inference, ROC AUC."
    )
    max_attack_tpr: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Membership attack: true positive rate at 1% FPR."
    )
    rare_count: PositiveInt = Field(
        default=5,
        description="A quasi-identifier combination seen fewer times in training is rare.",
    )
    max_rare_ratio: float = Field(
        default=1.5,
        ge=1.0,
        description="Synthetic rows landing on rare training combinations, over the holdout's rate.",
    )
    pii: PiiScan = PiiScan()
    anonymeter: AnonymeterChecks = AnonymeterChecks()


class BiasChecks(_Strict):
    """What happened to each group of the sensitive columns, and to fairness downstream."""

    enabled: bool = True
    min_count: PositiveInt = Field(
        default=30, description="Groups with fewer real training rows than this are not judged."
    )
    intersections: int = Field(
        default=2, ge=1, le=4, description="Sensitive columns crossed at most (2: sex x race)."
    )
    max_share_diff: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="|synthetic - expected| share of rows per group (expected: the real share, or "
        "what the sample plan asks for).",
    )
    min_share_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Synthetic share / expected share per group at least: catches groups the "
        "engine shrinks or drops (mode collapse).",
    )
    max_outcome_diff: float = Field(
        default=0.10,
        ge=0.0,
        le=1.0,
        description="|synthetic - expected| positive-outcome rate of the target per group.",
    )
    max_fairness_increase: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="A model trained on synthetic rows may be this much less fair (demographic "
        "parity difference, equalized odds difference on the holdout) than one trained on real "
        "rows; it fails only when the lower confidence bound (at `significance`, paired bootstrap "
        "over the holdout rows) of the difference exceeds this.",
    )
    significance: float = Field(
        default=0.01,
        gt=0.0,
        lt=0.5,
        description="A group fails only when it is off by more than sampling noise explains.",
    )


class ChecksSpec(_Strict):
    expectations: ExpectationChecks = ExpectationChecks()
    quality: QualityChecks = QualityChecks()
    utility: UtilityChecks = UtilityChecks()
    detection: DetectionChecks = DetectionChecks()
    privacy: PrivacyChecks = PrivacyChecks()
    bias: BiasChecks = BiasChecks()


class ReportSpec(_Strict):
    min_count: PositiveInt = Field(
        default=10,
        description="A category seen fewer times than this in the real data is never named in "
        "the report (it is folded into 'other').",
    )


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


class OutputSpec(_Strict):
    path: Path = Path("out")
    rows_per_file: PositiveInt = Field(
        default=1_000_000,
        description="Rows per Parquet part; also the unit of work one Dask task samples.",
    )
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    partition_by: list[str] = Field(
        default_factory=list,
        description="Categorical or boolean columns to write Hive-style folders by "
        f"(data/sex=Female/part-00000.parquet); at most {MAX_PARTITION_FOLDERS} folders.",
    )
    keep_quarantined_rows: bool = Field(
        default=False,
        description="Keep the rows of a run that failed a gate (quarantine/<run>/data, 0700). "
        "Off: a quarantined run keeps only its report and metrics, since rows that failed the "
        "privacy gate may sit too close to real ones.",
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


class ScheduleSpec(_Strict):
    """When `synth serve` runs the job: a cron line or a fixed interval (one of them)."""

    cron: str | None = Field(default=None, description="Cron line, e.g. '0 3 * * *'.")
    interval_seconds: PositiveInt | None = Field(default=None, description="Run every N seconds.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron line is read in.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron and interval_seconds")
        if self.cron is not None:
            from prefect.schedules import validate_cron_string

            try:
                validate_cron_string(self.cron)
            except ValueError:
                raise ValueError(f"cron: {self.cron!r} is not a cron line") from None
        return self


class JobSpec(_Strict):
    """A synthesis job: where the data is, what it means, how to model, sample, check and publish."""

    config_version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    source: SourceSpec
    dataset: DatasetSchema = Field(alias="schema")
    split: SplitSpec = SplitSpec()
    model: ModelSpec = ModelSpec()
    sample: SampleSpec = SampleSpec()
    checks: ChecksSpec = ChecksSpec()
    report: ReportSpec = ReportSpec()
    output: OutputSpec = OutputSpec()
    schedule: ScheduleSpec | None = Field(
        default=None, description="For `synth serve` / `synth deploy`; a run by hand ignores it."
    )
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

    def fingerprint(self) -> str:
        """A stable hash of the spec's meaning (not its formatting, nor where output goes: the
        same job written elsewhere is the same job, so `synth regenerate --out` finds it)."""
        meaning = self.model_dump(mode="json", by_alias=True)
        meaning["output"].pop("path", None)
        meaning["output"].pop("keep_quarantined_rows", None)  # what is kept of a failed run
        for how in ("schedule", "scale"):  # when and where it runs: the output is the same
            meaning.pop(how, None)
        canonical = json.dumps(meaning, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()
