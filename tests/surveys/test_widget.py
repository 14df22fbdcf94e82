"""The widget in real headless Chromium: a product page on one loopback origin includes the script from a real
opsloop server on another; the survey is shown, answered (branching followed, answers stored, events captured),
dismissed, and not shown again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.surveys.factories import nps_survey

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "survey-widget.png"


class ProductPages:
    """A stand-in product: serves /page?who=ID, a page that includes the opsloop widget for that person."""

    def __init__(self, opsloop_url: str, token: str) -> None:
        opsloop, key = opsloop_url, token

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                who = self.path.split("who=", 1)[-1]
                html = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Product</title></head>"
                    "<body><h1>Acme dashboard</h1><p>Your orders are on their way.</p>"
                    f"<script src='{opsloop}/static/surveys.js' data-token='{key}' data-distinct-id='{who}'"
                    " async></script></body></html>"
                )
                body = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def product(live_server: LiveServer) -> Iterator[ProductPages]:
    pages = ProductPages(live_server.url, live_server.project.token)
    yield pages
    pages.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Page]:
    """A small window on the session's shared Chromium (tests/conftest.py)."""
    context = chromium.new_context(viewport={"width": 900, "height": 560}, locale="en-US")
    yield context.new_page()
    context.close()


def test_widget_shown_answered_dismissed_and_not_shown_again(
    live_server: LiveServer, product: ProductPages, page: Page
) -> None:
    server = live_server
    project = server.project
    headers = {"Authorization": f"Bearer {project.api_key}"}
    base = f"/api/projects/{project.project.id}/surveys"
    sid = server.client.post(base, json=nps_survey(), headers=headers).json()["id"]
    assert server.client.post(f"{base}/{sid}/activate", headers=headers).status_code == 200

    # ann: the survey appears as a labelled dialog with an accessible 0-10 radio group.
    page.goto(f"{product.url}/page?who=ann")
    dialog = page.get_by_role("dialog", name="How are we doing?")
    expect(dialog).to_be_visible()
    group = dialog.get_by_role("radiogroup", name="How likely are you to recommend us?")
    expect(group.get_by_role("radio")).to_have_count(11)
    # Required: "Next" without an answer shows an error, nothing is posted.
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("alert")).to_have_text("Please answer this question.")
    # Keyboard: focus the first score, move with the arrow keys to 3.
    group.get_by_role("radio", name="0", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(group.get_by_role("radio", name="3", exact=True)).to_be_checked()
    page.screenshot(path=str(SCREENSHOT))
    dialog.get_by_role("button", name="Next").click()
    # 3 is a detractor score: the branch asks what went wrong (not "what do you like").
    text = dialog.get_by_label("What went wrong?")
    expect(text).to_be_visible()
    text.fill("<b>Checkout</b> is slow")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    dialog.get_by_role("radio", name="Pro").check()
    dialog.get_by_role("button", name="Next").click()
    dialog.get_by_text("4", exact=True).click()  # the visible label of the visually hidden radio
    dialog.get_by_role("button", name="Submit").click()
    expect(dialog.get_by_role("heading", name="Thank you!")).to_be_visible()

    results = server.client.get(f"{base}/{sid}/results", headers=headers).json()
    assert (results["shown"], results["completed"], results["partial"]) == (1, 1, 0)
    assert results["questions"][1]["open_text"][0]["text"] == "<b>Checkout</b> is slow"
    assert results["questions"][2]["answers"] == 0  # "what do you like" was skipped by the branching
    assert [c["count"] for c in results["questions"][3]["distribution"]] == [0, 1]

    # Answered: on the next page load ann is not asked again.
    page.goto(f"{product.url}/page?who=ann")
    page.wait_for_function("window.opsloopSurveys !== undefined")
    # trigger() resolves with the surveys the server offers (null when one is already open): none.
    assert page.evaluate("window.opsloopSurveys.trigger(null).then((s) => (s === null ? -1 : s.length))") == 0
    expect(page.get_by_role("dialog")).to_have_count(0)

    # bob: shown, dismissed with Escape, and not shown again.
    page.goto(f"{product.url}/page?who=bob")
    expect(page.get_by_role("dialog", name="How are we doing?")).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith(f"/api/surveys/{sid}/dismissed")) as dismissed:
        page.keyboard.press("Escape")
    assert dismissed.value.ok
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.goto(f"{product.url}/page?who=bob")
    page.wait_for_function("window.opsloopSurveys !== undefined")
    assert page.evaluate("window.opsloopSurveys.trigger(null).then((s) => (s === null ? -1 : s.length))") == 0
    expect(page.get_by_role("dialog")).to_have_count(0)

    rows = server.sql(
        "select event, distinct_id, properties->>'survey_answer_nps' from events "
        "where event like 'survey %' order by event, distinct_id"
    )
    assert rows == [
        ["survey dismissed", "bob", None],
        ["survey sent", "ann", "3"],
        ["survey shown", "ann", None],
        ["survey shown", "bob", None],
    ]
