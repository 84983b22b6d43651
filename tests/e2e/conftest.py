"""Fixtures the end-to-end tests share."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import open_browser


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Headless Chromium with the network blocked (skipped without it, failed in CI)."""
    yield from open_browser(tmp_path, monkeypatch)
