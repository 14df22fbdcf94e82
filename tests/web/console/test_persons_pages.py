"""Persons and events pages: search, paging, the person page and its timeline, the live view, escaping, isolation."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re

from opsloop.accounts.roles import Role
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import XSS, load_events, shop_events

TODAY = dt.date(2026, 3, 10)


def _person_links(page: str) -> list[str]:
    return [htmllib.unescape(m) for m in re.findall(r'/person\?id=([^"]+)">', page)]


def test_search_by_distinct_id_and_property_with_pages(console: ConsoleHarness) -> None:
    # 60 persons user-000 .. user-059; plan "pro" for every 4th one (n % 4 == 0): 15 persons.
    load_events(console.runtime, console.pid, shop_events(TODAY, persons=60))
    client = console.signed_in("vi@example.com", Role.viewer)
    base = f"/projects/{console.pid}/persons"
    first = client.get(base).text
    assert len(_person_links(first)) == 50 and "Next page" in first  # 50 a page, ordered by distinct id
    second = client.get(f"{base}?page=2").text
    assert _person_links(second) == [f"user-{n:03d}" for n in range(50, 60)] and "Next page" not in second
    # Distinct id contains "USER-01" (any case): user-010 .. user-019.
    assert _person_links(client.get(f"{base}?q=USER-01").text) == [f"user-{n:03d}" for n in range(10, 20)]
    pro = _person_links(client.get(f"{base}?key=plan&value=pro").text)
    assert pro == [f"user-{n:03d}" for n in range(0, 60, 4)]
    # Both together: pro persons whose id contains "user-02": 020, 024, 028.
    assert _person_links(client.get(f"{base}?q=user-02&key=plan&value=pro").text) == [
        "user-020",
        "user-024",
        "user-028",
    ]
    assert "No person matches" in client.get(f"{base}?key=plan&value=enterprise").text
    bad = client.get(f"{base}?page=0")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("query.page:")


def _at(hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, 3, 9, hour, minute, tzinfo=dt.UTC).isoformat()


def test_person_page_shows_ids_dates_and_timeline_newest_first(console: ConsoleHarness) -> None:
    events = [
        {"event": "$pageview", "distinct_id": "anon-1", "timestamp": _at(8), "properties": {"$current_url": "/a"}},
        {
            "event": "$identify",
            "distinct_id": "ana",
            "timestamp": _at(9),
            "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}},
        },
    ]
    # 60 more events for ana, one a minute from 10:00: the timeline has 2 pages of 50.
    events += [
        {"event": f"step_{i:02d}", "distinct_id": "ana", "timestamp": _at(10 + i // 60, i % 60)} for i in range(60)
    ]
    load_events(console.runtime, console.pid, events)
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/person?id=anon-1").text
    assert "<code>ana</code>, <code>anon-1</code>" in page  # every distinct id of the merged person
    assert "<dt>plan</dt><dd>pro</dd>" in page
    assert "<dt>First seen</dt><dd>2026-03-09 08:00</dd>" in page  # UTC project
    assert "<dt>Last seen</dt><dd>2026-03-09 10:59</dd>" in page
    assert "<dt>Events</dt><dd>62</dd>" in page
    names = re.findall(r'<code class="event-name">([^<]+)</code>', page)
    assert names[:3] == ["step_59", "step_58", "step_57"] and len(names) == 50
    older = client.get(f"/projects/{console.pid}/person?id=ana&page=2").text
    assert re.findall(r'<code class="event-name">([^<]+)</code>', older)[-2:] == ["$identify", "$pageview"]
    assert "Newer events" in older and "Older events" not in older
    assert client.get(f"/projects/{console.pid}/person?id=nobody").status_code == 404


def test_event_and_property_text_is_escaped(console: ConsoleHarness) -> None:
    evil = XSS + "<img src=x onerror=alert(2)>"
    load_events(
        console.runtime,
        console.pid,
        [{"event": evil, "distinct_id": evil, "timestamp": _at(8), "properties": {evil: evil, "$set": {evil: evil}}}],
    )
    client = console.signed_in("vi@example.com", Role.viewer)
    pages = [
        f"/projects/{console.pid}/person?id=" + evil.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20"),
        f"/projects/{console.pid}/events",
        f"/projects/{console.pid}/persons?q=script",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "<script>alert" not in response.text and "<img src=x" not in response.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text, path
    # The live view's JSON carries the raw text; its script inserts it with textContent.
    live = client.get(f"/projects/{console.pid}/events/latest").json()
    assert live["events"][0]["event"] == evil


def test_live_events_filter_and_refresh_json(console: ConsoleHarness) -> None:
    load_events(console.runtime, console.pid, shop_events(TODAY, persons=40))
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/events?event=purchase").text
    assert set(re.findall(r'<code class="event-name">([^<]+)</code>', page)) == {"purchase"}
    assert 'id="live-toggle"' in page and "Refreshes every 5 seconds." in page
    rows = client.get(f"/projects/{console.pid}/events/latest?event=signed_up").json()["events"]
    assert len(rows) == 40 and {r["event"] for r in rows} == {"signed_up"}  # one sign-up per person
    times = [r["time"] for r in client.get(f"/projects/{console.pid}/events/latest").json()["events"]]
    assert times == sorted(times, reverse=True) and len(times) == 50


def test_other_projects_persons_are_not_found(console: ConsoleHarness) -> None:
    other = console.runtime.projects.create("Other")
    load_events(console.runtime, other.project.id, [{"event": "x", "distinct_id": "theirs", "timestamp": _at(8)}])
    client = console.signed_in("ana@example.com", Role.admin)
    for path in ["/persons", "/person?id=theirs", "/events", "/events/latest"]:
        assert client.get(f"/projects/{other.project.id}{path}").status_code == 404, path
    # Their distinct id looked up in our project: not found.
    assert client.get(f"/projects/{console.pid}/person?id=theirs").status_code == 404
    assert client.get(f"/projects/{console.pid}/events/latest").json()["events"] == []
