"""A plain-Python reference for lifecycle and growth, written from the definitions in docs/metrics.md.

It shares no code with `opsloop.analytics`: local dates come from zoneinfo, buckets are computed here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

Resolved = tuple[str, str, dt.datetime, dict[str, Any]]


def _bucket(day: dt.date, interval: str, week_start: str) -> dt.date:
    if interval == "month":
        return dt.date(day.year, day.month, 1)
    if interval == "week":
        first = 0 if week_start == "monday" else 6  # Python weekday of the week's first day
        return day - dt.timedelta(days=(day.weekday() - first) % 7)
    return day


def _previous(start: dt.date, interval: str) -> dt.date:
    if interval == "month":
        return dt.date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)
    return start - dt.timedelta(days=7 if interval == "week" else 1)


def _next(start: dt.date, interval: str) -> dt.date:
    if interval == "month":
        return dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start + dt.timedelta(days=7 if interval == "week" else 1)


def _passes(properties: dict[str, Any], filters: Iterable[dict[str, Any]]) -> bool:
    """The event-property filters the property tests use: `eq` and `neq` on text values."""
    for rule in filters:
        value = properties.get(rule["property"])
        if rule.get("op", "eq") == "eq" and value != rule["value"]:
            return False
        if rule.get("op") == "neq" and value == rule["value"]:
            return False
    return True


def reference_lifecycle(
    events: Sequence[Resolved],
    *,
    date_from: dt.date,
    date_to: dt.date,
    event: str = "$any",
    interval: str = "day",
    timezone: str = "UTC",
    week_start: str = "monday",
    filters: Sequence[dict[str, Any]] = (),
) -> dict[str, list[Any]]:
    """`{"dates", "active", "new", "returning", "resurrecting", "dormant"}` by the definitions."""
    zone = zoneinfo.ZoneInfo(timezone)
    active: dict[str, set[dt.date]] = {}
    for person, name, at, properties in events:
        local = at.astimezone(zone).date()
        if local > date_to or (event != "$any" and name != event) or not _passes(properties, filters):
            continue
        active.setdefault(person, set()).add(_bucket(local, interval, week_start))
    dates = []
    day = _bucket(date_from, interval, week_start)
    while day <= date_to:
        dates.append(day)
        day = _next(day, interval)
    out: dict[str, list[Any]] = {k: [] for k in ("active", "new", "returning", "resurrecting", "dormant")}
    for period in dates:
        before = _previous(period, interval)
        counts = dict.fromkeys(out, 0)
        for periods in active.values():
            if period in periods:
                counts["active"] += 1
                if min(periods) == period:
                    counts["new"] += 1
                elif before in periods:
                    counts["returning"] += 1
                else:
                    counts["resurrecting"] += 1
            elif before in periods:
                counts["dormant"] += 1
        for key, value in counts.items():
            out[key].append(value)
    return {"dates": [d.isoformat() for d in dates], **out}


def reference_growth(events: Sequence[Resolved], **query: Any) -> dict[str, list[Any]]:
    """`{"dates", "active", "new", "retained", "resurrected", "churned", "churn_rate", "growth_rate",
    "quick_ratio"}` by the definitions."""
    life = reference_lifecycle(events, **query)
    previous = [r + d for r, d in zip(life["returning"], life["dormant"], strict=True)]

    def div(a: float, b: float) -> float | None:
        return a / b if b else None

    return {
        "dates": life["dates"],
        "active": life["active"],
        "new": life["new"],
        "retained": life["returning"],
        "resurrected": life["resurrecting"],
        "churned": life["dormant"],
        "churn_rate": [div(c, p) for c, p in zip(life["dormant"], previous, strict=True)],
        "growth_rate": [div(a - p, p) for a, p in zip(life["active"], previous, strict=True)],
        "quick_ratio": [
            div(n + r, c) for n, r, c in zip(life["new"], life["resurrecting"], life["dormant"], strict=True)
        ],
    }
