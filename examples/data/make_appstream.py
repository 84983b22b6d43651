"""Rebuild examples/data/appstream.parquet: real free text, from Debian's AppStream metadata.

    python examples/data/make_appstream.py                  # fetch the pinned index, by hash
    python examples/data/make_appstream.py --from FILE      # a local Components-amd64.yml.xz

The rows are the AppStream components (desktop applications, fonts, add-ons, input methods...)
of Debian 12 (bookworm) `main` for amd64, from `dists/bookworm/main/dep11/Components-amd64.yml.xz`
(DEP-11 YAML, one document a component): the English (`C`) name, summary and description
(HTML: `<p>` paragraphs and `<li>` items, stripped to plain text), the categories, licence and
developer. The index is fetched from deb.debian.org's `by-hash/SHA256/` path, whose content is
fixed by the hash, and checked against it; every component with a description is kept, in the
order of sha256(component id): the same file gives the same table, byte for byte.
See APPSTREAM.md for the provenance and licences.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
TARGET = HERE / "appstream.parquet"
# bookworm 12.15 (Release dated 2026-07-11; the DEP-11 file itself was generated 2023-06-09)
URL = "http://deb.debian.org/debian/dists/bookworm/main/dep11/by-hash/SHA256/"
DIGEST = "89474485d14b360826e123b24353bda189aec57a678d32a1d3be26e6e653b472"
MAX_DESCRIPTION_CHARS = 2000  # a few very long descriptions are cut at a paragraph end
# freedesktop.org's registered main categories; a component's first one is its main category
MAIN_CATEGORIES = {
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics",
    "Network", "Office", "Science", "Settings", "System", "Utility",
}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--from", dest="file", type=Path, help="a local Components-amd64.yml.xz")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if args.file is not None:
        data = args.file.read_bytes()
    else:
        with urllib.request.urlopen(URL + DIGEST, timeout=120) as response:
            data = response.read()
    found = hashlib.sha256(data).hexdigest()
    if found != DIGEST:
        sys.exit(f"Components-amd64.yml.xz: sha256 {found}, expected {DIGEST} (pinned here)")
    text = lzma.decompress(data).decode("utf-8")
    documents = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    frame = _table(documents[1:])  # the first document is the file's header
    frame.to_parquet(args.out, index=False, compression="zstd")
    sys.stdout.write(f"{args.out}: {len(frame)} rows, {frame.shape[1]} columns\n")


class _Text(HTMLParser):
    """AppStream description markup to text: paragraphs, list items as `- item` lines.

    Text inside an element with an `xml:lang` attribute (a stray translation) is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = []  # a paragraph is [text], a list is [item, ...]
        self._open: list[str] | None = None
        self._buffer: list[str] = []
        self._foreign: list[str] = []  # open elements in another language

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if self._foreign or any(key == "xml:lang" for key, _ in attrs):
            self._foreign.append(tag)
        elif tag in ("ul", "ol"):
            self._open = []
        elif tag in ("p", "li"):
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if self._foreign:
            self._foreign.pop()
            return
        words = " ".join("".join(self._buffer).split())
        if tag == "li" and self._open is not None and words:
            self._open.append(f"- {words}")
        elif tag == "p" and words:
            self.blocks.append([words])
        elif tag in ("ul", "ol") and self._open:
            self.blocks.append(self._open)
            self._open = None
        if tag in ("p", "li"):
            self._buffer = []

    def handle_data(self, data: str) -> None:
        if not self._foreign:
            self._buffer.append(data)


def _plain(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "\n\n".join("\n".join(block) for block in parser.blocks)


def _cut(description: str) -> str:
    if len(description) <= MAX_DESCRIPTION_CHARS:
        return description
    kept = ""
    for paragraph in description.split("\n\n"):
        if len(kept) + len(paragraph) + 2 > MAX_DESCRIPTION_CHARS:
            break
        kept = f"{kept}\n\n{paragraph}" if kept else paragraph
    return kept or description[:MAX_DESCRIPTION_CHARS]


def _english(field: object) -> str | None:
    if isinstance(field, dict):
        value = field.get("C")
        return " ".join(str(value).split()) if value is not None else None
    return None


def _table(components: list[dict]) -> pd.DataFrame:
    rows = []
    for c in components:
        description = _plain(c.get("Description", {}).get("C", "") or "")
        if not description or not c.get("ID"):
            continue
        categories = c.get("Categories") or []
        main = next((x for x in categories if x in MAIN_CATEGORIES), None)
        rows.append(
            {
                "component_id": c["ID"],
                "package": c.get("Package"),
                "type": c.get("Type"),
                "name": _english(c.get("Name")),
                # no main category (fonts, add-ons, input methods...): the component's type
                "main_category": main or c.get("Type"),
                "n_categories": len(categories),
                "n_keywords": len((c.get("Keywords") or {}).get("C") or []),
                "n_screenshots": len(c.get("Screenshots") or []),
                "project_license": c.get("ProjectLicense"),
                "developer_name": _english(c.get("DeveloperName")),
                "summary": _english(c.get("Summary")),
                "description": _cut(description),
            }
        )
    frame = pd.DataFrame(rows).drop_duplicates("component_id")
    order = frame["component_id"].map(lambda n: hashlib.sha256(n.encode()).hexdigest())
    return frame.loc[order.sort_values(kind="stable").index].reset_index(drop=True)


if __name__ == "__main__":
    main()
