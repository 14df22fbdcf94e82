"""Feedback, survey results and requirements pages in a real headless Chromium: escaped text, charts drawn
under the console's Content-Security-Policy, labelled controls, screenshots for the docs."""

from __future__ import annotations

from typing import Any

from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser
from tests.web.console.voice_data import EVIL, seed_voice

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.name)"""


def test_voice_pages_in_chromium(live_console: LiveConsole, page: Any) -> None:
    data = seed_voice(live_console.runtime, live_console.project.project.id)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, live_console.url, live_console.email)
    base = f"{live_console.url}/projects/{live_console.project.project.id}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{base}/feedback")
    assert page.locator("h1").inner_text() == "Feedback"
    # The text with script in it is shown as text, and its script did not run.
    assert page.locator(f"#item-{data.evil_item} blockquote").inner_text() == EVIL
    assert page.evaluate("window.pwned === undefined")
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=str(SCREENSHOTS / "feedback-en.png"), full_page=False)

    page.goto(f"{base}/feedback/themes")
    page.wait_for_selector(".sparkline svg")  # Plotly drew the weekly trends from voice.js
    assert page.locator(".theme").count() >= 2
    assert page.evaluate(UNLABELLED) == []

    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    page.goto(f"{base}/surveys/{data.survey_id}")
    page.wait_for_selector(".chart[data-question=nps] svg")
    assert "净推荐值 +25" in page.locator("#q-nps .score-value").inner_text()
    assert page.locator("#q-nps h2").inner_text() == "您向朋友推荐我们的可能性有多大？"  # the survey speaks Chinese too
    assert page.evaluate("window.pwned === undefined")
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=str(SCREENSHOTS / "survey-results-zh.png"), full_page=False)

    with page.expect_navigation():
        page.select_option("#language-select", "en")
    page.goto(f"{base}/requirements")
    assert page.locator("#col-under_review").inner_text() == "Under review 1"
    assert page.locator(".requirement-card a").inner_text() == "Fix card payments <script>x</script>"
    page.screenshot(path=str(SCREENSHOTS / "requirements-en.png"), full_page=False)
    page.click(".requirement-card a")
    assert page.locator("h1").inner_text() == "Fix card payments <script>x</script>"
    assert page.evaluate(UNLABELLED) == []
    assert not errors
