"""The table gate's settings: each check's thresholds, and what the report may name."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from schemas.base import _Strict

__all__ = [
    "AnonymeterChecks",
    "BiasChecks",
    "ChecksSpec",
    "DetectionChecks",
    "ExpectationChecks",
    "PiiScan",
    "PrivacyChecks",
    "QualityChecks",
    "ReportSpec",
    "UtilityChecks",
]


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


class TextChecks(_Strict):
    """Modelled free text against the holdout's texts (validation/text.py): memorisation and
    identifiers beyond the holdout's own rate, a detector, coherence with the row."""

    enabled: bool = True
    span: int = Field(
        default=8,
        ge=3,
        le=64,
        description="Tokens in a span a synthetic text may not share with a rare training text "
        "more often than holdout texts do.",
    )
    max_detector_auc: float = Field(default=0.9, ge=0.5, le=1.0)
    min_coherence_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Synthetic rows' text -> category accuracy, at least this share of the "
        "holdout's (a classifier trained on real texts).",
    )
    texts: PositiveInt = Field(default=2_000, description="Texts compared from each side.")
    significance: float = Field(default=0.01, gt=0.0, lt=0.5)


class ChecksSpec(_Strict):
    expectations: ExpectationChecks = ExpectationChecks()
    quality: QualityChecks = QualityChecks()
    utility: UtilityChecks = UtilityChecks()
    detection: DetectionChecks = DetectionChecks()
    privacy: PrivacyChecks = PrivacyChecks()
    bias: BiasChecks = BiasChecks()
    text: TextChecks = TextChecks()


class ReportSpec(_Strict):
    min_count: PositiveInt = Field(
        default=10,
        description="A category seen fewer times than this in the real data is never named in "
        "the report (it is folded into 'other').",
    )
