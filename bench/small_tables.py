"""Our autoregressive engine on small real tables, beside GaussianCopula, without Prefect.

For each table the job is built the way the flow builds it (spec -> `read_source` ->
`build_contract` -> `split_holdout` -> value protection), the engine is fitted directly and samples
as many rows as it trained on, and the pipeline's own checks score the rows: SDMetrics quality
(column shapes, pair trends), utility (TSTR/TRTR ratio on the holdout), detection AUC and the DCR
share (privacy check, anonymeter off). Zoo tables get their spec from `synth init` (as bench/zoo.py
does); `adult` is `examples/adult.yaml`, `adult2k` a 2,000-row sample of its source. The engine
`holdout` scores the real holdout rows the same way: what real rows never trained on reach.

    python bench/small_tables.py                                  # the default tables, both engines
    python bench/small_tables.py --tables wine,pbc --engines autoregressive --params '{"bins": 32}'
    python bench/small_tables.py --json results.jsonl             # also append one line per run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TABLES = "wine,diabetes,salaries,caschool,midwest,pbc,star98,seattle-weather,males,adult2k"
ENGINES = "autoregressive,gaussian_copula"


def job(name: str, work: Path) -> tuple[Any, Any, Any, Any]:
    """The spec, contract and protected training rows and holdout of one table, as the flow has
    them just before the fit."""
    from schemas import load_spec
    from synth.io import build_contract, read_source, split_holdout

    if name.startswith("adult"):
        spec = load_spec(REPO / "examples" / "adult.yaml")
        frame = read_source(spec.source)
        if name != "adult":  # adult2k: a 2,000-row sample
            frame = frame.sample(int(name[5:-1]) * 1000, random_state=0).reset_index(drop=True)
    else:
        spec = load_spec(_zoo_spec(name, work))
        frame = read_source(spec.source)
    contract, typed = build_contract(frame, spec.dataset, label=name)
    train, holdout = split_holdout(
        typed, share=spec.split.holdout, seed=spec.split.seed, by=spec.split.by
    )
    return spec, contract, train, holdout


def _zoo_spec(name: str, work: Path) -> Path:
    from bench.zoo import init_spec, write_table
    from bench.zoo_tables import by_name

    spec = work / "specs" / f"{name}.yaml"
    if not spec.exists():
        table = by_name([name])[0]
        data = write_table(table, work / "data")
        done = init_spec(table, data, work / "specs", env=dict(os.environ), timeout=300)
        if done["exit_code"] != 0:
            raise RuntimeError(f"synth init {name}: {done['error']}")
    return spec


def run(name: str, engine_name: str, params: dict[str, Any], work: Path, seed: int) -> dict:
    from synth.sampling import conform
    from synth.tabular import make_engine
    from synth.tabular.autoregressive import codecs
    from synth.tabular.protection import protect_values
    from validation import detection, privacy, quality, utility

    spec, contract, train, holdout = job(name, work)
    protected = protect_values(train, contract, seed=spec.sample.seed).train
    modelled = [c.name for c in contract.modelled]
    started = time.perf_counter()
    if engine_name == "holdout":  # the ceiling: real rows never trained on, scored the same way
        engine, frame = None, holdout.reset_index(drop=True)
    else:
        engine = make_engine(engine_name, params if engine_name == "autoregressive" else {})
        engine.fit(protected[modelled], contract, seed=seed)
        frame = engine.sample(len(train), seed=seed + 1)
    fit_s = time.perf_counter() - started
    for column in contract.columns:
        if column.name not in frame:
            frame[column.name] = None  # identifiers: not modelled, not scored
    synthetic = conform(frame, contract)
    checks = spec.checks
    private = checks.privacy.model_copy(
        update={"anonymeter": checks.privacy.anonymeter.model_copy(update={"enabled": False})}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = quality.check(train, synthetic, None, contract=contract, thresholds=checks.quality)
        u = utility.check(
            train, synthetic, holdout, contract=contract, thresholds=checks.utility, seed=7
        )
        d = detection.check(
            train, synthetic, None, contract=contract, thresholds=checks.detection, seed=7
        )
        p = privacy.check(train, synthetic, holdout, contract=contract, thresholds=private, seed=7)
    info = engine.info() if engine is not None else {}
    return {
        "table": name,
        "engine": engine_name,
        "params": params,
        "codec": {k: getattr(codecs, k) for k in ("ROWS_PER_TOKEN", "MIN_BINS")},
        "seed": seed,
        "rows": len(train),
        "columns": len(modelled),
        "epochs": info.get("epochs"),
        "fit_s": round(fit_s, 1),
        "quality": q.metrics["score"],
        "shapes": q.metrics["column_shapes"],
        "pairs": q.metrics["pair_trends"],
        "utility": u.metrics.get("ratio"),
        "detection": d.metrics.get("roc_auc"),
        "dcr_share": p.metrics.get("dcr_share"),
    }


def _mean(values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float)]
    return round(sum(numbers) / len(numbers), 4) if numbers else None


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=TABLES)
    parser.add_argument("--engines", default=ENGINES)
    parser.add_argument("--params", default="{}", help="JSON: autoregressive engine params")
    parser.add_argument("--seeds", default="0", help="fit seeds (each samples with seed + 1)")
    parser.add_argument("--work", default=str(REPO / "out" / "zoo"), help="zoo data and specs")
    parser.add_argument("--json", help="append one JSON line per run to this file")
    parser.add_argument("--codec", default="{}", help="JSON: codec constants to try, for a sweep")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    from synth.tabular.autoregressive import codecs

    for name, value in json.loads(args.codec).items():  # e.g. {"ROWS_PER_TOKEN": 20}
        assert hasattr(codecs, name), name
        setattr(codecs, name, value)
    keys = ("epochs", "fit_s", "quality", "shapes", "pairs", "utility", "detection", "dcr_share")
    print("| table | rows x cols | engine | " + " | ".join(keys) + " |", flush=True)
    print("|---" * (len(keys) + 3) + "|", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.tables.split(","):
        for engine in args.engines.split(","):
            rows = []
            for seed in seeds[:1] if engine == "holdout" else seeds:
                rows.append(run(name, engine, params, Path(args.work), seed))
                if args.json:
                    with open(args.json, "a") as out:
                        out.write(json.dumps(rows[-1]) + "\n")
            # the mean over the fit seeds: on a few hundred rows one fit is a noisy measurement
            mean = {k: _mean([r[k] for r in rows]) for k in keys}
            cells = " | ".join(_f(mean[k]) for k in keys)
            shape = f"{rows[0]['rows']} x {rows[0]['columns']}"
            print(f"| {name} | {shape} | {engine} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
