"""examples/data/make_appstream.py: AppStream description markup to the table's plain text."""

from __future__ import annotations

import importlib.util

from tests.builders import REPO


def _script():
    path = REPO / "examples" / "data" / "make_appstream.py"
    spec = importlib.util.spec_from_file_location("make_appstream", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paragraphs_and_list_items_become_plain_text_and_stray_translations_are_dropped() -> None:
    markup = (
        "<p>\n  A  <em>small</em> editor &amp; viewer.\n</p>\n"
        '<p><em>Features:</em><em xml:lang="de">Funktionen:</em></p>\n'
        "<ul>\n  <li>Tabs</li>\n  <li>Syntax\n highlighting</li>\n</ul>"
    )
    assert _script()._plain(markup) == (
        "A small editor & viewer.\n\nFeatures:\n\n- Tabs\n- Syntax highlighting"
    )


def test_a_component_without_a_freedesktop_main_category_is_labelled_by_its_type() -> None:
    component = {
        "ID": "org.example.font",
        "Type": "font",
        "Name": {"C": "Example Sans"},
        "Summary": {"C": "A font"},
        "Description": {"C": "<p>Glyphs for Latin.</p>"},
        "Categories": ["Qt"],
    }
    frame = _script()._table([component, {"ID": "x", "Type": "addon"}])  # no description: out
    assert frame["main_category"].tolist() == ["font"]
    assert frame.loc[0, "description"] == "Glyphs for Latin."
