"""The console journey of an operations lead, in one browser session, on `opsloop demo`'s own account and data.

Sign in with the credentials the demo writes, open the home dashboard, build and save a funnel and a retention
insight, put both on a new dashboard, read it in Chinese and Spanish, sign out. Then a viewer cannot create or
delete anything, and a member of another project can open neither this project's pages nor its API.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from opsloop.accounts.roles import Role
from opsloop.config import Settings
from opsloop.demo.generator import DemoSpec
from opsloop.demo.loader import CREDENTIALS_FILE, load_demo
from opsloop.runtime import Runtime
from tests.conftest import free_port, start_server
from tests.web.console.conftest import PASSWORD, sign_in_with_browser


@dataclass
class Demo:
    """A live server on a data dir loaded by the demo loader, and the credentials file it wrote."""

    url: str
    runtime: Runtime
    credentials: dict[str, Any]


@pytest.fixture
def demo(make_settings: Callable[..., Settings]) -> Iterator[Demo]:
    """A small demo product (300 persons over 45 days ending today) loaded the way `opsloop demo` loads it."""
    server, thread, runtime = start_server(make_settings(port=free_port()))
    spec = DemoSpec(persons=300, days=45, seed=11, end_date=dt.datetime.now(dt.UTC).date())
    load_demo(runtime, spec)
    credentials = json.loads((runtime.settings.resolved_data_dir / CREDENTIALS_FILE).read_text())
    yield Demo(f"http://127.0.0.1:{runtime.settings.port}", runtime, credentials)
    server.should_exit = True
    thread.join(timeout=30)


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _run_and_save(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.click("button[data-run]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=alert]").count() == 0, page.locator("[role=alert]").inner_text()
    page.wait_for_selector("#insight-chart[data-drawn=true]", timeout=30_000)
    assert page.locator(".result-table tbody tr").count() > 0
    page.fill("#insight-name", name)
    with page.expect_navigation():
        page.click("text=Save insight")
    page.wait_for_load_state("networkidle")
    assert page.locator("[role=status].alert-ok").inner_text() == "Insight saved."


def test_demo_account_journey(demo: Demo, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    pid = demo.credentials["project_id"]
    base = f"{demo.url}/projects/{pid}"
    sign_in_with_browser(page, demo.url, demo.credentials["console_email"], demo.credentials["console_password"])

    # The home dashboard of the demo project: ten indicators, each drawn.
    _open(page, f"{base}/home")
    page.wait_for_selector(".kpi-card .kpi-spark .main-svg", timeout=30_000)
    assert page.locator(".kpi-card").count() == 10

    # A funnel and a retention insight, built through their forms and saved.
    _open(page, f"{base}/insights/funnel")
    page.fill("#step-1", "view_item")
    page.fill("#step-2", "add_to_cart")
    page.click("text=+ Add step")
    page.locator("input[name=step]").nth(2).fill("purchase")
    page.select_option("#range", "last_30")
    _run_and_save(page, "Shopping funnel")
    _open(page, f"{base}/insights/retention")
    page.fill("#start_event", "signed_up")
    page.fill("#return_event", "$any")
    page.select_option("#period", "week")
    _run_and_save(page, "Weekly retention")

    # Both on a new dashboard, drawn by Plotly.
    page.click("nav.sidebar >> text=Dashboards")
    page.fill("#dashboard-name", "Morning check")
    page.click("text=Create dashboard")
    page.wait_for_load_state("networkidle")
    for label in ("Shopping funnel (funnel)", "Weekly retention (retention)"):
        page.select_option("#insight_id", label=label)
        page.click("text=Add to dashboard")
        page.wait_for_load_state("networkidle")
    assert page.locator(".tile h2 a").all_inner_texts() == ["Shopping funnel", "Weekly retention"]
    page.wait_for_selector('.tile-chart[data-drawn="true"] >> nth=1', timeout=30_000)

    # The same dashboard in Chinese, then in Spanish.
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    assert "看板" in page.locator("nav.sidebar").inner_text()
    with page.expect_navigation():
        page.select_option("#language-select", "es")
    assert "Paneles" in page.locator("nav.sidebar").inner_text()
    assert page.locator(".tile h2 a").all_inner_texts() == ["Shopping funnel", "Weekly retention"]

    page.click("details.user-menu summary")
    page.click("text=Cerrar sesión")
    page.wait_for_url("**/login")
    _open(page, f"{base}/home")
    assert page.url.split("?")[0].endswith("/login")  # signed out: the pages ask to sign in again
    assert errors == []


def test_a_viewer_reads_but_cannot_change_and_another_project_stays_closed(demo: Demo, page: Any) -> None:
    runtime, pid = demo.runtime, demo.credentials["project_id"]
    users = runtime.accounts.users
    viewer = users.create("vera@example.com", PASSWORD, display_name="Vera")
    users.set_role(pid, viewer.id, Role.viewer)
    other = runtime.projects.create("Other shop")
    outsider = users.create("otto@example.com", PASSWORD, display_name="Otto")
    users.set_role(other.project.id, outsider.id, Role.admin)
    base = f"{demo.url}/projects/{pid}"

    # The viewer sees the dashboards page without the controls to create or delete, and the server refuses
    # the request even when it is sent anyway.
    sign_in_with_browser(page, demo.url, "vera@example.com")
    _open(page, f"{base}/dashboards")
    assert page.locator("#dashboard-name").count() == 0
    _open(page, f"{base}/insights/trends")
    assert page.locator("button:has-text('Save insight')").count() == 0
    status = page.evaluate(
        """async (url) => (await window.opsloopFetch(url, {method: 'POST',
               headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=Sneaky'})).status""",
        f"{base}/dashboards",
    )
    assert status == 403
    page.click("details.user-menu summary")
    page.click("text=Sign out")
    page.wait_for_url("**/login")

    # A member of another project gets "not found" for this project's pages, and its API refuses their key.
    sign_in_with_browser(page, demo.url, "otto@example.com")
    response = page.goto(f"{base}/home")
    assert response is not None and response.status == 404
    other_key = runtime.projects.create_api_key(other.project.id)
    answer = httpx.post(
        f"{demo.url}/api/projects/{pid}/query",
        headers={"Authorization": f"Bearer {other_key}"},
        json={"kind": "trends", "series": [{"event": "$pageview"}]},
    )
    assert answer.status_code == 403
