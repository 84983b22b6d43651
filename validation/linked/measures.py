"""Fidelity across tables, as pure functions of (real tables, other tables, relations, table):
the sequences check judges them and the benchmark reports them. Each returns None where it has
nothing to measure (a table with no order, no real parent with two children, no column pair).

- `length_distance`: children per parent row, total variation distance (a length seen in real
  data is its own bin; past `_LENGTH_BINS` distinct lengths, bins at real quantiles).
- `gap_distance`: time (or steps) between consecutive events under one parent, Kolmogorov-
  Smirnov distance.
- `consistency`: share of other parents (with two children or more) that keep constant every
  column each real parent keeps constant across its children.
- `transition_similarity`: consecutive events' (earlier, later) value pairs, 1 - total variation
  distance, averaged over the modelled columns real parents do not keep constant (categories
  folded to the `_LEVELS` most frequent real ones, numbers binned at real quintiles).
- `pair_similarity`: child rows joined to their parent row, every (child column, parent column)
  pair scored as SDMetrics' ColumnPairTrends does: CorrelationSimilarity (1 - |r - r'| / 2) for
  two numbers, ContingencySimilarity (1 - total variation distance of the binned pair) otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.contract import ColumnContract, Contract
from schemas.dataset import ColumnType
from schemas.relations import Relations, TableLink
from synth.linked.protect import constant_within_parents
from validation.frames import features
from validation.linked.tree import Tables, consecutive, lengths, order_values, parent_rows

__all__ = [
    "consistency",
    "constant_columns",
    "gap_distance",
    "length_distance",
    "pair_similarity",
    "transition_similarity",
]

_LENGTH_BINS = 20
_LEVELS = 20  # categories kept per column for pairs and transitions; the rest are one bin
_QUINTILES = np.linspace(0.2, 0.8, 4)
_DECILES = np.linspace(0.1, 0.9, 9)


def length_distance(real: Tables, other: Tables, relations: Relations, table: str) -> float | None:
    """Total variation distance between the real and other children-per-parent distributions."""
    if relations[table].parent is None:
        return None
    a, b = lengths(real, relations, table), lengths(other, relations, table)
    if not len(a) or not len(b):
        return None
    distinct = np.unique(a)
    if len(distinct) > _LENGTH_BINS:
        edges = np.unique(np.quantile(a, np.linspace(0, 1, _LENGTH_BINS + 1)[1:-1]))
        a, b = np.searchsorted(edges, a, "right"), np.searchsorted(edges, b, "right")
    return _tvd(a, b)


def gap_distance(real: Tables, other: Tables, relations: Relations, table: str) -> float | None:
    """Kolmogorov-Smirnov distance between the gaps between consecutive events (order_by)."""
    link = relations[table]
    if not link.sequential:
        return None
    a, b = _gaps(real, relations, link), _gaps(other, relations, link)
    if not len(a) or not len(b):
        return None
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic)


def constant_columns(tables: Tables, relations: Relations, table: str) -> list[str]:
    """Modelled columns every parent keeps constant (missing counts as a value), as the engine
    and value protection decide them (`synth.linked.protect`); none where no parent has two
    children, or for the root."""
    link = relations[table]
    if link.parent is None:
        return []
    return constant_within_parents(tables[table], link)


def consistency(real: Tables, other: Tables, relations: Relations, table: str) -> float | None:
    """Share of the other side's parents with two children or more that keep every column
    constant which every real parent keeps constant."""
    columns = constant_columns(real, relations, table)
    if not columns:
        return None
    up = parent_rows(other, relations, table)
    counts = np.bincount(up[up >= 0], minlength=max(up.max(initial=-1) + 1, 1))
    keep = (up >= 0) & (counts[np.maximum(up, 0)] >= 2)
    if not keep.any():
        return None
    spread = _within_parent_spread(other[table].loc[keep, columns], up[keep], per_parent=True)
    return float(np.mean(spread.max(axis=1).to_numpy() == 1))


def transition_similarity(
    real: Tables, other: Tables, relations: Relations, table: str
) -> float | None:
    """1 - total variation distance of consecutive events' value pairs, mean over columns."""
    link = relations[table]
    if not link.sequential:
        return None
    fixed = set(constant_columns(real, relations, table))
    names = [n for n in _modelled(link) if n != link.order_by and n not in fixed]
    before_r, after_r = consecutive(real, relations, table)
    before_o, after_o = consecutive(other, relations, table)
    if not names or not len(before_r) or not len(before_o):
        return None
    contract = link.contract
    coded_r, coded_o = _coded(real[table], other[table], [contract[n] for n in names], _QUINTILES)
    scores = []
    for name in names:
        r, o = coded_r[name], coded_o[name]
        width = int(max(r.max(initial=0), o.max(initial=0))) + 1
        scores.append(
            1.0 - _tvd(r[before_r] * width + r[after_r], o[before_o] * width + o[after_o])
        )
    return float(np.mean(scores))


def pair_similarity(real: Tables, other: Tables, relations: Relations, table: str) -> float | None:
    """Mean pair score over (child column, parent column) pairs, child rows joined to parents."""
    link = relations[table]
    parent = relations.parent_of(table)
    if parent is None:
        return None
    child_names, parent_names = _modelled(link), _modelled(parent)
    if not child_names or not parent_names:
        return None
    joined = []
    for tables in (real, other):
        up = parent_rows(tables, relations, table)
        rows = up >= 0
        joined.append(
            (tables[table][rows].reset_index(drop=True), tables[parent.name].iloc[up[rows]])
        )
    (child_r, parent_r), (child_o, parent_o) = joined
    if not len(child_r) or not len(child_o):
        return None
    columns_c = [link.contract[n] for n in child_names]
    columns_p = [parent.contract[n] for n in parent_names]
    codes_c = _coded(child_r, child_o, columns_c, _DECILES)
    codes_p = _coded(
        parent_r.reset_index(drop=True), parent_o.reset_index(drop=True), columns_p, _DECILES
    )
    numbers_c = _numbers(child_r, child_o, columns_c)
    numbers_p = _numbers(parent_r, parent_o, columns_p)
    scores = []
    for c in child_names:
        for p in parent_names:
            if c in numbers_c and p in numbers_p:
                score = _correlation_similarity(numbers_c[c], numbers_p[p])
            else:
                score = _contingency_similarity(codes_c, codes_p, c, p)
            if score is not None:
                scores.append(score)
    return float(np.mean(scores)) if scores else None


# --- helpers ---------------------------------------------------------------------------------


def _modelled(link: TableLink) -> list[str]:
    return [c.name for c in link.contract.modelled]


def _tvd(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance between the value distributions of two integer arrays."""
    p = pd.Series(a).value_counts(normalize=True)
    q = pd.Series(b).value_counts(normalize=True)
    both = p.index.union(q.index)
    return float(0.5 * np.abs(p.reindex(both, fill_value=0) - q.reindex(both, fill_value=0)).sum())


def _gaps(tables: Tables, relations: Relations, link: TableLink) -> np.ndarray:
    before, after = consecutive(tables, relations, link.name)
    when = order_values(tables[link.name], link)
    gaps = when[after] - when[before]
    return gaps[np.isfinite(gaps)]


def _within_parent_spread(
    frame: pd.DataFrame, parents: np.ndarray, *, per_parent: bool = False
) -> pd.DataFrame | pd.Series:
    """Distinct values (missing counted as one) per parent and column; the maximum over parents
    per column, or the per-parent table."""
    coded = pd.DataFrame(
        {name: pd.factorize(values, use_na_sentinel=False)[0] for name, values in frame.items()}
    )
    spread = coded.groupby(parents).nunique()
    return spread if per_parent else spread.max(axis=0)


def _coded(
    real: pd.DataFrame, other: pd.DataFrame, columns: list[ColumnContract], quantiles: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Small integer codes per column, shared by both sides: categories folded to the `_LEVELS`
    most frequent real ones, numbers binned at real `quantiles`; missing its own code."""
    contract = Contract("linked", len(real), tuple(columns))
    table_r, table_o = features(real, contract), features(other, contract)
    out_r, out_o = {}, {}
    for name, values in table_r.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            r = values.cat.codes.to_numpy().astype(np.int64)
            o = table_o[name].cat.codes.to_numpy().astype(np.int64)
            found, counts = np.unique(r[r >= 0], return_counts=True)
            top = found[np.lexsort((found, -counts))[:_LEVELS]]
            lookup = np.full(max(len(values.cat.categories), 1), _LEVELS, dtype=np.int64)
            lookup[top] = np.arange(len(top))

            def fold(codes: np.ndarray, lookup: np.ndarray = lookup) -> np.ndarray:
                return np.where(codes < 0, _LEVELS + 1, lookup[np.maximum(codes, 0)])

            out_r[name], out_o[name] = fold(r), fold(o)
        else:
            r, o = values.to_numpy(dtype="float64"), table_o[name].to_numpy(dtype="float64")
            present = r[~np.isnan(r)]
            edges = np.unique(np.quantile(present, quantiles)) if len(present) else np.array([])
            out_r[name], out_o[name] = (
                np.where(np.isnan(x), len(edges) + 1, np.searchsorted(edges, x, "right"))
                for x in (r, o)
            )
    return out_r, out_o


def _numbers(
    real: pd.DataFrame, other: pd.DataFrame, columns: list[ColumnContract]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Numerical and datetime columns as floats, both sides."""
    out = {}
    for c in columns:
        if c.type in (ColumnType.numerical, ColumnType.datetime):
            contract = Contract("linked", 0, (c,))
            out[c.name] = (
                features(real, contract)[c.name].to_numpy(dtype="float64"),
                features(other, contract)[c.name].to_numpy(dtype="float64"),
            )
    return out


def _correlation_similarity(
    child: tuple[np.ndarray, np.ndarray], parent: tuple[np.ndarray, np.ndarray]
) -> float | None:
    """1 - |Pearson r (real) - Pearson r (other)| / 2, rows missing either value dropped."""
    rs = []
    for x, y in zip(child, parent, strict=True):
        ok = ~(np.isnan(x) | np.isnan(y))
        if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
            return None
        rs.append(float(np.corrcoef(x[ok], y[ok])[0, 1]))
    return 1.0 - abs(rs[0] - rs[1]) / 2.0


def _contingency_similarity(
    child: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    parent: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    c: str,
    p: str,
) -> float:
    """1 - total variation distance of the (child, parent) code pairs."""
    (cr, co), (pr, po) = child, parent
    width = int(max(pr[p].max(initial=0), po[p].max(initial=0))) + 1
    return 1.0 - _tvd(cr[c] * width + pr[p], co[c] * width + po[p])
