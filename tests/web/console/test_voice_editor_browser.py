"""The survey editor and the requirement forms in a real headless Chromium: an NPS survey with a branch and a
Chinese translation is written, saved, activated; a requirement is created, feedback linked, reach goes up."""

from __future__ import annotations

from typing import Any

from opsloop.surveys.management import SurveyManager
from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser
from tests.web.console.test_voice_browser import UNLABELLED
from tests.web.console.voice_data import seed_voice


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_survey_editor_and_requirement_forms_in_chromium(live_console: LiveConsole, page: Any) -> None:
    runtime, pid = live_console.runtime, live_console.project.project.id
    data = seed_voice(runtime, pid, themes=False)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in_with_browser(page, live_console.url, live_console.email)
    base = f"{live_console.url}/projects/{pid}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # -- the survey: NPS with a Chinese translation, detractors (0-6) go to a follow-up, the others end --
    page.goto(f"{base}/surveys")
    _submit(page, f'a[href="/projects/{pid}/surveys/new"]')
    page.fill("#s-name", "Checkout NPS")
    page.fill('input[name="q-0-text-en"]', "How likely are you to recommend our checkout?")
    page.fill('input[name="q-0-text-zh_Hans"]', "您向朋友推荐我们结账流程的可能性有多大？")
    page.select_option("#new-type", "open_text")
    _submit(page, 'button[name=op][value="add"]')
    page.fill('input[name="q-1-text-en"]', "What went wrong?")
    page.fill('input[name="q-1-text-zh_Hans"]', "哪里出了问题？")
    page.fill('input[name="q-0-b-0-max"]', "6")
    page.select_option('select[name="q-0-b-0-goto"]', "q2")
    page.select_option('select[name="q-0-next"]', "$end")
    page.fill("#t-rollout", "50")
    page.fill("#s-hide", "30")
    _submit(page, 'button[name=op][value="refresh"]')
    preview = page.locator(".survey-preview")
    assert "How likely are you to recommend our checkout?" in preview.inner_text()
    assert page.locator("#preview-q1 .preview-branch").inner_text() == "↳ If the answer is 0–6: go to q2"
    assert page.locator("#preview-q1 .preview-scale span").count() == 11  # 0..10
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=str(SCREENSHOTS / "survey-editor-en.png"), full_page=True)
    _submit(page, ".editor-actions button.primary")
    assert "Survey saved as a draft." in page.locator(".alert-ok").inner_text()
    [survey] = SurveyManager(runtime.metadata).list(pid)[1:]  # the seeded survey is the first
    assert survey.status == "draft"
    nps = survey.definition["questions"][0]
    assert nps["branches"] == [{"max": 6, "goto": "q2"}] and nps["next"] == "$end"
    assert nps["text"]["zh_Hans"] == "您向朋友推荐我们结账流程的可能性有多大？"

    # The same draft in the Chinese console: the editor and its preview speak Chinese.
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    _submit(page, f'a[href="/projects/{pid}/surveys/{survey.id}/edit"]')
    assert page.locator("h1").inner_text().startswith("编辑问卷")
    assert "您向朋友推荐我们结账流程的可能性有多大？" in page.locator(".survey-preview").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "survey-editor-zh.png"), full_page=True)
    page.goto(f"{base}/surveys/{survey.id}")
    _submit(page, f'form[action="/projects/{pid}/surveys/{survey.id}/status"] button')
    assert SurveyManager(runtime.metadata).get(pid, survey.id).status == "active"
    assert page.locator(f'a[href="/projects/{pid}/surveys/{survey.id}/edit"]').count() == 0  # no longer editable

    # -- the requirement: created from the board, feedback linked from its page, reach counted --
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    page.goto(f"{base}/requirements")
    _submit(page, f'a[href="/projects/{pid}/requirements/new"]')
    page.fill("#r-title", "One-tap card payments")
    page.fill("#r-description", "Paying by card fails or takes too long at checkout.")
    page.select_option("#r-impact", "2.0")
    page.fill("#r-confidence", "80")
    page.fill("#r-effort", "2")
    _submit(page, "form.requirement-form button.primary")
    assert page.locator("h1").inner_text() == "One-tap card payments"
    assert page.locator("#reach-value").inner_text() == "0"
    page.fill("#fq", "credit card")
    _submit(page, "form.link-search button")
    candidates = page.locator(".candidate-list li")
    assert candidates.count() >= 1
    assert "Checkout fails when I pay with my credit card" in candidates.first.inner_text()
    _submit(page, ".candidate-list li >> nth=0 >> button")
    # The linked item was written by user-0, a known person: reach 1; RICE 1 x 2 x 80% / 2 = 0.8.
    assert page.locator("#reach-value").inner_text() == "1"
    assert "Checkout fails when I pay with my credit card" in page.locator("#evidence .answers").inner_text()
    requirement = next(r for r in runtime.requirements.list(pid).items if r.title == "One-tap card payments")
    assert requirement.score == 0.8 and data.item_ids[0] in [
        i.id for i in runtime.requirements.linked_items(pid, requirement.id)
    ]
    _submit(page, f'a[href="/projects/{pid}/requirements/{requirement.id}/edit"]')
    assert page.locator("#r-reach").inner_text() == "1"
    assert page.evaluate(UNLABELLED) == []
    page.screenshot(path=str(SCREENSHOTS / "requirement-edit-en.png"), full_page=True)
    assert page.evaluate("window.pwned === undefined")
    assert not errors
