"""The run report opened in headless Chromium with the network blocked: self-contained, no PII."""

import json
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import main
from tests.builders import CANARY_EMAIL, CANARY_NAME, adult, write_job
from tests.e2e.browser import assert_no_remote_references, assert_svgs_render

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


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


def test_report_renders_offline_without_pii(
    tmp_path: Path, capsys: pytest.CaptureFixture, browser
) -> None:
    report, frame = _published_report(tmp_path / "job", capsys)
    html = report.read_text()
    browser.get(report.resolve().as_uri())

    assert browser.title.startswith("synth report")
    assert_no_remote_references(browser)
    verdict = browser.find_element("css selector", ".verdict")
    assert verdict.is_displayed() and verdict.text.strip()
    assert_svgs_render(browser, html)
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]

    text = browser.execute_script("return document.body.innerText")
    leaked = [v for v in _pii_values(frame) if v in text or v in html]
    assert not leaked, leaked
