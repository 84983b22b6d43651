"""Linked tables and event sequences: ours against SDV's HMA and PAR and MOSTLY AI's TabularARGN,
side by side in one run on the same data and the same split by subject.

    python bench/linked.py                                    # all datasets and methods; ~3-5 min on 2 cores
    python bench/linked.py --datasets pigs --methods ours,hma --json out/linked.json

Datasets: the linked examples (`examples/linked_<name>.yaml`, data built by bench/linked_data.py):
`wages` (a panel in one table, 595 people x 7 years), `schools` (pupils nested in classes,
unordered) and `pigs` (weekly weighings of pigs: growth curves). Each is read, typed and split
by subject exactly as a linked job does it (synth.linked.data: 20% of the subjects held out,
seed 0). Every method fits on the training subjects and samples as many subjects as there are;
the methods are listed in bench/linked_peers.py.

Scored against the training tables with the checks' own measures (validation/linked):
- `shapes`, `pairs`: SDMetrics QualityReport (column shapes, column pair trends) on each
  published table's modelled columns, averaged over tables;
- `length`: children per parent, total variation distance; `gap`: time between consecutive
  events, KS distance; `trans`: consecutive events' value pairs, 1 - TVD; `consist`: share of
  parents keeping constant what every real parent keeps constant; `child-parent`: pair trends of
  child rows joined to their parent;
- `fidelity`: the mean of shapes, pairs, 1 - length, 1 - gap, trans, consist and child-parent
  (those defined for the dataset), the number the "best fidelity" target compares;
- `DCR`: share of synthetic subjects whose whole history is closer to a training subject's than
  to a holdout subject's (0.5 honest);
- `fit s`, `subjects/s` (sampling), `orphans` (child rows naming no generated parent) and
  `broken` (primary keys missing or repeated).
The `holdout` row scores the real unseen subjects the same way: what fresh real data reaches.
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.linked_peers import HMA, PAR, Ours, Tables, TabularARGN  # noqa: E402
from schemas.dataset import ColumnType  # noqa: E402
from schemas.relations import Relations  # noqa: E402

DATASETS = ("wages", "schools", "pigs")
METHODS = ("ours", "hma", "par", "tabularargn")
_TRUE = {"true", "t", "yes", "1", "1.0"}
_FALSE = {"false", "f", "no", "0", "0.0"}
COLUMNS = (
    "method", "fit s", "subjects/s", "shapes", "pairs", "length", "gap", "trans", "consist",
    "child-parent", "fidelity", "DCR", "orphans", "broken",
)  # fmt: skip


def load(name: str) -> tuple[Relations, Tables, Tables]:
    from schemas.load import load_spec
    from synth.linked.data import link, read_linked, split_subjects

    spec = load_spec(REPO / "examples" / f"linked_{name}.yaml")
    data = link(read_linked(spec), spec)
    train, holdout = split_subjects(data, share=spec.split.holdout, seed=spec.split.seed)
    return data.relations, train, holdout


def conform(synthetic: Tables, relations: Relations) -> dict[str, pd.DataFrame]:
    """A method's tables with the real tables' columns and types (keys kept as generated)."""
    out = {}
    for table in relations.tables:
        frame = synthetic.get(table.name)
        if frame is None:
            frame = pd.DataFrame(columns=table.contract.names)
        frame = frame.reset_index(drop=True)
        columns = {}
        for column in table.contract.columns:
            values = frame[column.name] if column.name in frame else pd.Series(np.nan, frame.index)
            if column.name in (table.primary_key, table.foreign_key):
                columns[column.name] = values
            elif column.type is ColumnType.numerical:
                columns[column.name] = pd.to_numeric(values, errors="coerce").astype("float64")
            elif column.type is ColumnType.boolean:
                text = values.astype("string").str.strip().str.lower()
                flag = pd.Series(pd.NA, index=values.index, dtype="boolean")
                flag[text.isin(_TRUE).fillna(False).astype(bool)] = True
                flag[text.isin(_FALSE).fillna(False).astype(bool)] = False
                columns[column.name] = flag
            elif column.type is ColumnType.datetime:
                columns[column.name] = pd.to_datetime(values, errors="coerce")
            else:
                columns[column.name] = values.astype("string")
        out[table.name] = pd.DataFrame(columns, index=frame.index)
    return out


def integrity(tables: Tables, relations: Relations) -> tuple[int, int]:
    """(child rows whose foreign key names no parent row, primary keys missing or repeated)."""
    from validation.linked.tree import key_values

    orphans = broken = 0
    for table in relations.tables:
        frame = tables[table.name]
        if table.primary_key is not None and table.primary_key in frame:
            keys = frame[table.primary_key]
            broken += int(keys.isna().sum() + keys.dropna().duplicated().sum())
        if table.parent is not None:
            parent = relations[table.parent]
            known = key_values(tables[parent.name][parent.primary_key])
            mine = frame[table.foreign_key]
            orphans += int((~np.isin(key_values(mine), known) | mine.isna().to_numpy()).sum())
    return orphans, broken


def table_quality(real: Tables, other: Tables, relations: Relations) -> tuple[float, float | None]:
    """SDMetrics column shapes and pair trends per published table, averaged over tables."""
    from sdmetrics.reports.single_table import QualityReport

    from validation.frames import metadata, modelled

    shapes, pairs = [], []
    for table in relations.published:
        if not table.contract.modelled:
            continue
        meta = metadata(table.contract)["tables"]["table"]
        report = QualityReport()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(
                modelled(real[table.name], table.contract),
                modelled(other[table.name], table.contract),
                meta,
                verbose=False,
            )
        scores = report.get_properties().set_index("Property")["Score"]
        shapes.append(float(scores["Column Shapes"]))
        if len(table.contract.modelled) > 1 and not np.isnan(scores["Column Pair Trends"]):
            pairs.append(float(scores["Column Pair Trends"]))
    return float(np.mean(shapes)), (float(np.mean(pairs)) if pairs else None)


def fidelity(
    real: Tables, other: Tables, holdout: Tables, relations: Relations, *, seed: int
) -> dict[str, Any]:
    from validation.linked import (
        consistency,
        gap_distance,
        length_distance,
        pair_similarity,
        transition_similarity,
    )
    from validation.linked.privacy import subject_dcr_share

    shapes, pairs = table_quality(real, other, relations)
    row: dict[str, Any] = {"shapes": shapes, "pairs": pairs}
    children = [t.name for t in relations.tables[1:]]
    for key, measure in (
        ("length", length_distance),
        ("gap", gap_distance),
        ("trans", transition_similarity),
        ("consist", consistency),
        ("child-parent", pair_similarity),
    ):
        values = [
            v for v in (measure(real, other, relations, n) for n in children) if v is not None
        ]
        row[key] = float(np.mean(values)) if values else None
    parts = [row["shapes"], row["pairs"], row["trans"], row["consist"], row["child-parent"]]
    parts += [1 - row[k] if row[k] is not None else None for k in ("length", "gap")]
    row["fidelity"] = float(np.mean([p for p in parts if p is not None]))
    row["DCR"] = subject_dcr_share(real, other, holdout, relations, seed=seed)
    return row


def make(method: str, args: argparse.Namespace) -> Any:
    if method == "ours":
        return Ours(json.loads(args.params))
    if method == "hma":
        return HMA()
    if method == "par":
        return PAR(args.par_epochs)
    if method == "tabularargn":
        return TabularARGN(args.argn_epochs, threads=1)
    raise SystemExit(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def run_method(
    method: str, relations: Relations, train: Tables, holdout: Tables, args: argparse.Namespace
) -> dict[str, Any]:
    model = make(method, args)
    subjects = len(train[relations.root.name])
    started = time.perf_counter()
    model.fit(train, relations, seed=args.seed)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    raw = model.sample(subjects, seed=args.seed + 1)
    sample_s = time.perf_counter() - started
    if method == "tabularargn":  # fit and sample ran in its worker: its own clocks, no start-up
        fit_s, sample_s = model.info["fit_seconds"], model.info["sample_seconds"]
    synthetic = conform(raw, relations)
    orphans, broken = integrity(synthetic, relations)
    row = {"method": method, "fit s": fit_s, "subjects/s": subjects / max(sample_s, 1e-9)}
    row |= fidelity(train, synthetic, holdout, relations, seed=args.seed)
    row |= {"orphans": orphans, "broken": broken, "info": model.info}
    return row


def holdout_row(relations: Relations, train: Tables, holdout: Tables) -> dict[str, Any]:
    row: dict[str, Any] = {"method": "holdout (real)", "fit s": None, "subjects/s": None}
    row |= fidelity(train, holdout, holdout, relations, seed=0)
    row["DCR"] = None  # the holdout against itself says nothing
    orphans, broken = integrity(holdout, relations)
    return row | {"orphans": orphans, "broken": broken}


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if column in ("orphans", "broken"):
        return f"{int(value):,}"
    if column == "fit s":
        return f"{value:,.1f}"
    if column == "subjects/s":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def print_table(dataset: str, shape: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n### {dataset} ({shape})\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + " --- |" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(_cell(row.get(c), c) for c in COLUMNS) + " |")
    ours = next((r for r in rows if r["method"] == "ours"), None)
    if ours is None:
        return
    for peer in (r for r in rows if r["method"] not in ("ours", "holdout (real)")):
        ratios = [f"fidelity {ours['fidelity'] - peer['fidelity']:+.3f}"]
        if peer["fit s"]:
            ratios.append(f"fit x{ours['fit s'] / peer['fit s']:.2f}")
        if peer["subjects/s"]:
            ratios.append(f"sampling x{ours['subjects/s'] / peer['subjects/s']:.1f}")
        print(f"- ours vs {peer['method']}: " + ", ".join(ratios))


def _shape(relations: Relations, train: Tables, holdout: Tables) -> str:
    parts = [
        f"{t.name} {len(train[t.name]):,}+{len(holdout[t.name]):,}"
        + (f" by {t.order_by}" if t.order_by else "")
        for t in relations.published
    ]
    return "train+holdout rows: " + ", ".join(parts)


def verdicts(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per target of issue 20."""
    best, fast, intact = [], [], []
    for dataset, rows in results.items():
        by = {r["method"]: r for r in rows}
        if "ours" not in by:
            continue
        ours = by["ours"]
        peers = [r for m, r in by.items() if m not in ("ours", "holdout (real)")]
        top = max(peers, key=lambda r: r["fidelity"], default=None)
        if top is not None:
            best.append((dataset, ours["fidelity"] >= top["fidelity"], top["method"]))
        if "tabularargn" in by:
            fast.append((dataset, ours["fit s"] / by["tabularargn"]["fit s"]))
        intact.append((dataset, ours["orphans"], ours["broken"]))
    lines = []
    if best:
        met = all(ok for _, ok, _ in best)
        detail = ", ".join(f"{d}: {'best' if ok else f'behind {m}'}" for d, ok, m in best)
        lines.append(f"best fidelity on every dataset: {'MET' if met else 'NOT MET'} ({detail})")
    if fast:
        met = all(r <= 0.5 for _, r in fast)
        detail = ", ".join(f"{d} x{r:.2f}" for d, r in fast)
        lines.append(f"fit <= half of TabularARGN's: {'MET' if met else 'NOT MET'} ({detail})")
    if intact:
        met = all(o == 0 and b == 0 for _, o, b in intact)
        detail = ", ".join(f"{d} {o}/{b}" for d, o, b in intact)
        lines.append(f"no orphan, no broken key (ours): {'MET' if met else 'NOT MET'} ({detail})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0, help="fit seed; sampling uses seed + 1")
    parser.add_argument("--params", default="{}", help="ours: LinkedEngine params, JSON")
    parser.add_argument("--par-epochs", type=int, default=128, help="SDV's default: 128")
    parser.add_argument(
        "--argn-epochs", type=float, default=None, help="default: the library's (100, early stop)"
    )
    parser.add_argument("--json", type=Path, help="write every row (and peers' settings) here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # every method on one thread: ARGN's worker is given one too
    results: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for dataset in args.datasets.split(","):
        relations, train, holdout = load(dataset)
        rows = []
        for method in args.methods.split(","):
            print(f"[{time.perf_counter() - started:6.0f}s] {dataset}: {method}", file=sys.stderr)
            rows.append(run_method(method, relations, train, holdout, args))
        rows.append(holdout_row(relations, train, holdout))
        results[dataset] = rows
        print_table(dataset, _shape(relations, train, holdout), rows)
    print()
    for line in verdicts(results):
        print(line)
    print(f"(whole run {time.perf_counter() - started:,.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
