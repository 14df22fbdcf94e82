"""RFM, user stages and tags pages in a real headless Chromium on a small generated demo, with screenshots."""

from __future__ import annotations

import re
from typing import Any

from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=alert]").count() == 0, page.locator("[role=alert]").inner_text()


def _unlabelled(page: Any) -> list[str]:
    """Form controls a screen reader could not name."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name)"""
    )
    return found


def test_rfm_make_a_segment_stages_and_tags(demo_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, demo_console.url, demo_console.email)
    pid = demo_console.project.project.id
    base = f"{demo_console.url}/projects/{pid}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # RFM with the defaults (the demo's purchase event and revenue property), from the navigation.
    _open(page, f"{base}/persons")
    with page.expect_navigation():
        page.click("nav.sidebar a:text-is('RFM')")
    page.wait_for_load_state("networkidle")
    summary = page.locator("p.summary").inner_text()
    buyers = int(summary.split(" ")[0])
    assert buyers > 0 and "in the last 365 days" in summary
    cells = page.locator("td.rfm-cell")
    assert cells.count() == 25
    assert sum(int(re.search(r"\d+", t).group()) for t in page.locator(".cell-persons").all_inner_texts()) == buyers  # type: ignore[union-attr]
    assert page.locator(".rfm-segments tbody tr").count() >= 1
    assert _unlabelled(page) == []
    page.screenshot(path=str(SCREENSHOTS / "rfm-en.png"), full_page=True)

    # "Make a segment" on the first cell with buyers opens the new segment's page.
    cell = next(c for c in cells.all() if c.locator(".cell-persons").inner_text() != "Buyers: 0")
    buyers_in_cell = int(cell.locator(".cell-persons").inner_text().split(": ")[1])
    r, f = cell.get_attribute("data-r"), cell.get_attribute("data-f")
    with page.expect_navigation():
        cell.locator("button").click()
    match = re.search(rf"/projects/{pid}/segments/(\d+)$", page.url)
    assert match, page.url
    made = demo_console.runtime.segments.get(pid, int(match.group(1)))
    assert made.name == f"RFM R{r} F{f}" and made.kind == "dynamic"
    refreshed = demo_console.runtime.segments.refresh(demo_console.runtime.project_context(pid), made.id)
    assert refreshed.size == buyers_in_cell  # the segment holds exactly the cell's buyers

    # User stages: today's counts add up and the stacked chart is drawn.
    _open(page, f"{base}/lifecycle-stages")
    page.wait_for_selector("#stage-chart-area[data-drawn=true]", timeout=20_000)
    counts = [int(n) for n in page.locator("td[data-stage]").all_inner_texts()]
    assert len(counts) == 5 and sum(counts) > 0
    assert int(page.locator(".stage-table tfoot th.num").inner_text()) == sum(counts)
    assert _unlabelled(page) == []
    page.screenshot(path=str(SCREENSHOTS / "user-stages-en.png"), full_page=True)

    # Tags: a value tier from the example, previewed then saved; a favourite category; a manual tag by paste.
    _open(page, f"{base}/tags?preset=value_tier")
    page.click("button[value=preview]")
    page.wait_for_load_state("networkidle")
    assert "Preview:" in page.locator("#rule-preview h3").inner_text()
    with page.expect_navigation():
        page.click("button[value=save]")
    assert page.locator("[role=status].alert-ok").inner_text() == "Rule tag saved and computed."
    _open(page, f"{base}/tags?preset=favourite_category")
    with page.expect_navigation():
        page.click("button[value=save]")
    page.fill("#tag-csv", "distinct_id,tag,value\nnobody-at-all,vip,gold\n")
    with page.expect_navigation():
        page.click("text=Upload tags")
    assert "line 2: no person has the distinct_id" in page.locator("#import-result").inner_text()
    assert page.locator("tr[data-tag=value_tier]").count() == 1
    assert page.locator("tr[data-tag=favourite_category]").count() == 1
    assert _unlabelled(page) == []
    page.screenshot(path=str(SCREENSHOTS / "tags-en.png"), full_page=True)

    # The RFM page in Chinese.
    _open(page, f"{base}/rfm")
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    page.wait_for_load_state("networkidle")
    assert "R × F 矩阵" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "rfm-zh.png"), full_page=True)
    assert not errors


def test_rfm_map_saved_as_the_project_default(demo_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, demo_console.url, demo_console.email)
    pid = demo_console.project.project.id
    base = f"{demo_console.url}/projects/{pid}"
    _open(page, f"{base}/rfm")
    assert page.locator("#rfm-default button").count() == 0  # the defaults are what the page runs
    # Rename the first rule and shorten the window, run, then save that as the project's default.
    page.click("#segment-map summary")
    page.fill("input[name=rule_name] >> nth=0", "Stars")
    page.fill("#rfm-days", "90")
    with page.expect_navigation():
        page.click("#segment-map button.primary")
    with page.expect_navigation():
        page.click("text=Save as project default")
    page.wait_for_load_state("networkidle")
    assert "Saved as the project's default RFM settings" in page.locator("[role=status].alert-ok").inner_text()
    assert "in the last 90 days" in page.locator("p.summary").inner_text()
    assert page.locator("input[name=rule_name] >> nth=0").input_value() == "Stars"
    saved = demo_console.runtime.segments.rfm_settings.settings(pid)
    assert saved.segment_map[0].name == "Stars" and saved.lookback_days == 90
    page.click("#segment-map summary")
    page.screenshot(path=str(SCREENSHOTS / "rfm-default-en.png"), full_page=True)
    with page.expect_navigation():
        page.click("text=Reset to the standard map")
    assert demo_console.runtime.segments.rfm_settings.settings(pid).segment_map[0].name == "Champions"
    assert page.locator("#rfm-default button").count() == 0
    assert not errors
