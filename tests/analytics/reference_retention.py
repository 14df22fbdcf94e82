"""Retention in plain Python, straight from the definitions in docs/metrics.md (no SQL, no engine)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict
from typing import Any

from opsloop.analytics.timeframe import next_period, period_start, shift_periods

Resolved = list[tuple[str, str, dt.datetime, dict[str, Any]]]
OTHER = "$other"


def _matches(name: str, props: dict[str, Any], event: str, filters: dict[str, Any]) -> bool:
    """The event has the name (or `$any`) and every `eq` filter (property -> value) holds."""
    return (event == "$any" or name == event) and all(props.get(k) == v for k, v in filters.items())


def _text(value: Any) -> str | None:
    """A property as the engines read it: text as is, numbers as written, missing / null as unset."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _value_order(value: str | None) -> tuple[int, str]:
    if value is None:
        return (2, "")
    return (1, "") if value == OTHER else (0, value)


def retention(
    events: Resolved,
    *,
    start_event: str,
    return_event: str = "$any",
    period: str = "day",
    intervals: int = 8,
    retention_type: str = "first_time",
    cumulative: bool = False,
    date_from: dt.date,
    date_to: dt.date,
    timezone: str = "UTC",
    week_start: str = "monday",
    filters: dict[str, Any] | None = None,
    start_filters: dict[str, Any] | None = None,
    return_filters: dict[str, Any] | None = None,
    breakdown: str | None = None,
    person_breakdown: dict[str, Any] | None = None,
    limit: int = 10,
) -> list[tuple[str, str | None, int, list[int]]]:
    """Cohorts as (date, breakdown value, size, counts), ordered by breakdown value then date.

    `breakdown` names an event property (the start event's value); `person_breakdown` maps persons to their
    value instead. Filters are `eq` conditions on event properties."""
    zone = zoneinfo.ZoneInfo(timezone)
    start_rules = {**(filters or {}), **(start_filters or {})}
    return_rules = {**(filters or {}), **(return_filters or {})}

    def local(ts: dt.datetime) -> dt.date:
        return ts.astimezone(zone).date()

    def bucket(day: dt.date) -> dt.date:
        return period_start(day, period, week_start)  # type: ignore[arg-type]

    def in_range(ts: dt.datetime) -> bool:
        return date_from <= local(ts) <= date_to

    def value_of(person: str, props: dict[str, Any]) -> str | None:
        if person_breakdown is not None:
            return _text(person_breakdown.get(person))
        return _text(props.get(breakdown)) if breakdown else None

    def first_key(item: tuple[dt.datetime, str | None]) -> tuple[dt.datetime, bool, str]:
        # Earliest first; at the same instant a set value, then the smallest text.
        return (item[0], item[1] is None, item[1] or "")

    starts: dict[str, list[tuple[dt.datetime, str | None]]] = defaultdict(list)
    returns: dict[str, set[dt.date]] = defaultdict(set)
    for person, name, ts, props in events:
        if _matches(name, props, start_event, start_rules) and local(ts) <= date_to:
            starts[person].append((ts, value_of(person, props)))
        if _matches(name, props, return_event, return_rules) and in_range(ts):
            returns[person].add(bucket(local(ts)))

    # memberships: (person, cohort period) -> breakdown value
    members: dict[tuple[str, dt.date], str | None] = {}
    for person, items in starts.items():
        if retention_type == "first_time":
            ts, value = min(items, key=first_key)
            if in_range(ts):
                members[(person, bucket(local(ts)))] = value
        else:
            per_period: dict[dt.date, list[tuple[dt.datetime, str | None]]] = defaultdict(list)
            for ts, value in items:
                if in_range(ts):
                    per_period[bucket(local(ts))].append((ts, value))
            for cohort, found in per_period.items():
                members[(person, cohort)] = min(found, key=first_key)[1]

    if breakdown or person_breakdown is not None:
        sizes = Counter(v for v in members.values() if v is not None)
        top = {v for v, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]}
        members = {k: (None if v is None else v if v in top else OTHER) for k, v in members.items()}
        values = sorted(set(members.values()), key=_value_order)
    else:
        values = [None]

    cohort_dates = []
    day = bucket(date_from)
    while day <= date_to:
        cohort_dates.append(day)
        day = next_period(day, period)  # type: ignore[arg-type]

    out = []
    for value in values:
        for cohort in cohort_dates:
            persons = [p for (p, c), v in members.items() if c == cohort and v == value]
            counts = [len(persons)]
            for k in range(1, intervals):
                target = shift_periods(cohort, period, k)  # type: ignore[arg-type]
                if next_period(target, period) > date_to + dt.timedelta(days=1):  # type: ignore[arg-type]
                    break
                if cumulative:
                    counts.append(sum(1 for p in persons if any(r >= target for r in returns[p])))
                else:
                    counts.append(sum(1 for p in persons if target in returns[p]))
            out.append((cohort.isoformat(), value, len(persons), counts))
    return out
