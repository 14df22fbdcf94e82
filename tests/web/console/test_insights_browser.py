"""Insight pages in a real headless Chromium, on a small generated demo: build, save, switch language, screenshots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from opsloop.demo.generator import DemoSpec
from opsloop.demo.loader import write_events_file
from opsloop.ingest.bulk import import_file
from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser

KINDS = [
    "trends",
    "active_users",
    "stickiness",
    "retention",
    "funnel",
    "paths",
    "lifecycle",
    "distribution",
    "growth",
    "sql",
]


@pytest.fixture
def demo_console(live_console: LiveConsole, tmp_path: Path) -> LiveConsole:
    """The live console's project with a small demo product: 300 persons over 45 days ending today (~20k events)."""
    today = dt.datetime.now(dt.UTC).date()
    path = tmp_path / "demo-events.parquet"
    write_events_file(DemoSpec(persons=300, days=45, seed=3, end_date=today), path)
    import_file(live_console.runtime.writer, path, live_console.project.project.id)
    return live_console


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _drawn(page: Any) -> None:
    page.wait_for_selector("#insight-chart[data-drawn=true]", timeout=20_000)


def test_insight_page_screenshots(demo_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, demo_console.url, demo_console.email)
    base = f"{demo_console.url}/projects/{demo_console.project.project.id}/insights"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        _open(page, f"{base}/{kind}")
        assert page.locator("[role=alert]").count() == 0, page.locator("[role=alert]").inner_text()
        if kind != "sql":
            _drawn(page)
        assert page.locator(".result-table tbody tr").count() > 0, kind
        page.screenshot(path=str(SCREENSHOTS / f"insight-{kind}-en.png"), full_page=True)
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    for kind in ["trends", "retention", "funnel", "paths"]:
        _open(page, f"{base}/{kind}")
        _drawn(page)
        page.screenshot(path=str(SCREENSHOTS / f"insight-{kind}-zh.png"), full_page=True)
    assert not errors
