"""Insight pages in a real headless Chromium, on a small generated demo: build, save, switch language, screenshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from opsloop.dashboards.insights import InsightService
from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser
from tests.web.console.insight_data import EVIL, shop_events

#: What each screenshot shows (query string; other kinds show their default query).
SHOWCASE = {
    "trends": "run=1&series_event=view_item&series_math=persons&series_property="
    "&series_event=purchase&series_math=persons&series_property=&interval=day",
    "retention": "run=1&start_event=signed_up&return_event=$any&period=week&intervals=6&range=last_90",
    "funnel": "run=1&step=view_item&step=add_to_cart&step=checkout_started&step=purchase&window_value=7",
    "paths": "run=1&start_event=sign_up_started&steps=5",
}
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
        _open(page, f"{base}/{kind}?{SHOWCASE.get(kind, '')}")
        assert page.locator("[role=alert]").count() == 0, page.locator("[role=alert]").inner_text()
        if kind != "sql":
            _drawn(page)
        assert page.locator(".result-table tbody tr").count() > 0, kind
        # Every form control has a label a screen reader can announce.
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], (kind, unlabelled)
        page.screenshot(path=str(SCREENSHOTS / f"insight-{kind}-en.png"), full_page=True)
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    for kind in KINDS:
        _open(page, f"{base}/{kind}?{SHOWCASE.get(kind, '')}")
        if kind != "sql":
            _drawn(page)
        assert page.locator(".result-table tbody tr").count() > 0, kind
        page.screenshot(path=str(SCREENSHOTS / f"insight-{kind}-zh.png"), full_page=True)
    assert not errors


def _run_form(page: Any) -> None:
    with page.expect_navigation():
        page.click("button[data-run]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=alert]").count() == 0, page.locator("[role=alert]").inner_text()
    _drawn(page)


def _save(page: Any, name: str) -> None:
    page.fill("#insight-name", name)
    with page.expect_navigation():
        page.click("text=Save insight")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=status].alert-ok").inner_text() == "Insight saved."
    assert page.locator(".saved-list a", has_text=name).count() == 1


def test_build_and_save_a_funnel_and_a_retention_then_switch_language(demo_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, demo_console.url, demo_console.email)
    pid = demo_console.project.project.id
    base = f"{demo_console.url}/projects/{pid}/insights"

    # A three-step funnel: two steps are there to start with, a third is added with the button.
    _open(page, f"{base}/funnel")
    page.fill("#step-1", "view_item")
    page.fill("#step-2", "add_to_cart")
    page.click("text=+ Add step")
    page.locator("input[name=step]").nth(2).fill("checkout_started")
    page.fill("#window_value", "7")
    page.select_option("#range", "last_90")
    assert page.input_value("#date_from") != ""  # the preset filled in the dates
    _run_form(page)
    assert page.locator(".result-table tbody tr").count() == 3
    counts = [int(c) for c in page.locator(".result-table tbody td:nth-child(5)").all_inner_texts()]
    assert counts[0] >= counts[1] >= counts[2] > 0  # a funnel never grows
    # The shareable link holds the query; copying it says so.
    assert "/insights/funnel?q=" in page.input_value("#share-link")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("button[data-copy]")
    page.wait_for_function("document.querySelector('button[data-copy]').textContent === 'Copied'", timeout=5_000)
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#share-link")
    _save(page, "Shopping funnel")
    assert page.input_value("#step-3") == "checkout_started"  # the saved insight opens filled in

    # A weekly retention of persons who signed up, coming back to view content.
    _open(page, f"{base}/retention")
    page.fill("#start_event", "signed_up")
    page.fill("#return_event", "content_viewed")
    page.select_option("#period", "week")
    page.fill("#intervals", "5")
    _run_form(page)
    assert page.locator(".result-table tbody tr").count() > 0
    _save(page, "Weekly retention")
    names = {i.name: i.query for i in InsightService(demo_console.runtime.metadata).list(pid)}
    assert names["Shopping funnel"]["window"] == {"value": 7, "unit": "day"}
    assert names["Weekly retention"]["period"] == "week" and names["Weekly retention"]["intervals"] == 5

    # The same page in Chinese, then Spanish: the query stays, the words change.
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    assert page.locator("h1").inner_text() == "留存"
    assert page.locator("button[data-run]").inner_text() == "运行"
    assert page.input_value("#start_event") == "signed_up"
    _drawn(page)
    with page.expect_navigation():
        page.select_option("#language-select", "es")
    assert page.locator("h1").inner_text() == "Retención"
    assert page.locator("nav.kind-tabs a[aria-current=page]").inner_text() == "Retención"
    assert page.locator("button[data-run]").inner_text() == "Ejecutar"
    assert not errors


def test_hostile_event_names_show_as_text_in_chart_and_table(live_console: LiveConsole, page: Any) -> None:
    runtime = live_console.runtime
    today = dt.datetime.now(dt.UTC).date()
    response = httpx.post(
        f"{live_console.url}/batch/", json={"api_key": live_console.project.token, "batch": shop_events(today)}
    )
    assert response.status_code == 200
    assert runtime.pipeline.wait_flushed(30)
    sign_in_with_browser(page, live_console.url, live_console.email)
    base = f"{live_console.url}/projects/{live_console.project.project.id}/insights"
    _open(page, f"{base}/trends?run=1&series_event={EVIL}&series_math=total&series_property=&range=last_7")
    _drawn(page)
    assert page.evaluate("window.pwned === undefined")
    assert page.locator(".result-table td", has_text=EVIL).count() > 0
    _open(page, f"{base}/funnel?run=1&step={EVIL}&step=pageview&range=last_7")
    _drawn(page)
    assert page.evaluate("window.pwned === undefined")
    assert EVIL in page.locator("#insight-chart .xtick").first.text_content()
