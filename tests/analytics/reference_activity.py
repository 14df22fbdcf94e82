"""Active users, stickiness and distribution in plain Python, straight from the definitions in docs/metrics.md
(no SQL, no engine): every event is turned into its local date and hour with zoneinfo, then counted."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict
from typing import Any

from opsloop.analytics.runner import run_analysis
from opsloop.analytics.timeframe import ProjectContext, next_period, period_start
from opsloop.query.registry import ANALYSES, parse_query
from tests.analytics.conftest import Engine, EventLog

Resolved = list[tuple[str, str, dt.datetime, dict[str, Any]]]
DAY = dt.timedelta(days=1)


def _local(events: Resolved, event: str, timezone: str) -> list[tuple[str, dt.datetime]]:
    """(person, local wall-clock time) of the matching events."""
    zone = zoneinfo.ZoneInfo(timezone)
    return [(p, ts.astimezone(zone)) for p, name, ts, _ in events if event in ("$any", name)]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + DAY * i for i in range((last - first).days + 1)]


def active_users(
    events: Resolved, *, event: str, date_from: dt.date, date_to: dt.date, timezone: str
) -> dict[str, list[Any]]:
    """`{"dates", "dau", "wau", "mau", "dau_mau"}` by brute force: the set of persons of every window."""
    active: dict[dt.date, set[str]] = defaultdict(set)
    for person, local in _local(events, event, timezone):
        active[local.date()].add(person)
    out: dict[str, list[Any]] = {"dates": [], "dau": [], "wau": [], "mau": [], "dau_mau": []}
    for day in _days(date_from, date_to):
        week = set().union(*(active[day - DAY * k] for k in range(7)))
        month = set().union(*(active[day - DAY * k] for k in range(30)))
        dau = len(active[day])
        out["dates"].append(day.isoformat())
        out["dau"].append(dau)
        out["wau"].append(len(week))
        out["mau"].append(len(month))
        out["dau_mau"].append(dau / len(month) if month else None)
    return out


def _unit(local: dt.datetime, interval: str, week_start: str) -> object:
    """The local hour (wall clock, so a repeated hour is one unit), day or week of a local time."""
    if interval == "hour":
        return local.strftime("%Y-%m-%dT%H:00")
    return period_start(local.date(), interval, week_start)  # type: ignore[arg-type]


def _periods(date_from: dt.date, date_to: dt.date, period: str, week_start: str) -> list[tuple[dt.date, list[dt.date]]]:
    """Each period's label and its days inside the range."""
    if period == "range":
        return [(date_from, _days(date_from, date_to))]
    out = []
    start = period_start(date_from, period, week_start)  # type: ignore[arg-type]
    while start <= date_to:
        end = next_period(start, period) - DAY  # type: ignore[arg-type]
        out.append((start, _days(max(start, date_from), min(end, date_to))))
        start = end + DAY
    return out


def _units_of(days: list[dt.date], interval: str, zone: zoneinfo.ZoneInfo, week_start: str) -> int:
    """How many distinct units the days hold (hours: every local clock hour that some instant of them has)."""
    if interval != "hour":
        return len({period_start(d, interval, week_start) for d in days})  # type: ignore[arg-type]
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(days[-1] + DAY, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    labels = set()
    while start < end:
        labels.add(_unit(start.astimezone(zone), "hour", week_start))
        start += dt.timedelta(minutes=15)
    return len(labels)


def stickiness(
    events: Resolved,
    *,
    event: str,
    interval: str,
    period: str,
    cumulative: bool,
    date_from: dt.date,
    date_to: dt.date,
    timezone: str,
    week_start: str = "monday",
) -> list[tuple[str, int, list[int]]]:
    """(period label, units, counts) per period."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = _local(events, event, timezone)
    out = []
    for label, days in _periods(date_from, date_to, period, week_start):
        inside = set(days)
        units: dict[str, set[object]] = defaultdict(set)
        for person, when in local:
            if when.date() in inside:
                units[person].add(_unit(when, interval, week_start))
        size = _units_of(days, interval, zone, week_start)
        per_count = Counter(len(u) for u in units.values())
        if cumulative:
            counts = [sum(n for k, n in per_count.items() if k >= wanted) for wanted in range(1, size + 1)]
        else:
            counts = [per_count.get(wanted, 0) for wanted in range(1, size + 1)]
        out.append((label.isoformat(), size, counts))
    return out


def distribution(
    events: Resolved,
    *,
    event: str,
    per: str,
    buckets: list[int],
    date_from: dt.date,
    date_to: dt.date,
    timezone: str,
    week_start: str = "monday",
) -> tuple[list[tuple[str, list[tuple[int, int | None, int]]]], list[tuple[int, int]]]:
    """(frequency: per period, (min, max, persons) per bucket; active_days: (days, persons) for 1..days)."""
    local = [(p, when) for p, when in _local(events, event, timezone) if date_from <= when.date() <= date_to]
    frequency = []
    for label, days in _periods(date_from, date_to, per, week_start):
        inside = set(days)
        times = Counter(p for p, when in local if when.date() in inside)
        row = []
        for i, low in enumerate(buckets):
            high = buckets[i + 1] - 1 if i + 1 < len(buckets) else None
            persons = sum(1 for n in times.values() if n >= low and (high is None or n <= high))
            row.append((low, high, persons))
        frequency.append((label.isoformat(), row))
    active: dict[str, set[dt.date]] = defaultdict(set)
    for person, when in local:
        active[person].add(when.date())
    per_days = Counter(len(d) for d in active.values())
    days_total = (date_to - date_from).days + 1
    return frequency, [(n, per_days.get(n, 0)) for n in range(1, days_total + 1)]


def example_log() -> EventLog:
    """The worked example of docs/metrics.md (UTC project).

    alice: pageview 05-01 10:00 (before the range), pageviews 05-06 09:00 and 09:30, pageview 05-08 12:00
    bob:   pageview 05-06 23:59, purchase 05-07 08:00, pageview 05-12 20:00
    carol: pageview 04-10 12:00 (before the range); `c-anon`, later identified as carol: pageview 05-09 07:00
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-05-01T10:00")
        .add("alice", "pageview", "2024-05-06T09:00")
        .add("alice", "pageview", "2024-05-06T09:30")
        .add("alice", "pageview", "2024-05-08T12:00")
        .add("bob", "pageview", "2024-05-06T23:59")
        .add("bob", "purchase", "2024-05-07T08:00")
        .add("bob", "pageview", "2024-05-12T20:00")
        .add("carol", "pageview", "2024-04-10T12:00")
        .add("c-anon", "pageview", "2024-05-09T07:00")
        .merge("c-anon", "carol")
    )


#: The worked example's range: one week, Monday 2024-05-06 to Sunday 2024-05-12.
EXAMPLE_RANGE = {"date_from": "2024-05-06", "date_to": "2024-05-12"}


def run_each(engine: Engine, log: EventLog, queries: list[dict[str, Any]], timezone: str, week_start: str) -> list[Any]:
    """Load a log once and run several queries on it (property tests check many options per random log)."""
    project = engine.load(log)
    ctx = ProjectContext(project, timezone, week_start, dt.date(2024, 12, 31))  # type: ignore[arg-type]
    out = []
    for query in queries:
        model = parse_query(query)
        out.append(run_analysis(ANALYSES[model.kind], engine.store, ctx, model, timeout=60))  # type: ignore[attr-defined]
    return out
