"""A tiny shop for the segment and catalogue page tests, small enough to work every number out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opsloop.runtime import Runtime
from tests.web.console.event_log import load_events

EVIL = "<script>window.pwned=1</script> buyers"
#: Who did what, relative to today (UTC):
#: - ann: pro, ES, born 1990; bought 3 and 2 days ago (twice in the last 30 days)
#: - bob: free, CN; bought 5 days ago (once)
#: - cat: pro, ES; only viewed the shop, 1 day ago
#: - dan: free, GB; bought 100 days ago (not in the last 30 days)
PEOPLE = {
    "ann": ({"plan": "pro", "country": "ES", "birth_year": 1990}, [("purchase", 3), ("purchase", 2)]),
    "bob": ({"plan": "free", "country": "CN"}, [("purchase", 5)]),
    "cat": ({"plan": "pro", "country": "ES"}, [("view_item", 1)]),
    "dan": ({"plan": "free", "country": "GB"}, [("purchase", 100)]),
}


def shop(runtime: Runtime, project_id: int) -> None:
    """Load the four persons' events (each first event carries the person's properties)."""
    now = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    events: list[dict[str, Any]] = []
    for name, (properties, done) in PEOPLE.items():
        for i, (event, days_ago) in enumerate(done):
            extra: dict[str, Any] = {"amount": 20} if event == "purchase" else {"item": "socks"}
            if i == 0:
                extra["$set"] = properties
            when = now - dt.timedelta(days=days_ago)
            events.append({"event": event, "distinct_id": name, "timestamp": when.isoformat(), "properties": extra})
    assert load_events(runtime, project_id, events) == len(events)


def bought(times: int = 1, days: int = 30, op: str = "gte") -> dict[str, Any]:
    """A definition: did `purchase` (at least) `times` times in the last `days` days."""
    condition = {"type": "event", "event": "purchase", "count_op": op, "count": times, "within_days": days}
    return {"type": "group", "operator": "and", "conditions": [condition]}
