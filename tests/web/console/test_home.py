"""Home dashboard page: empty state, the KPI JSON on a real event log, the period switch and the KPI settings."""

from __future__ import annotations

import datetime as dt
import re

from opsloop.accounts.roles import Role
from opsloop.dashboards.kpi_settings import load_kpi_config
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import XSS, load_events


def _at(day: dt.date, hour: int) -> str:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC).isoformat()


def small_log(today: dt.date) -> list[dict[str, object]]:
    """UTC project. Y = yesterday, the last day of the default 7-day period Y-6 .. Y; previous: Y-13 .. Y-7.

    a and b first appear on Y (new in the period), c on Y-8 (new in the previous period);
    a buys for 30 on Y, c for 12.5 on Y-8 (the purchase event and revenue property are the defaults)."""
    y = today - dt.timedelta(days=1)
    before = y - dt.timedelta(days=8)
    return [
        {"event": "$pageview", "distinct_id": "a", "timestamp": _at(y, 9)},
        {"event": "purchase", "distinct_id": "a", "timestamp": _at(y, 10), "properties": {"revenue": 30}},
        {"event": "$pageview", "distinct_id": "b", "timestamp": _at(y, 11)},
        {"event": "$pageview", "distinct_id": "c", "timestamp": _at(before, 9)},
        {"event": "purchase", "distinct_id": "c", "timestamp": _at(before, 10), "properties": {"revenue": 12.5}},
        {"event": XSS, "distinct_id": "c", "timestamp": _at(before, 11)},
    ]


def test_home_without_events_says_how_to_send_the_first(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com", Role.viewer)
    html = client.get(f"/projects/{console.pid}/home").text
    assert "Send your first event" in html
    assert console.project.token in html  # the snippet carries the capture token
    assert 'id="kpi-page"' not in html  # no KPI fetch on an empty project
    assert "KPI settings" not in html  # viewers do not get the settings form
    # Home is where the project list and the project switcher lead.
    assert f'<a href="/projects/{console.pid}/home">Shop</a>' in client.get("/projects").text


def test_home_page_is_a_shell_that_fetches_the_indicators(console: ConsoleHarness) -> None:
    load_events(console.runtime, console.pid, small_log(dt.date.today()))
    client = console.signed_in("ana@example.com", Role.viewer)
    html = client.get(f"/projects/{console.pid}/home?days=30").text
    assert f"/projects/{console.pid}/home/kpis?days=30" in html  # the page's script fetches this
    assert 'aria-current="true">Last 30 days' in html
    assert "Computing the indicators" in html  # loading state until the JSON arrives
    assert "Timezone" in html and "UTC" in html
    report = client.get(f"/projects/{console.pid}/home/kpis?days=7").json()
    assert report["days"] == 7 and report["timezone"] == "UTC"
    # New persons: a and b in the period, c in the previous one (see small_log).
    assert (report["new_persons"]["value"], report["new_persons"]["previous"]) == (2, 1)
    assert report["new_persons"]["change_percent"] == 100.0
    # Revenue: a's 30 in the period, c's 12.5 before: change 17.5 = +140 %.
    assert (report["revenue"]["value"], report["revenue"]["previous"]) == (30, 12.5)
    assert report["revenue"]["change_percent"] == 140.0
    assert len(report["dau"]["series"]) == 7  # one sparkline point per day
    # Only 7 and 30 days are offered; anything else falls back to 7.
    assert client.get(f"/projects/{console.pid}/home/kpis?days=13").json()["days"] == 7


def test_kpi_settings_offer_catalogue_names_and_need_an_operator(console: ConsoleHarness) -> None:
    load_events(console.runtime, console.pid, small_log(dt.date.today()))
    viewer = console.signed_in("vi@example.com", Role.viewer)
    form = {"funnel_steps": "$pageview\npurchase", "purchase_event": "purchase", "revenue_property": "revenue"}
    token = console.csrf(viewer, f"/projects/{console.pid}/home")
    assert viewer.post(f"/projects/{console.pid}/home/settings", data={**form, "csrf_token": token}).status_code == 403

    operator = console.signed_in("op@example.com", Role.operator)
    html = operator.get(f"/projects/{console.pid}/home").text
    # Before the catalogue is computed (the page never starts that: minutes on a large project), event names
    # come from a count of the events table, most frequent first; property names wait for the catalogue.
    assert re.findall(r'<option value="([^"]+)">', html) == [
        "$pageview",
        "purchase",
        XSS.replace("<", "&lt;").replace(">", "&gt;"),
    ]
    assert console.runtime.catalogue.refreshed_at(console.pid) is None
    console.runtime.catalogue.refresh(console.pid)
    html = operator.get(f"/projects/{console.pid}/home").text
    assert '<option value="purchase">' in html and '<option value="revenue">' in html  # from the catalogue
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html  # an event name is text
    token = console.csrf(operator, f"/projects/{console.pid}/home")
    answer = operator.post(f"/projects/{console.pid}/home/settings", data={**form, "csrf_token": token})
    assert answer.status_code == 303
    config = load_kpi_config(console.runtime.metadata, console.pid)
    assert config.core_funnel is not None and [s.event for s in config.core_funnel.steps] == ["$pageview", "purchase"]
    assert "KPI settings saved." in operator.get(answer.headers["location"]).text

    bad = operator.post(
        f"/projects/{console.pid}/home/settings", data={**form, "funnel_steps": "purchase", "csrf_token": token}
    )
    assert bad.status_code == 400 and "funnel_steps: give at least 2 steps" in bad.text
    bad = operator.post(
        f"/projects/{console.pid}/home/settings", data={**form, "purchase_event": "buy\x07now", "csrf_token": token}
    )
    assert bad.status_code == 400 and "purchase_event" in bad.text


def test_other_projects_home_is_not_found(console: ConsoleHarness) -> None:
    other = console.runtime.projects.create("Other")
    client = console.signed_in("ana@example.com", Role.admin)
    assert client.get(f"/projects/{other.project.id}/home").status_code == 404
    assert client.get(f"/projects/{other.project.id}/home/kpis").status_code == 404
