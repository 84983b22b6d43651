"""anonymeter's attacks, for validation/anonymeter_worker.py: each evaluator run and summarised as
aggregates (rates, risks, counts, timings), and the patches that make anonymeter 1.1.0 repeatable.

Like the worker, it runs under anonymeter's own interpreter and imports nothing of synth,
validation or schemas (stdlib, numpy, polars, anonymeter); the worker loads it by path. An
evaluator that fails is reported by its exception's type name only: anonymeter's messages can quote
rows.
"""

from __future__ import annotations

import time

__all__ = [
    "cache_compiled_distance",
    "inference",
    "linkability",
    "ordered_polars",
    "seed_linkability_baseline",
    "singling_out",
    "skipped",
]


def skipped(reason: str) -> dict:
    return {"status": "skipped", "reason": reason}


def _rate(rate) -> dict | None:
    if rate is None:
        return None
    return {"value": float(rate.value), "error": float(rate.error)}


def _summary(evaluator, confidence: float, extra: dict, started: float) -> dict:
    """Risk, rates and flags from an evaluated anonymeter evaluator (aggregates only)."""

    results = evaluator.results(confidence_level=confidence)
    risk = evaluator.risk(confidence_level=confidence)
    flags = list(extra.pop("flags", []))
    # anonymeter warns here (its results "cannot be trusted"); keep it as a flag.
    if results.baseline_rate.value >= results.attack_rate.value:
        flags.append("baseline_not_beaten")
    if results.control_rate is not None and results.control_rate.value >= 1.0:
        flags.append("control_success_100")
    return {
        "status": "ok",
        "risk": {"value": float(risk.value), "ci": [float(risk.ci[0]), float(risk.ci[1])]},
        "attack_rate": _rate(results.attack_rate),
        "baseline_rate": _rate(results.baseline_rate),
        "control_rate": _rate(results.control_rate),
        "n_success": int(results.n_success),
        "n_baseline": int(results.n_baseline),
        "n_control": None if results.n_control is None else float(results.n_control),
        **extra,
        "flags": flags,
        "wall_s": round(time.perf_counter() - started, 3),
    }


def _failed(error: BaseException, started: float) -> dict:

    return {
        "status": "error",
        "error": type(error).__name__,
        "wall_s": round(time.perf_counter() - started, 3),
    }


def singling_out(
    train, control, synthetic, mode, n_attacks, n_cols, max_attempts, seed, confidence
):

    from anonymeter.evaluators import SinglingOutEvaluator
    from anonymeter.evaluators import singling_out_evaluator as so

    started = time.perf_counter()
    made: list[int] = []
    generate = so._generate_singling_out_queries

    def counted(*args, **kwargs):
        queries = generate(*args, **kwargs)
        made.append(len(queries))
        return queries

    so._generate_singling_out_queries = counted  # count the attacks it could make; no queries kept
    try:
        evaluator = SinglingOutEvaluator(
            ori=train,
            syn=synthetic,
            control=control,
            n_attacks=n_attacks,
            n_cols=n_cols,
            max_attempts=int(max_attempts),
            seed=seed,
        )
        evaluator.evaluate(mode=mode)
        n_made = made[-1] if made else None
        flags = []
        if n_made is not None and n_made < n_attacks:
            flags.append("fewer_attacks_than_requested")
        extra = {
            "mode": mode,
            "n_attacks_requested": n_attacks,
            "n_attacks": n_made,
            "max_attempts": int(max_attempts),
            "flags": flags,
        }
        if mode == "multivariate":
            extra["n_cols"] = n_cols
        return _summary(evaluator, confidence, extra, started)
    except Exception as error:
        return _failed(error, started)
    finally:
        so._generate_singling_out_queries = generate


def cache_compiled_distance() -> None:
    """anonymeter's numba distance compiles for ~10 s in every process; numba's on-disk cache
    (machine code only, next to anonymeter's source) makes later runs start in well under 1 s."""
    try:
        import anonymeter.evaluators  # noqa: F401  (first: its modules import each other)
        from anonymeter.neighbors import mixed_types_kneighbors as knn

        for function in (knn.gower_distance, knn._nearest_neighbors):
            function.enable_caching()
    except Exception:  # read-only install, other numba: compile as before
        return


def ordered_polars(pl) -> None:
    """polars' group_by and Series.unique return groups in hash order, which varies between
    runs; anonymeter shuffles and draws from those lists, so a seed alone does not fix its
    queries. First-seen order does (this process only)."""
    group_by, unique = pl.DataFrame.group_by, pl.Series.unique

    def ordered_group_by(self, *by, maintain_order: bool = True, **named_by):
        return group_by(self, *by, maintain_order=maintain_order, **named_by)

    def ordered_unique(self, *, maintain_order: bool = True):
        return unique(self, maintain_order=maintain_order)

    pl.DataFrame.group_by = ordered_group_by
    pl.Series.unique = ordered_unique


def seed_linkability_baseline(np, seed: int) -> None:
    """anonymeter 1.1.0 draws the linkability baseline from an unseeded default_rng()."""
    from anonymeter.evaluators import linkability_evaluator as le

    if not hasattr(le, "_random_links"):
        return
    rng = np.random.default_rng(seed)

    def random_links(n_synthetic: int, n_attacks: int, n_neighbors: int):
        return np.array(
            [rng.choice(n_synthetic, size=n_neighbors, replace=False) for _ in range(n_attacks)]
        )

    le._random_links = random_links


def linkability(train, control, synthetic, aux_cols, n_attacks, n_jobs, confidence):

    from anonymeter.evaluators import LinkabilityEvaluator

    started = time.perf_counter()
    n = min(n_attacks, len(train), len(control))
    n_neighbors = min(10, len(synthetic))
    try:
        evaluator = LinkabilityEvaluator(
            ori=train,
            syn=synthetic,
            control=control,
            aux_cols=(list(aux_cols[0]), list(aux_cols[1])),
            n_attacks=n,
            n_neighbors=n_neighbors,
        )
        evaluator.evaluate(n_jobs=n_jobs)
        extra = {
            "aux_cols": [list(aux_cols[0]), list(aux_cols[1])],
            "n_neighbors": n_neighbors,
            "n_attacks_requested": n_attacks,
            "n_attacks": n,
            "flags": ["fewer_attacks_than_requested"] if n < n_attacks else [],
        }
        return _summary(evaluator, confidence, extra, started)
    except Exception as error:
        return _failed(error, started)


def inference(train, control, synthetic, aux, secret, kind, n_attacks, n_jobs, confidence):

    from anonymeter.evaluators import InferenceEvaluator

    started = time.perf_counter()
    # anonymeter's own default is regression=False (exact match) even for numbers; a number is
    # guessed right within 5 % instead.
    regression = kind in ("numeric", "datetime", "timedelta")
    n = min(n_attacks, len(train), len(control), len(synthetic))
    try:
        evaluator = InferenceEvaluator(
            ori=train,
            syn=synthetic,
            control=control,
            aux_cols=aux,
            secret=secret,
            regression=regression,
            n_attacks=n,
        )
        evaluator.evaluate(n_jobs=n_jobs)
        extra = {
            "secret": secret,
            "aux_cols": aux,
            "regression": regression,
            "n_attacks_requested": n_attacks,
            "n_attacks": n,
            "flags": ["fewer_attacks_than_requested"] if n < n_attacks else [],
        }
        return _summary(evaluator, confidence, extra, started)
    except Exception as error:
        return _failed(error, started)
