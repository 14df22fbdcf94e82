"""Home, dashboards, persons and live events in a real headless Chromium, with the documentation's screenshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opsloop.dashboards.insights import InsightService
from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser
from tests.web.console.event_log import load_events, shop_events

EVIL = '<img src=x onerror="window.pwned=1">'


def _prepare(live: LiveConsole) -> int:
    pid = live.project.project.id
    events = shop_events(dt.date.today(), persons=160, days=45)
    events.append({"event": EVIL, "distinct_id": "user-001", "properties": {"note": EVIL}})
    load_events(live.runtime, pid, events)
    insights = InsightService(live.runtime.metadata)
    insights.create(pid, "Page views per day", {"kind": "trends", "series": [{"event": "$pageview"}]})
    insights.create(
        pid,
        "Sign-up to purchase",
        {
            "kind": "funnel",
            "steps": [{"event": "signed_up"}, {"event": "purchase"}],
            "window": {"value": 30, "unit": "day"},
        },
    )
    retention = {"kind": "retention", "start_event": "signed_up", "return_event": "$pageview", "period": "week"}
    insights.create(pid, "Weekly retention", retention)
    insights.create(pid, "After sign-up", {"kind": "paths", "start_event": "signed_up", "steps": 4})
    return pid


def _shot(page: Any, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_home_dashboard_tiles_persons_and_events(live_console: LiveConsole, page: Any) -> None:
    pid = _prepare(live_console)
    url = live_console.url
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, url, live_console.email)

    # Home: the shell shows a loading state, then ten cards with values, changes and sparklines.
    page.goto(f"{url}/projects/{pid}/home")
    page.wait_for_selector(".kpi-card .kpi-spark .main-svg", timeout=30_000)
    assert page.locator(".kpi-card").count() == 10
    assert page.locator("#kpi-status").is_hidden()
    assert page.locator('[data-kpi="new_persons"] .kpi-value').inner_text().isdigit()
    assert "Asia/Shanghai" in page.locator("#kpi-period").inner_text()
    _shot(page, "home-en.png")
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    page.wait_for_selector(".kpi-card .kpi-spark .main-svg", timeout=30_000)
    assert page.locator('[data-kpi="d1_retention"] h2').inner_text() == "次日留存"
    _shot(page, "home-zh.png")
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    page.click("text=Last 30 days")
    page.wait_for_selector(".kpi-card", timeout=30_000)
    assert "days=30" in page.url

    # Dashboards: create one, add both saved insights, move a tile with the keyboard, remove one.
    page.click("nav.sidebar >> text=Dashboards")
    page.fill("#dashboard-name", "Morning check")
    page.click("text=Create dashboard")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "Morning check"
    for label in (
        "Page views per day (trends)",
        "Sign-up to purchase (funnel)",
        "Weekly retention (retention)",
        "After sign-up (paths)",
    ):
        page.select_option("#insight_id", label=label)
        page.click("text=Add to dashboard")
        page.wait_for_load_state("networkidle")
    titles = page.locator(".tile h2 a")
    assert titles.all_inner_texts() == [
        "Page views per day",
        "Sign-up to purchase",
        "Weekly retention",
        "After sign-up",
    ]
    page.wait_for_selector('.tile-chart[data-drawn="true"] >> nth=3', timeout=30_000)
    assert page.locator(".tile-chart.js-plotly-plot").count() == 4  # all drawn by Plotly
    assert page.locator(".tile-chart .heatmaplayer").count() == 1  # retention as a heat map
    assert page.locator(".tile-chart svg .sankey").count() == 1  # paths as a Sankey
    assert page.locator(".tile-chart .sankey-node").count() >= 3
    page.locator(".tile").first.get_by_role("button", name="Move Page views per day down").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert titles.all_inner_texts() == [
        "Sign-up to purchase",
        "Page views per day",
        "Weekly retention",
        "After sign-up",
    ]
    page.select_option(".tile >> nth=2 >> select[name=size]", "full")  # submits on change
    page.wait_for_selector(".tile-full")
    page.select_option(".tile >> nth=3 >> select[name=size]", "full")
    page.wait_for_selector(".tile-full >> nth=1")

    # One date range for every tile: the insights' own dates by default; a preset reloads the page with the
    # range in its URL, and each tile's data URL carries the days.
    assert page.locator("#range").input_value() == "own"
    assert "Asia/Shanghai" in page.locator(".dashboard-range").inner_text()
    with page.expect_navigation():
        page.select_option("#range", "last_7")  # submits on change
    assert "range=last_7" in page.url
    assert page.locator("#range").input_value() == "last_7" and page.input_value("#date_from") != ""
    page.wait_for_selector('.tile-chart[data-drawn="true"] >> nth=3', timeout=30_000)
    data_urls = page.locator(".tile-chart").evaluate_all("els => els.map(e => e.getAttribute('data-url'))")
    date_from, date_to = page.input_value("#date_from"), page.input_value("#date_to")
    assert all(u.endswith(f"?date_from={date_from}&date_to={date_to}") for u in data_urls), data_urls
    assert page.locator(".tile-chart svg .sankey").count() == 1
    points = "document.querySelector('#tile-{} .tile-chart').data[0].x.length"
    trend_tile = page.locator(".tile", has_text="Page views per day").get_attribute("data-tile-id")
    assert page.evaluate(points.format(trend_tile)) == 7  # the trend redrawn over 7 days
    with page.expect_navigation():
        page.select_option("#range", "last_30")
    assert "range=last_30" in page.url
    page.wait_for_selector('.tile-chart[data-drawn="true"] >> nth=3', timeout=30_000)
    assert page.evaluate(points.format(trend_tile)) == 30
    _shot(page, "dashboard-en.png", full_page=True)
    page.locator(".tile").first.get_by_role("button", name="Remove Sign-up to purchase").click()
    page.wait_for_load_state("networkidle")
    assert titles.all_inner_texts() == ["Page views per day", "Weekly retention", "After sign-up"]

    # Persons and the person page; escaped event names do not run.
    page.click("nav.sidebar >> text=Persons")
    page.fill("#key", "plan")
    page.fill("#value", "pro")
    page.click("button:has-text('Search')")
    page.wait_for_load_state("networkidle")
    page.click("text=user-000")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text() == "user-000"
    page.locator(".events-table details summary").first.click()
    _shot(page, "person-en.png")

    page.click("nav.sidebar >> text=Live events")
    page.wait_for_load_state("networkidle")
    assert page.locator("code.event-name", has_text=EVIL).count() == 1
    toggle = page.locator("#live-toggle")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true" and toggle.inner_text() == "Resume"
    toggle.click()
    page.wait_for_selector("#live-status:has-text('Updated')", timeout=15_000)
    assert page.locator("code.event-name", has_text=EVIL).count() == 1  # redrawn by the script, still text
    _shot(page, "events-en.png")
    assert page.evaluate("window.pwned === undefined")
    assert errors == []

    page.click("details.user-menu summary")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
