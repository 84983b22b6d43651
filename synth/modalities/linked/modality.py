"""The linked modality: tables under one subject in, the same tables with generated subjects out.

read every table -> type and key-check them (orphans refused or dropped) -> split by subject (a
root row and every row under it on one side) -> value protection per table -> fit the sequential
autoregressive engine (or the stored one) -> sample subjects: parents, then each parent's
children -> fresh keys and fakes -> one staged Parquet dataset per table -> the linked checks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from schemas.linked_spec import LinkedJobSpec
from schemas.relations import Relations
from synth.io.model_store import ModelStore, model_key, store_root
from synth.io.publish import StagedParts, write_part
from synth.linked.data import LinkedData, LinkedSource, link, read_linked, split_subjects
from synth.linked.output import finish_tables
from synth.linked.protect import protect_tables
from synth.modalities import CheckInputs, Execute, Sampled
from synth.tabular.protection import Protection
from validation.result import CheckResult

__all__ = ["LinkedModality"]

_log = logging.getLogger("synth.linked")


@dataclass(frozen=True)
class LinkedPrepared:
    data: LinkedData
    fingerprint: str
    train: dict[str, pd.DataFrame]  # real, whole subjects
    holdout: dict[str, pd.DataFrame]
    protection: dict[str, Protection]  # per table: the training rows the engine sees

    @property
    def relations(self) -> Relations:
        return self.data.relations


@dataclass(frozen=True)
class LinkedFitted:
    engine: Any  # synth.linked.engine.LinkedEngine
    info: dict[str, Any]


class LinkedModality:
    kind: ClassVar[str] = "linked"
    unit: ClassVar[str] = "rows"

    def preflight(self, spec: LinkedJobSpec) -> None:
        link(read_linked(spec), spec)

    def describe(self, spec: LinkedJobSpec) -> str:
        names = ", ".join(t.name for t in spec.tables)
        return f"{len(spec.tables)} linked table(s): {names}"

    def read(self, spec: LinkedJobSpec) -> LinkedSource:
        return read_linked(spec)

    def prepare(self, source: LinkedSource, spec: LinkedJobSpec) -> LinkedPrepared:
        data = link(source, spec)
        for table, dropped in data.orphans.items():
            _log.info("tables.%s: dropped %d orphan rows (orphans: drop)", table, dropped)
        train, holdout = split_subjects(data, share=spec.split.holdout, seed=spec.split.seed)
        settings = spec.model.value_protection
        protection = protect_tables(
            train,
            data.relations,
            min_count=settings.min_count,
            seed=spec.sample.seed,
            enabled=settings.enabled,
        )
        _log.info(
            "split %d subjects: %d train, %d holdout",
            data.subjects,
            len(train[data.relations.root.name]),
            len(holdout[data.relations.root.name]),
        )
        return LinkedPrepared(data, source.fingerprint, train, holdout, protection)

    def fit(self, prepared: LinkedPrepared, spec: LinkedJobSpec, *, retrain: bool) -> LinkedFitted:
        from synth.linked.engine import LinkedEngine

        store, key = None, None
        if spec.model.cache:
            store = ModelStore.open(store_root(spec))
            key = model_key(spec, prepared.fingerprint)
            engine = None if retrain else store.get(key, LinkedEngine.name, load=LinkedEngine.load)
            if engine is not None:
                _log.info("reusing stored linked model %s", key[:12])
                return LinkedFitted(engine, {"model_cache": "reused", "model_key": key})
        engine = LinkedEngine(**spec.model.engine_params())
        train = {name: p.train for name, p in prepared.protection.items()}
        _log.info(
            "fitting the sequential %s engine on %s",
            spec.model.engine,
            ", ".join(f"{n} ({len(f)} rows)" for n, f in train.items()),
        )
        engine.fit(train, prepared.relations, seed=spec.sample.seed)
        if store is None or key is None:
            return LinkedFitted(engine, {"model_cache": "off"})
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        store.put(key, engine, replace=retrain, job=spec.name, created=created)
        return LinkedFitted(engine, {"model_cache": "retrained" if retrain else "stored"})

    def sample(
        self,
        fitted: LinkedFitted,
        prepared: LinkedPrepared,
        spec: LinkedJobSpec,
        *,
        staging: Path,
        execute: Execute,
        run_id: str,
    ) -> Sampled:
        """Every subject at once (a linked job's tables are written table by table, one part
        each): the engine's tables, with fresh keys and fakes, staged under `staging/<table>/`."""
        relations = prepared.relations
        subjects = spec.sample.subjects or len(prepared.train[relations.root.name])
        _log.info("sampling %d subjects", subjects)
        raw = fitted.engine.sample(
            subjects, seed=spec.sample.seed, conditions=dict(spec.sample.conditions) or None
        )
        tables = finish_tables(raw, relations, prepared.data.tables, seed=spec.sample.seed)
        files, rows = [], 0
        for table in relations.published:
            path = staging / table.name / "part-00000.parquet"
            rows += write_part([tables[table.name]], path, table.contract)
            files.append(path)
        return Sampled(StagedParts(tuple(files), rows, root=staging), [], tables)

    def check_inputs(
        self,
        name: str,
        prepared: LinkedPrepared,
        fitted: LinkedFitted,
        sampled: Sampled,
        spec: LinkedJobSpec,
        done: Mapping[str, CheckResult],
    ) -> CheckInputs | None:
        thresholds = getattr(spec.checks, name)
        if not thresholds.enabled:
            return None
        return CheckInputs(
            real=prepared.train,
            synthetic=sampled.evidence,
            holdout=prepared.holdout,
            contract=prepared.relations,
            thresholds=thresholds,
            keywords={"seed": spec.sample.seed, "min_count": spec.report.min_count},
        )

    def run_info(
        self,
        source: LinkedSource,
        prepared: LinkedPrepared,
        fitted: LinkedFitted,
        sampled: Sampled,
        spec: LinkedJobSpec,
    ) -> dict[str, Any]:
        engine = fitted.engine.info()
        relations = prepared.relations
        synthetic: dict[str, pd.DataFrame] = sampled.evidence
        root = relations.root.name
        tables = [_table_row(t, relations, prepared, synthetic) for t in relations.published]
        protection = {n: p.report() for n, p in prepared.protection.items()}
        return {
            "run": {
                "source_fingerprint": prepared.fingerprint,
                "engine": engine.get("engine", spec.model.engine),
                "engine_params": engine.get("params", {}),
                "fit_seconds": engine.get("fit_seconds"),
                "model_cache": fitted.info.get("model_cache"),
                "differential_privacy": engine.get("differential_privacy"),
                # per table, per written text column: epochs, validation loss, texts cut, ...
                "text_models": engine.get("text"),
                "train_rows": sum(len(f) for f in prepared.train.values()),
                "holdout_rows": sum(len(f) for f in prepared.holdout.values()),
                "subjects": {
                    "train": len(prepared.train[root]),
                    "holdout": len(prepared.holdout[root]),
                    "synthetic": len(synthetic[root]),
                },
            },
            "contract": [
                {"table": t.name, **column}
                for t in relations.published
                for column in t.contract.summary()
            ],
            "contract_notes": [n for t in relations.published for n in t.contract.notes],
            "linked": {"tables": tables, "value_protection": protection},
            "report": {"min_count": spec.report.min_count},
        }

    def render(self, metrics: Mapping[str, Any]) -> str:
        from validation.linked_report import linked_section
        from validation.report import render

        return render(dict(metrics), extra=linked_section(dict(metrics)))

    def partition_by(self, spec: LinkedJobSpec) -> list[str]:
        return []


def _table_row(
    table: Any, relations: Relations, prepared: LinkedPrepared, synthetic: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """A published table's place and row counts, for metrics.json and the report."""
    parent = table.parent if table.parent and not relations[table.parent].virtual else None
    row: dict[str, Any] = {"table": table.name, "parent": parent, "key": table.primary_key}
    if table.parent is not None:
        row.update(foreign_key=table.foreign_key, order_by=table.order_by)
    row.update(
        columns=len(table.contract.columns),
        real_rows=len(prepared.data.tables[table.name]),
        train_rows=len(prepared.train[table.name]),
        holdout_rows=len(prepared.holdout[table.name]),
        synthetic_rows=len(synthetic[table.name]),
    )
    if table.parent is not None:
        row["orphans_dropped"] = prepared.data.orphans.get(table.name, 0)
    return row
