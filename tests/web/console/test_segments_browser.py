"""Segment and catalogue pages in a real headless Chromium on a small generated demo: refresh the catalogue in the
background, build a behavioural segment in the editor with its live size, save it, see its portrait; screenshots."""

from __future__ import annotations

from typing import Any

from opsloop.users.definitions import Group
from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name || el.type)"""


def _size(page: Any) -> int:
    page.wait_for_selector("#live-size[data-size]", timeout=20_000)
    return int(page.get_attribute("#live-size", "data-size"))


def test_build_a_behavioural_segment_and_see_its_portrait(demo_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, demo_console.url, demo_console.email)
    pid = demo_console.project.project.id
    base = f"{demo_console.url}/projects/{pid}"
    runtime = demo_console.runtime
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # The catalogue: nothing computed until an operator refreshes it; the refresh runs in the background and
    # the page reloads itself when it is done.
    page.goto(f"{base}/catalogue")
    assert "The catalogue has not been computed yet." in page.locator("main").inner_text()
    page.click("#refresh-catalogue")
    page.wait_for_selector(".catalogue-table", timeout=60_000)
    assert page.locator(".catalogue-table code.entry-name", has_text="purchase").count() == 1
    page.goto(f"{base}/catalogue?kind=event_property")
    page.wait_for_selector(".catalogue-table")
    page.screenshot(path=str(SCREENSHOTS / "catalogue-en.png"), full_page=False)

    # The editor: purchase at least 2 times in the last 30 days, with revenue above 20.
    page.goto(f"{base}/segments")
    page.click("text=New segment")
    page.fill("#segment-name", "Repeat buyers")
    page.fill("#segment-description", "Bought twice or more this month")
    page.get_by_label("Event name").fill("purchase")
    once = _size(page)
    page.evaluate("document.getElementById('live-size').removeAttribute('data-size')")
    page.locator("input[aria-label='Number of times']").fill("2")
    twice = _size(page)
    assert 0 < twice < once  # at least twice is rarer than at least once
    page.click("text=+ Add event-property filter")
    page.locator(".seg-filter input[aria-label='Property']").fill("revenue")
    page.locator(".seg-filter select[aria-label='Comparison']").select_option("gt")
    page.evaluate("document.getElementById('live-size').removeAttribute('data-size')")
    page.locator(".seg-filter input[aria-label='Value']").fill("20")
    filtered = _size(page)
    # AND a person property: device_type equals Mobile (added with the condition picker).
    page.select_option(".seg-add select[aria-label='Condition type']", "person")
    page.click("text=+ Add condition")
    person = page.locator(".seg-cond[data-type=person]")
    person.locator("input[aria-label='Property']").fill("device_type")
    page.evaluate("document.getElementById('live-size').removeAttribute('data-size')")
    person.locator("input[aria-label='Value']").fill("Mobile")
    mobile = _size(page)
    assert mobile <= filtered
    filtered = mobile
    # The count shown is the service's count of the definition the form holds (revenue compared as a number).
    definition = Group.model_validate_json(page.input_value("#definition-json"))
    assert definition.conditions[0].filters[0].value == 20  # type: ignore[union-attr]
    assert filtered == runtime.segments.size_of(runtime.project_context(pid), definition) and filtered <= twice
    assert f"{filtered:,} persons match now" in page.locator("#live-size").inner_text()
    assert page.evaluate(UNLABELLED) == []
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "segment-editor-en.png"), full_page=True)

    with page.expect_navigation():
        page.click("#save-segment")
    assert page.locator("h1").inner_text().startswith("Repeat buyers")
    assert page.locator("[role=status]").inner_text() == "Segment saved."
    assert "purchase" in page.locator(".summary").inner_text()
    with page.expect_navigation():
        page.click("#refresh-segment")
    page.wait_for_selector("#size-history[data-drawn=true] svg")
    assert page.locator(".size-value").inner_text() == f"{filtered:,}"
    # The portrait: the default dimensions of the demo (channel, country, device, gender, age band, ...).
    assert page.locator(".dimension[data-dimension='person:country'] tbody tr").count() > 0
    assert page.locator(".dimension[data-dimension='age_band']").count() == 1
    assert page.locator(".portrait-table.events tbody tr").count() > 0
    assert page.evaluate(UNLABELLED) == []

    # The editor opens the saved definition as a tree; an unknown event is pointed out before counting, and the
    # server's refusal comes back next to the form with the tree as it was.
    segment_url = page.url.split("?")[0]
    page.goto(f"{segment_url}/edit")
    assert page.get_by_label("Event name").input_value() == "purchase"
    assert page.locator(".seg-cond[data-type=person] input[aria-label='Value']").input_value() == "Mobile"
    assert _size(page) == filtered
    # An RFM condition takes segments of the map and (R, F) cells.
    page.select_option(".seg-add select[aria-label='Condition type']", "rfm_segment")
    page.click("text=+ Add condition")
    page.get_by_label("or cells (R,F; R,F)").fill("5,5; 4, 5")
    rfm = Group.model_validate_json(page.input_value("#definition-json")).conditions[-1]
    assert (rfm.type, rfm.segments, rfm.cells) == ("rfm_segment", ["Champions"], [(5, 5), (4, 5)])  # type: ignore[union-attr]
    page.get_by_label("Event name").fill("purchse")
    page.wait_for_function("document.getElementById('live-size').textContent === 'Unknown event: purchse'")
    with page.expect_navigation():
        page.click("#save-segment")
    assert "unknown event 'purchse'" in page.locator("#segment-error").inner_text()
    assert page.get_by_label("Event name").input_value() == "purchse"

    # The list: the segment with its size and a one-point size history.
    page.goto(f"{base}/segments")
    page.wait_for_selector(".sparkline svg")
    row = page.locator(".segments-table tbody tr", has_text="Repeat buyers")
    assert row.locator("td.num").inner_text() == f"{filtered:,}"
    page.goto(segment_url)

    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    page.wait_for_selector("#size-history[data-drawn=true] svg")
    assert page.locator("#portrait h2").inner_text() == "用户画像"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays on top of a full-page screenshot
    page.screenshot(path=str(SCREENSHOTS / "segment-portrait-zh.png"), full_page=True)
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    assert not errors
