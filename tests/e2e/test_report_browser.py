"""The run report opened in headless Chromium with the network blocked: self-contained, no PII."""

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from tests.builders import CANARY_EMAIL, CANARY_NAME, adult, write_job

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

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


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
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


def _published_report(folder: Path, capsys: pytest.CaptureFixture) -> tuple[Path, pd.DataFrame]:
    frame = adult(400)
    spec = write_job(folder, frame)
    code = main(["run", str(spec), "--rows", "300", "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["status"] == "published", summary
    return Path(summary["report"]), frame


def _pii_values(frame: pd.DataFrame) -> set[str]:
    values = set(frame["full_name"].dropna()) | set(frame["email"].dropna())
    assert {CANARY_NAME, CANARY_EMAIL} <= values
    return values


def _assert_no_remote_references(driver) -> None:
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


def _assert_svgs_render(driver, html: str) -> None:
    sizes = driver.execute_script(
        "return [...document.querySelectorAll('svg')].map(s => {"
        "const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert html.count("<svg") == len(sizes) > 0, "every chart in the markup must be in the page"
    assert all(w > 0 and h > 0 for w, h in sizes), sizes


def test_report_renders_offline_without_pii(
    tmp_path: Path, capsys: pytest.CaptureFixture, browser
) -> None:
    report, frame = _published_report(tmp_path / "job", capsys)
    html = report.read_text()
    browser.get(report.resolve().as_uri())

    assert browser.title.startswith("synth report")
    _assert_no_remote_references(browser)
    verdict = browser.find_element("css selector", ".verdict")
    assert verdict.is_displayed() and verdict.text.strip()
    _assert_svgs_render(browser, html)
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    text = browser.execute_script("return document.body.innerText")
    leaked = [v for v in _pii_values(frame) if v in text or v in html]
    assert not leaked, leaked
