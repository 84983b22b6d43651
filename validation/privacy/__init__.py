"""Privacy: does the synthetic data reveal the rows it was trained on?

Every measure is judged against an honest baseline: real rows of the same population that the engine
never saw (the holdout). A generator that produced fresh draws from the population would look, to each
measure, exactly like the holdout does; one that copies or memorises looks closer to training.

- exact copies: synthetic rows identical to a training row, against the same share for an equal-sized
  holdout sample;
- DCR share: the share of synthetic rows closer to a training row than to any holdout row (equal-sized
  samples, ties count half); 0.5 is ideal;
- NNDR low tail: nearest / second-nearest training distance ratio; the share of synthetic rows below the
  holdout's low quantile, against the holdout's own share;
- membership inference: an attacker who sees the synthetic data scores each candidate row by its
  distance to the nearest synthetic row; ROC AUC (bootstrap CI) and TPR at 1% FPR on training members
  against holdout non-members;
- rare quasi-identifier combinations: synthetic rows landing on a combination seen fewer than
  `rare_count` times in training, against the holdout's rate;
- undeclared identifiers in modelled text columns, and fakes that equal a real identifier.

anonymeter's attacks run separately (validation.anonymeter_run): they need another interpreter.
Everything returned is an aggregate: shares, scores, counts and timings.

The package: `samples` (what is measured), `measures` (each measure on hand-made data), `distances`
and `disclosure` (the measures judged), `verdicts` (noise-aware verdicts), `judge` (`check`), `guard`
(the sampler's `DistanceGuard`).
"""

from __future__ import annotations

from validation.distance import distance_histogram
from validation.privacy.guard import DistanceGuard
from validation.privacy.judge import NAME, check
from validation.privacy.measures import (
    attack,
    dcr_share,
    dcr_share_adjusted,
    exact_share,
    nndr,
    qi_edges,
    qi_keys,
    rare_share,
)
from validation.privacy.samples import Samples

__all__ = [
    "NAME",
    "DistanceGuard",
    "Samples",
    "attack",
    "check",
    "dcr_share",
    "dcr_share_adjusted",
    "distance_histogram",
    "exact_share",
    "nndr",
    "qi_edges",
    "qi_keys",
    "rare_share",
]
