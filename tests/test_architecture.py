"""The layering the README's Architecture section draws, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("flows", "synth", "validation", "schemas", "bench", "tests", "examples")
MAX_MODULE_LINES = 400
MAX_FLOW_FUNCTION_LINES = 45


def _modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (REPO / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("path", _modules(*PACKAGES), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(REPO)}: {lines} lines"


def test_flows_hold_composition_only() -> None:
    """No long function in flows/, and no modality named there: the registry picks it."""
    for path in _modules("flows"):
        text = path.read_text(encoding="utf-8")
        assert '"images"' not in text, f"{path.relative_to(REPO)} names a modality"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FLOW_FUNCTION_LINES, (
                    f"{path.relative_to(REPO)}:{node.lineno} {node.name} is {length} lines"
                )


def test_imports_point_down() -> None:
    """schemas <- synth's core <- validation <- synth.modalities <- flows <- synth.api.

    `synth/api.py` is the top (the CLI and notebooks call it); `synth/modalities/` composes the
    engines with the checks; the rest of `synth/` never reaches up to either."""
    allowed = {
        "schemas": {"schemas"},
        "synth": {"schemas", "synth"},
        "validation": {"schemas", "synth", "validation"},
        "flows": {"schemas", "synth", "validation", "flows"},
    }
    for path in _modules("schemas", "synth", "validation", "flows"):
        relative = path.relative_to(REPO)
        package = relative.parts[0]
        ours = {m for m in _imports(path) if _top(m) in allowed}
        if relative.as_posix() in ("synth/api.py", "synth/__init__.py"):
            continue  # the top layer (it starts flows) and the package's names for it
        layer = allowed[package]
        if relative.parts[:2] == ("synth", "modalities"):
            layer = layer | {"validation"}
        bad = {m for m in ours if _top(m) not in layer}
        if package == "synth" and relative.parts[1] != "modalities":
            bad |= {m for m in ours if m.startswith(("synth.modalities", "synth.api"))}
        if package == "validation":
            bad |= {m for m in ours if m.startswith(("synth.modalities", "synth.api"))}
        if package == "flows" and relative.name != "cli.py":  # the CLI stands on the API
            bad |= {m for m in ours if m == "synth" or m.startswith("synth.api")}
        assert not bad, f"{relative} imports {sorted(bad)}"


def test_tests_outside_flows_and_e2e_never_import_a_flow() -> None:
    """Logic lives below flows/: a test of it imports it from there."""
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        relative = path.relative_to(REPO / "tests")
        if relative.parts[0] in ("flows", "e2e", "security") or path == Path(__file__):
            continue
        flows = {m for m in _imports(path) if _top(m) == "flows"}
        assert not flows, f"tests/{relative} imports {sorted(flows)}"
