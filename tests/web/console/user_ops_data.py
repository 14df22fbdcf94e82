"""Five buyers with hand-picked purchases, for the RFM, user stages and tags pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from opsloop.runtime import Runtime
from tests.web.console.event_log import load_events


def buyer_events(today: dt.date) -> list[dict[str, Any]]:
    """Buyer `b<k>` (k = 1..5) buys k times, 10.0 each, on the k days ending `6 - k` days before today.

    So every buyer is first seen 5 days ago; b5 bought last (yesterday) and most often, b1 least recently and least
    often. With 5 buyers the i-th in order gets score i (floor(5 (i - 1) / 5) + 1 = i), so b<k> sits in cell
    R k, F k and spends 10 k: b5 Champions (R5 F5), b4 Loyal (R4 F4), b3 Need Attention (R3 F3), b2 and b1
    Hibernating (R2 F2, R1 F1)."""
    events: list[dict[str, Any]] = []
    for k in range(1, 6):
        last = today - dt.timedelta(days=6 - k)
        for j in range(k):
            day = last - dt.timedelta(days=j)
            stamp = dt.datetime.combine(day, dt.time(11), tzinfo=dt.UTC).isoformat()
            events.append(
                {"event": "purchase", "distinct_id": f"b{k}", "timestamp": stamp, "properties": {"revenue": 10.0}}
            )
    return events


def load_buyers(runtime: Runtime, project_id: int) -> dt.date:
    """Load the five buyers into a project (UTC); returns today."""
    today = dt.datetime.now(dt.UTC).date()
    load_events(runtime, project_id, buyer_events(today))
    return today
