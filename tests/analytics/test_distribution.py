"""Distribution (usage frequency) on every engine: hand-worked small logs, and agreement with the reference."""

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

DEFAULT_EDGES = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, None)]


def frequency(result: Any) -> list[tuple[str, list[tuple[int, int | None, int]]]]:
    return [(p.date, [(b.min, b.max, b.persons) for b in p.buckets]) for p in result.frequency]


def persons(result: Any) -> list[tuple[str, list[int]]]:
    """Each period's persons per bucket."""
    return [(p.date, [b.persons for b in p.buckets]) for p in result.frequency]


def active_days(result: Any) -> list[tuple[int, int]]:
    return [(a.days, a.persons) for a in result.active_days]


def test_worked_example(engine: Engine) -> None:
    result = engine.run(example_log(), {"kind": "distribution", "event": "pageview", **EXAMPLE_RANGE})
    # Pageviews in 05-06..05-12: carol 1 (05-09, through c-anon), bob 2 (05-06, 05-12), alice 3 (two on 05-06,
    # one on 05-08); the ones before the range do not count.
    assert frequency(result) == [
        ("2024-05-06", [(low, high, 1 if low in (1, 2, 3) else 0) for low, high in DEFAULT_EDGES])
    ]
    # Distinct days: carol 1, alice 2, bob 2.
    assert active_days(result) == [(1, 1), (2, 2), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0)]
    any_event = engine.run(example_log(), {"kind": "distribution", **EXAMPLE_RANGE})
    # With bob's purchase: bob 3 events on 3 days.
    assert persons(any_event) == [("2024-05-06", [1, 0, 2, 0, 0, 0, 0, 0, 0, 0])]
    assert active_days(any_event)[:4] == [(1, 1), (2, 1), (3, 1), (4, 0)]
    daily = engine.run(
        example_log(), {"kind": "distribution", "event": "pageview", "per": "day", "buckets": [1, 2], **EXAMPLE_RANGE}
    )
    # 05-06: alice 2, bob 1; 05-08: alice 1; 05-09: carol 1; 05-12: bob 1.
    assert frequency(daily) == [
        ("2024-05-06", [(1, 1, 1), (2, None, 1)]),
        ("2024-05-07", [(1, 1, 0), (2, None, 0)]),
        ("2024-05-08", [(1, 1, 1), (2, None, 0)]),
        ("2024-05-09", [(1, 1, 1), (2, None, 0)]),
        ("2024-05-10", [(1, 1, 0), (2, None, 0)]),
        ("2024-05-11", [(1, 1, 0), (2, None, 0)]),
        ("2024-05-12", [(1, 1, 1), (2, None, 0)]),
    ]


def test_weeks_same_timestamps_and_merges(engine: Engine, hour_rollup: str) -> None:
    log = (
        EventLog()
        .add("p", "x", "2024-06-02T10:00")  # Sunday, before the range
        .add("p", "x", "2024-06-03T10:00")
        .add("p", "x", "2024-06-03T10:00")  # the same instant: two times
        .add("p", "x", "2024-06-04T10:00")
        .add("q", "x", "2024-06-03T11:00")
        .add("q-anon", "x", "2024-06-03T12:00")  # merged into q
        .add("q", "x", "2024-06-09T10:00")  # Sunday: the next Sunday week
        .merge("q-anon", "q")
    )
    query = {
        "kind": "distribution",
        "per": "week",
        "buckets": [1, 3],
        "date_from": "2024-06-03",
        "date_to": "2024-06-09",
    }
    result = engine.run(log, query, week_start="sunday")
    # Week of Sun 06-02 (labelled before date_from, counting from 06-03): p 3 times, q 2. Week of 06-09: q 1.
    assert frequency(result) == [
        ("2024-06-02", [(1, 2, 1), (3, None, 1)]),
        ("2024-06-09", [(1, 2, 1), (3, None, 0)]),
    ]
    # p on 06-03 and 06-04, q on 06-03 and 06-09.
    assert active_days(result) == [(1, 0), (2, 2), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0)]


def test_buckets_above_one_leave_out_rare_persons(engine: Engine) -> None:
    log = EventLog().add("r", "x", "2024-06-03T10:00")
    for hour in range(10, 15):
        log.add("s", "x", f"2024-06-03T{hour}:00")
    log.add("t", "x", "2024-06-03T10:00").add("t", "x", "2024-06-04T10:00")
    result = engine.run(
        log, {"kind": "distribution", "buckets": [2, 4], "date_from": "2024-06-03", "date_to": "2024-06-04"}
    )
    # r (1 time) is below the first edge; t 2 times; s 5 times.
    assert frequency(result) == [("2024-06-03", [(2, 3, 1), (4, None, 1)])]
    assert active_days(result) == [(1, 2), (2, 1)]


def test_daylight_saving_day(engine: Engine, hour_rollup: str) -> None:
    log = (
        EventLog()
        .add("a", "x", "2024-10-26T22:30")  # 10-27 00:30 CEST
        .add("a", "x", "2024-10-27T22:30")  # 10-27 23:30 CET: the same 25-hour local day
        .add("b", "x", "2024-10-27T23:30")  # 10-28 00:30 CET
    )
    query = {
        "kind": "distribution",
        "per": "day",
        "buckets": [1, 2],
        "date_from": "2024-10-26",
        "date_to": "2024-10-28",
    }
    result = engine.run(log, query, timezone="Europe/Madrid")
    assert persons(result) == [("2024-10-26", [0, 0]), ("2024-10-27", [0, 1]), ("2024-10-28", [1, 0])]
    assert active_days(result) == [(1, 2), (2, 0), (3, 0)]
    monthly = engine.run(log, {**query, "per": "month"}, timezone="Europe/Madrid")
    assert persons(monthly) == [("2024-10-01", [1, 1])]


def test_half_hour_zone(engine: Engine, hour_rollup: str) -> None:
    # India is UTC+5:30: local midnight falls at 18:30 UTC, inside a UTC hour (such zones never read the
    # hourly rollup, which could not tell these two events apart).
    log = (
        EventLog()
        .add("a", "x", "2024-03-10T18:15")  # 03-10 23:45 IST
        .add("a", "x", "2024-03-10T18:45")  # 03-11 00:15 IST
    )
    query = {
        "kind": "distribution",
        "per": "day",
        "buckets": [1, 2],
        "date_from": "2024-03-10",
        "date_to": "2024-03-11",
    }
    result = engine.run(log, query, timezone="Asia/Kolkata")
    assert persons(result) == [("2024-03-10", [1, 0]), ("2024-03-11", [1, 0])]
    assert active_days(result) == [(1, 0), (2, 1)]


@pytest.mark.parametrize(
    ("buckets", "message"),
    [
        ([], "1 to 50"),
        ([1, 1], "strictly increasing"),
        ([3, 2], "strictly increasing"),
        ([0, 1], "positive integers"),
        ([1, 2.5], "positive integers"),
        ([True], "positive integers"),
        ("1,2", "1 to 50"),
        (list(range(1, 52)), "1 to 50"),
    ],
)
def test_bad_buckets_name_the_field(buckets: Any, message: str) -> None:
    with pytest.raises(QueryInvalid, match=f"^buckets: .*{message}"):
        parse_query({"kind": "distribution", "buckets": buckets})


def test_bad_period_names_the_field() -> None:
    with pytest.raises(QueryInvalid, match="^per"):
        parse_query({"kind": "distribution", "per": "hour"})


# -- agreement with the plain-Python reference on random logs -------------------------------------------------


@st.composite
def random_logs(draw: st.DrawFn) -> EventLog:
    """Up to 60 events of 5 persons over 6 weeks around the spring DST change, some at one instant, some merged."""
    log = EventLog()
    start = dt.datetime(2024, 3, 8, tzinfo=dt.UTC)
    for _ in range(draw(st.integers(0, 60))):
        who = draw(st.sampled_from(["a", "b", "c", "d", "e"]))
        name = draw(st.sampled_from(["view", "buy"]))
        at = start + dt.timedelta(hours=draw(st.integers(0, 42 * 24)))
        log.add(who, name, at)
    if draw(st.booleans()):
        log.merge("e", "a")
    return log


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=random_logs(),
    event=st.sampled_from(["$any", "buy"]),
    buckets=st.lists(st.integers(1, 12), min_size=1, max_size=5, unique=True).map(sorted),
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
    buckets: list[int],
    first: int,
    length: int,
    timezone: str,
    week_start: str,
    hours: bool,
) -> None:
    date_from = dt.date(2024, 3, 10) + dt.timedelta(days=first)
    date_to = date_from + dt.timedelta(days=length - 1)
    common = {"event": event, "buckets": buckets, "date_from": str(date_from), "date_to": str(date_to)}
    pers = ["range", "day", "week", "month"]
    queries = [{"kind": "distribution", "per": per, **common} for per in pers]
    with rollup(engine, hours):
        results = reference_activity.run_each(engine, log, queries, timezone, week_start)
    for per, result in zip(pers, results, strict=True):
        expected_frequency, expected_days = reference_activity.distribution(
            log.resolved(),
            event=event,
            per=per,
            buckets=buckets,
            date_from=date_from,
            date_to=date_to,
            timezone=timezone,
            week_start=week_start,
        )
        assert frequency(result) == expected_frequency, per
        assert active_days(result) == expected_days
