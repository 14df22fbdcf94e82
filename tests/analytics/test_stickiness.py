"""Stickiness on every engine: hand-worked small logs, and agreement with the plain-Python reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics import reference_activity
from tests.analytics.conftest import Engine, EventLog, rollup
from tests.analytics.reference_activity import EXAMPLE_RANGE, example_log


def periods(result: Any) -> list[tuple[str, int, list[int]]]:
    return [(p.date, p.units, p.counts) for p in result.periods]


def test_worked_example(engine: Engine) -> None:
    result = engine.run(example_log(), {"kind": "stickiness", **EXAMPLE_RANGE})
    # Active days in 05-06..05-12: carol 1 (05-09, through c-anon), alice 2 (05-06, 05-08), bob 3 (05-06, 05-07,
    # 05-12); alice's and carol's earlier events are outside the range.
    assert periods(result) == [("2024-05-06", 7, [1, 1, 1, 0, 0, 0, 0])]
    cumulative = engine.run(example_log(), {"kind": "stickiness", "cumulative": True, **EXAMPLE_RANGE})
    assert periods(cumulative) == [("2024-05-06", 7, [3, 2, 1, 0, 0, 0, 0])]
    # Pageviews only: bob's purchase day 05-07 drops out, so bob has 2 days.
    pageviews = engine.run(example_log(), {"kind": "stickiness", "event": "pageview", **EXAMPLE_RANGE})
    assert periods(pageviews) == [("2024-05-06", 7, [1, 2, 0, 0, 0, 0, 0])]


def week_log() -> EventLog:
    """p: Sun 06-02, Mon 06-03, Tue 06-04 twice at one instant; q: Mon 06-03 (also as q-anon), Sat 06-08, Sun 06-09."""
    return (
        EventLog()
        .add("p", "x", "2024-06-02T10:00")
        .add("p", "x", "2024-06-03T10:00")
        .add("p", "x", "2024-06-04T10:00")
        .add("p", "x", "2024-06-04T10:00")
        .add("q", "x", "2024-06-03T11:00")
        .add("q-anon", "x", "2024-06-03T12:00")
        .add("q", "x", "2024-06-08T10:00")
        .add("q", "x", "2024-06-09T10:00")
        .merge("q-anon", "q")
    )


def test_weeks_cut_by_the_range(engine: Engine) -> None:
    query = {"kind": "stickiness", "period": "week", "date_from": "2024-06-03", "date_to": "2024-06-09"}
    sunday = engine.run(week_log(), query, week_start="sunday")
    # Week of Sun 06-02 has 6 days in the range (06-03..06-08): p 06-03, 06-04 (Sunday 06-02 is outside the
    # range); q 06-03 (twice, as q and q-anon), 06-08. Week of Sun 06-09: 1 day, q.
    assert periods(sunday) == [("2024-06-02", 6, [0, 2, 0, 0, 0, 0]), ("2024-06-09", 1, [1])]
    monday = engine.run(week_log(), query, week_start="monday")
    # One Monday week, all in the range: p 2 days, q 3.
    assert periods(monday) == [("2024-06-03", 7, [0, 1, 1, 0, 0, 0, 0])]


def test_weeks_within_months(engine: Engine) -> None:
    log = (
        EventLog()
        .add("p", "x", "2024-04-30T10:00")  # week of 04-29 (in April)
        .add("p", "x", "2024-05-02T10:00")  # week of 04-29 (in May)
        .add("p", "x", "2024-05-07T10:00")  # week of 05-06
        .add("q", "x", "2024-04-16T10:00")  # week of 04-15
        .add("q", "x", "2024-04-17T10:00")  # week of 04-15 again: one unit
        .add("q", "x", "2024-04-23T10:00")  # week of 04-22
        .add("q", "x", "2024-05-14T10:00")  # week of 05-13
        .add("r", "x", "2024-05-01T10:00")  # week of 04-29
        .add("r", "x", "2024-05-19T10:00")  # week of 05-13 (Sunday)
    )
    query = {"kind": "stickiness", "interval": "week", "period": "month", "date_from": "2024-04-15"}
    result = engine.run(log, {**query, "date_to": "2024-05-19"})
    # April from 04-15 touches the weeks of 04-15, 04-22, 04-29: p 1 week, q 2. May to 05-19 touches the weeks
    # of 04-29, 05-06, 05-13: p 2 (04-29 again, 05-06), q 1, r 2.
    assert periods(result) == [("2024-04-01", 3, [1, 1, 0]), ("2024-05-01", 3, [1, 2, 0])]


def test_hours_on_daylight_saving_days(engine: Engine, hour_rollup: str) -> None:
    log = (
        EventLog()
        .add("a", "x", "2024-10-27T00:30")  # 02:30 CEST
        .add("a", "x", "2024-10-27T01:30")  # 02:30 CET: the repeated clock hour, the same bucket
        .add("a", "x", "2024-10-27T10:00")
        .add("b", "x", "2024-10-27T00:10")
        .add("b", "x", "2024-10-27T00:50")
        .add("c", "x", "2024-03-31T00:59")  # 01:59 CET
        .add("c", "x", "2024-03-31T01:00")  # 03:00 CEST: the next clock hour (02:00 does not exist)
    )
    query = {"kind": "stickiness", "interval": "hour", "period": "range"}
    autumn = engine.run(log, {**query, "date_from": "2024-10-27", "date_to": "2024-10-27"}, timezone="Europe/Madrid")
    # 25 real hours but 24 clock-hour buckets; a: 02:00 and 11:00, b: 02:00.
    assert periods(autumn) == [("2024-10-27", 24, [1, 1] + [0] * 22)]
    spring = engine.run(log, {**query, "date_from": "2024-03-31", "date_to": "2024-03-31"}, timezone="Europe/Madrid")
    assert periods(spring) == [("2024-03-31", 23, [0, 1] + [0] * 21)]


def test_bad_queries_name_the_field() -> None:
    with pytest.raises(QueryInvalid, match="interval `week` must be shorter than period `week`"):
        parse_query({"kind": "stickiness", "interval": "week", "period": "week"})
    with pytest.raises(QueryInvalid, match="^interval"):
        parse_query({"kind": "stickiness", "interval": "month"})
    with pytest.raises(QueryInvalid, match="^period"):
        parse_query({"kind": "stickiness", "period": "day"})
    with pytest.raises(QueryInvalid, match="interval `hour` covers at most 32 days"):
        parse_query({"kind": "stickiness", "interval": "hour", "date_from": "2024-01-01", "date_to": "2024-03-01"})
    with pytest.raises(QueryInvalid, match="^cumulative"):
        parse_query({"kind": "stickiness", "cumulative": "sometimes"})


# -- agreement with the plain-Python reference on random logs -------------------------------------------------


@st.composite
def random_logs(draw: st.DrawFn) -> EventLog:
    """Up to 40 events of 5 persons over 6 weeks around the spring DST change, some merged."""
    log = EventLog()
    start = dt.datetime(2024, 3, 8, tzinfo=dt.UTC)
    for _ in range(draw(st.integers(0, 40))):
        who = draw(st.sampled_from(["a", "b", "c", "d", "e"]))
        name = draw(st.sampled_from(["view", "buy"]))
        at = start + dt.timedelta(minutes=draw(st.integers(0, 42 * 24 * 60)))
        log.add(who, name, at)
    if draw(st.booleans()):
        log.merge("e", "a")
    return log


COMBINATIONS = [
    ("hour", "range"),
    ("hour", "week"),
    ("day", "range"),
    ("day", "week"),
    ("day", "month"),
    ("week", "range"),
    ("week", "month"),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=random_logs(),
    event=st.sampled_from(["$any", "buy"]),
    cumulative=st.booleans(),
    first=st.integers(0, 20),
    length=st.integers(1, 25),
    timezone=st.sampled_from(["UTC", "Europe/Madrid", "America/New_York", "Asia/Shanghai", "Asia/Kolkata"]),
    hours=st.booleans(),
    week_start=st.sampled_from(["monday", "sunday"]),
)
def test_engine_agrees_with_reference(
    engine: Engine,
    log: EventLog,
    event: str,
    cumulative: bool,
    first: int,
    length: int,
    timezone: str,
    week_start: str,
    hours: bool,
) -> None:
    date_from = dt.date(2024, 3, 10) + dt.timedelta(days=first)
    date_to = date_from + dt.timedelta(days=length - 1)
    common = {"event": event, "cumulative": cumulative, "date_from": str(date_from), "date_to": str(date_to)}
    queries = [
        {"kind": "stickiness", "interval": interval, "period": period, **common} for interval, period in COMBINATIONS
    ]
    with rollup(engine, hours):
        results = reference_activity.run_each(engine, log, queries, timezone, week_start)
    for (interval, period), result in zip(COMBINATIONS, results, strict=True):
        expected = reference_activity.stickiness(
            log.resolved(),
            event=event,
            interval=interval,
            period=period,
            cumulative=cumulative,
            date_from=date_from,
            date_to=date_to,
            timezone=timezone,
            week_start=week_start,
        )
        assert periods(result) == expected, (interval, period)
