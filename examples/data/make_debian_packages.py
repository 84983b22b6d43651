"""Rebuild examples/data/debian_packages.parquet: real free text, from Debian's archive (deterministic).

    python examples/data/make_debian_packages.py            # fetch the pinned indices, by hash
    python examples/data/make_debian_packages.py --from DIR # Packages.xz and Translation-en.xz in DIR

The rows are Debian 12 (bookworm) main packages for amd64: the binary index `Packages.xz` gives
section, priority, installed size, maintainer and architecture; the English translation index
`Translation-en.xz` gives each package's summary and long description (joined on the package and
its `Description-md5`). The indices are fetched from deb.debian.org's `by-hash/SHA256/` paths,
whose content is fixed by the hash, and checked against it; the sample is the first ROWS packages
in the order of sha256(package name): the same files give the same table, byte for byte.
See DEBIAN_PACKAGES.md for the provenance and licences.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import sys
import urllib.request
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
TARGET = HERE / "debian_packages.parquet"
ARCHIVE = "http://deb.debian.org/debian/dists/bookworm/main"
# bookworm 12.15 (Release dated 2026-07-11)
PINNED = {
    "Packages.xz": (
        "binary-amd64",
        "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5",
    ),
    "Translation-en.xz": (
        "i18n",
        "a3d4a0bfd8e9242810b0885eda7c1a6e05dac15b333ddbaab03ba56f2dfa4bf0",
    ),
}
ROWS = 3000
MAX_DESCRIPTION_CHARS = 2000  # a few very long descriptions are cut at a paragraph end


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--from", dest="folder", type=Path, help="folder with the two indices")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    raw = {name: _index(name, args.folder) for name in PINNED}
    packages = _stanzas(lzma.decompress(raw["Packages.xz"]).decode("utf-8"))
    texts = _translations(lzma.decompress(raw["Translation-en.xz"]).decode("utf-8"))
    frame = _table(packages, texts)
    frame.to_parquet(args.out, index=False, compression="zstd")
    sys.stdout.write(f"{args.out}: {len(frame)} rows, {frame.shape[1]} columns\n")


def _index(name: str, folder: Path | None) -> bytes:
    where, digest = PINNED[name]
    if folder is not None:
        data = (folder / name).read_bytes()
    else:
        url = f"{ARCHIVE}/{where}/by-hash/SHA256/{digest}"
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    found = hashlib.sha256(data).hexdigest()
    if found != digest:
        sys.exit(f"{name}: sha256 {found}, expected {digest} (pinned in this script)")
    return data


def _stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs: `Field: value`, continuation lines start with a space."""
    out: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key is not None:
                fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            out.append(fields)
    return out


def _translations(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(package, description md5) -> (summary, long description as paragraphs)."""
    found = {}
    for stanza in _stanzas(text):
        summary, _, rest = stanza.get("Description-en", "").partition("\n")
        paragraphs = [
            " ".join(p.split())
            for p in "\n".join(
                "" if line.strip() == "." else line for line in rest.split("\n")
            ).split("\n\n")
        ]
        found[(stanza.get("Package", ""), stanza.get("Description-md5", ""))] = (
            summary.strip(),
            "\n\n".join(p for p in paragraphs if p),
        )
    return found


def _cut(description: str) -> str:
    if len(description) <= MAX_DESCRIPTION_CHARS:
        return description
    kept = ""
    for paragraph in description.split("\n\n"):
        if len(kept) + len(paragraph) + 2 > MAX_DESCRIPTION_CHARS:
            break
        kept = f"{kept}\n\n{paragraph}" if kept else paragraph
    return kept or description[:MAX_DESCRIPTION_CHARS]


def _table(packages: list[dict[str, str]], texts: dict) -> pd.DataFrame:
    rows = []
    for p in packages:
        summary, description = texts.get((p.get("Package"), p.get("Description-md5")), ("", ""))
        if not description:
            continue
        rows.append(
            {
                "package": p["Package"],
                "section": p.get("Section"),
                "priority": p.get("Priority"),
                "architecture": p.get("Architecture"),
                "installed_size_kb": int(p["Installed-Size"]) if "Installed-Size" in p else None,
                "maintainer": p.get("Maintainer"),
                "summary": summary,
                "description": _cut(description),
            }
        )
    frame = pd.DataFrame(rows).drop_duplicates("package")
    order = frame["package"].map(lambda n: hashlib.sha256(n.encode()).hexdigest())
    frame = frame.loc[order.sort_values(kind="stable").index[:ROWS]].reset_index(drop=True)
    return frame.astype({"installed_size_kb": "Int64"})


if __name__ == "__main__":
    main()
