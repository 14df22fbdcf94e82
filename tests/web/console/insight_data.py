"""A small, realistic event log for the insight pages' tests, captured through the real capture API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opsloop.projects import NewProject
from opsloop.runtime import Runtime

#: An event name (and property) that would run script if a page forgot to escape it.
EVIL = "<script>window.pwned=1</script>"


def shop_events(today: dt.date) -> list[dict[str, Any]]:
    """Three shoppers over the last three days (UTC), plus one event with a hostile name.

    | person | d-3 (10:00, 10:05, 10:10) | d-2 | d-1 |
    |---|---|---|---|
    | ann | pageview, signup, purchase (amount 30) | pageview | |
    | bob | pageview, signup | | pageview |
    | cat | | pageview | |
    | dan | | | `EVIL` (property `EVIL`: `EVIL`) |
    """

    def at(days_ago: int, minute: int = 0) -> str:
        day = today - dt.timedelta(days=days_ago)
        return dt.datetime.combine(day, dt.time(10, minute), tzinfo=dt.UTC).isoformat()

    rows = [
        ("ann", "pageview", at(3), {"plan": "pro"}),
        ("ann", "signup", at(3, 5), {}),
        ("ann", "purchase", at(3, 10), {"amount": 30}),
        ("ann", "pageview", at(2), {"plan": "pro"}),
        ("bob", "pageview", at(3), {"plan": "free"}),
        ("bob", "signup", at(3, 5), {}),
        ("bob", "pageview", at(1), {"plan": "free"}),
        ("cat", "pageview", at(2), {"plan": "free"}),
        ("dan", EVIL, at(1), {EVIL: EVIL}),
    ]
    return [{"event": e, "distinct_id": who, "timestamp": ts, "properties": p} for who, e, ts, p in rows]


def load_events(client: Any, runtime: Runtime, project: NewProject, events: list[dict[str, Any]]) -> None:
    """Send events through `/batch/` with the project's token and wait until they can be queried."""
    response = client.post("/batch/", json={"api_key": project.token, "batch": events})
    assert response.status_code == 200, response.text
    assert runtime.pipeline.wait_flushed(30), "events were not flushed in 30 s"
