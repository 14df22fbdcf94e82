"""Trends in plain Python, straight from the definitions in docs/metrics.md (no SQL, no engine)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from typing import Any

from opsloop.analytics.timeframe import next_period, period_start

Resolved = list[tuple[str, str, dt.datetime, dict[str, Any]]]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def aggregate(math_: str, rows: list[tuple[str, dict[str, Any]]], prop: str | None) -> float:
    """One point of a series from its events' (person, properties)."""
    if math_ == "total":
        return float(len(rows))
    if math_ == "persons":
        return float(len({p for p, _ in rows}))
    if math_ == "per_person_avg":
        persons = len({p for p, _ in rows})
        return len(rows) / persons if persons else 0.0
    numbers = [
        float(v[prop]) for _, v in rows if isinstance(v.get(prop), int | float) and not isinstance(v.get(prop), bool)
    ]
    if not numbers:
        return 0.0
    if math_ == "sum":
        return sum(numbers)
    if math_ == "avg":
        return sum(numbers) / len(numbers)
    if math_ == "min":
        return min(numbers)
    if math_ == "max":
        return max(numbers)
    return percentile(numbers, 0.5 if math_ == "median" else 0.9)


def trends(
    events: Resolved,
    *,
    event: str,
    math_: str,
    prop: str | None,
    date_from: dt.date,
    date_to: dt.date,
    interval: str,
    timezone: str,
    week_start: str = "monday",
) -> tuple[list[str], list[float], float]:
    """(bucket labels, values, total) of one series over day / week / month buckets."""
    zone = zoneinfo.ZoneInfo(timezone)
    buckets: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    every: list[tuple[str, dict[str, Any]]] = []
    for person, name, ts, props in events:
        local = ts.astimezone(zone)
        if name != event and event != "$any":
            continue
        if not date_from <= local.date() <= date_to:
            continue
        label = period_start(local.date(), interval, week_start).isoformat()  # type: ignore[arg-type]
        buckets[label].append((person, props))
        every.append((person, props))
    labels = []
    day = period_start(date_from, interval, week_start)  # type: ignore[arg-type]
    while day <= date_to:
        labels.append(day.isoformat())
        day = next_period(day, interval)  # type: ignore[arg-type]
    values = [aggregate(math_, buckets[label], prop) if buckets[label] else 0.0 for label in labels]
    return labels, values, aggregate(math_, every, prop) if every else 0.0
