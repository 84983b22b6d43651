"""Disclosure beyond distances: rare quasi-identifier combinations, anonymeter's attacks, and
identifiers (undeclared ones in modelled text columns, fakes equal to a real value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from schemas.contract import Contract
from schemas.spec import ColumnType, PrivacyChecks, Role
from validation import noise, pii_scan
from validation.anonymeter_run import AnonymeterUnavailable
from validation.privacy.measures import qi_edges, qi_keys, rare_share
from validation.privacy.samples import Samples
from validation.privacy.verdicts import Verdicts

__all__ = ["anonymeter_attacks", "identifiers", "rare_combinations"]


def rare_combinations(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    contract: Contract,
    thresholds: PrivacyChecks,
    verdicts: Verdicts,
) -> dict[str, Any]:
    qis = contract.with_role(Role.quasi_identifier)
    if not qis:
        return {"skipped": "no modelled quasi-identifier declared"}
    edges = qi_edges(train, contract, qis)
    train_keys = qi_keys(train, contract, qis, edges)
    k = thresholds.rare_count
    rate_s, distinct = rare_share(train_keys, qi_keys(synthetic, contract, qis, edges), k)
    rate_h, _ = rare_share(train_keys, qi_keys(holdout, contract, qis, edges), k)
    ratio = rate_s / rate_h if rate_h > 0 else (1.0 if rate_s == 0 else float("inf"))
    verdicts.judge(
        f"rare quasi-identifier combinations (< {k} in training) reproduced: synthetic rate / "
        "holdout rate",
        ratio,
        1.0,
        thresholds.max_rare_ratio,
        noise.se_ratio(rate_s, len(synthetic), rate_h, len(holdout)),
        f"{rate_s:.1%} of synthetic rows reproduce a quasi-identifier combination that is rare in "
        f"training, against {rate_h:.1%} of holdout rows (ratio {ratio:.2f} > "
        f"{thresholds.max_rare_ratio})",
    )
    return {"synthetic": round(rate_s, 4), "holdout": round(rate_h, 4), "combinations": distinct}


def anonymeter_attacks(
    run: Callable[[Samples], dict[str, Any]],
    samples: Samples,
    thresholds: PrivacyChecks,
    verdicts: Verdicts,
) -> dict[str, Any] | None:
    try:
        result = run(samples)
    except (AnonymeterUnavailable, RuntimeError) as error:
        verdicts.reasons.append(f"anonymeter: {error}")
        return None
    for error in result.get("errors", []):
        verdicts.reasons.append(f"anonymeter: an evaluator failed ({error})")
    for measure, risk, limit in _anonymeter_risks(result, thresholds):
        low, high = risk["ci"]
        verdicts.judge(
            f"anonymeter {measure} risk",
            risk["risk"],
            0.0,
            limit,
            noise.se_interval(low, high),
            f"anonymeter {measure} risk {risk['risk']:.3f} (95% CI {low:.3f}-{high:.3f}) is above "
            f"{limit}",
        )
    return result


def _anonymeter_risks(result: dict[str, Any], thresholds: PrivacyChecks):
    """(measure, {"risk", "ci"}, limit) for every evaluator that ran."""
    limits = thresholds.anonymeter
    evaluators = result.get("evaluators", {})
    found = [
        (
            f"singling out ({mode})",
            evaluators.get(f"singling_out_{mode}"),
            limits.max_singling_out_risk,
        )
        for mode in ("univariate", "multivariate")
    ]
    found.append(("linkability", evaluators.get("linkability"), limits.max_linkability_risk))
    found += [
        (f"inference of {column!r}", found_, limits.max_inference_risk)
        for column, found_ in evaluators.get("inference", {}).items()
    ]
    for measure, evaluator, limit in found:
        if evaluator and evaluator.get("status") == "ok":
            risk = evaluator["risk"]
            yield measure, {"risk": risk["value"], "ci": risk["ci"]}, limit


def identifiers(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    contract: Contract,
    real_identifiers: pd.DataFrame | None,
    thresholds: PrivacyChecks,
    verdicts: Verdicts,
) -> list[dict[str, Any]]:
    """PII-looking values in modelled string columns (counts; `pii.enabled`), and fakes equal to
    a real value (always)."""
    texty = [
        c.name
        for c in contract.modelled
        if thresholds.pii.enabled
        and c.type in (ColumnType.categorical, ColumnType.text)
        and Role.pii not in c.roles
    ]
    found = [{"data": "synthetic", **r} for r in pii_scan.scan(synthetic, texty)]
    if thresholds.pii.action == "fail":
        verdicts.reasons += [
            f"column {r['column']!r}: {r['matches']} synthetic values look like {r['kind']} "
            "(declare the column role: pii, or set checks.privacy.pii.action: warn)"
            for r in found
        ]
    found += [{"data": "real", **r} for r in pii_scan.scan(train, texty)]
    if real_identifiers is not None:
        for c in contract.columns:
            if c.is_faked and c.name in real_identifiers and c.name in synthetic:
                real = set(real_identifiers[c.name].dropna().astype(str))
                hits = int(synthetic[c.name].dropna().astype(str).isin(real).sum())
                if hits:
                    verdicts.reasons.append(
                        f"column {c.name!r}: {hits} replaced identifiers equal a real value"
                    )
    return found
