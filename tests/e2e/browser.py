"""Opening a report in headless Chromium with the network blocked (the `browser` fixture), and the
checks every report must pass there: nothing remote, every chart drawn."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
REMOTE = re.compile(r"@import|url\(\s*['\"]?\s*(https?:)?//", re.IGNORECASE)


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMEDRIVER, CHROMIUM) if not p.exists()]
    if not missing:
        return
    message = f"missing {', '.join(missing)}: apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def open_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    _require_browser()
    monkeypatch.setenv("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def assert_no_console_errors(driver) -> None:
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def assert_no_remote_references(driver) -> None:
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert driver.execute_script("return document.querySelectorAll('script[src]').length") == 0
    hrefs = driver.execute_script(
        "return [...document.querySelectorAll('link[href]')].map(l => l.getAttribute('href'))"
    )
    assert not [h for h in hrefs if re.match(r"\s*(https?:)?//", h)], hrefs
    styles = driver.execute_script(
        "return [...document.querySelectorAll('style, [style]')]"
        ".map(e => e.tagName === 'STYLE' ? e.textContent : e.getAttribute('style'))"
    )
    assert not [s for s in styles if REMOTE.search(s)], styles


def assert_svgs_render(driver, html: str) -> None:
    sizes = driver.execute_script(
        "return [...document.querySelectorAll('svg')].map(s => {"
        "const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert html.count("<svg") == len(sizes) > 0, "every chart in the markup must be in the page"
    assert all(w > 0 and h > 0 for w, h in sizes), sizes
