"""A small, real event log for console page tests, written through the ingest writer (persons included)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from opsloop.ingest.capture import parse_posthog
from opsloop.runtime import Runtime

XSS = "<script>alert(1)</script>"


def load_events(runtime: Runtime, project_id: int, events: list[dict[str, Any]]) -> int:
    """Write PostHog-style events into a project as the capture endpoint would; returns how many were stored."""
    stored = 0
    for start in range(0, len(events), 500):
        batch = parse_posthog(
            {"batch": events[start : start + 500]},
            project_id,
            dt.datetime.now(dt.UTC),
            max_events=1000,
            max_event_bytes=1 << 20,
            body_bytes=0,
        )
        assert batch.errors == [], batch.errors
        stored += runtime.writer.write_log([batch.record]).stored
    return stored


def _at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC).isoformat()


def shop_events(today: dt.date, persons: int = 40, days: int = 40, seed: int = 7) -> list[dict[str, Any]]:
    """A shop: persons arrive over `days` days before `today`, sign up, come back for a while and buy, then leave.

    Deterministic (seeded). Each person `user-N` gets person properties `plan` (free/pro) and `country`."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(persons):
        did = f"user-{n:03d}"
        first = today - dt.timedelta(days=rng.randint(1, days))
        plan = "pro" if n % 4 == 0 else "free"
        events.append(
            {
                "event": "$pageview",
                "distinct_id": did,
                "timestamp": _at(first, 9),
                "properties": {"$current_url": "/", "$set": {"plan": plan, "country": rng.choice(["ES", "CN", "GB"])}},
            }
        )
        events.append({"event": "signed_up", "distinct_id": did, "timestamp": _at(first, 9, 5), "properties": {}})
        # Each person stays a while, then churns: retention falls with time, as in a real product.
        stop = min(today, first + dt.timedelta(days=rng.choice([0, 2, 6, 10, 20, 40, 80])))
        day = first
        while day < stop:
            day += dt.timedelta(days=rng.choice([1, 1, 2, 3, 5]))
            if day >= stop:
                break
            events.append(
                {
                    "event": "$pageview",
                    "distinct_id": did,
                    "timestamp": _at(day, 10),
                    "properties": {"$current_url": "/shop"},
                }
            )
            if rng.random() < 0.3:
                amount = rng.choice([9.99, 19.5, 49])
                events.append(
                    {
                        "event": "purchase",
                        "distinct_id": did,
                        "timestamp": _at(day, 11),
                        "properties": {"revenue": amount},
                    }
                )
    return events
