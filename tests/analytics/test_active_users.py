"""Active users on every engine: hand-worked small logs, and agreement with the plain-Python reference."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics import reference_activity
from tests.analytics.conftest import Engine, EventLog, rollup
from tests.analytics.reference_activity import EXAMPLE_RANGE, example_log


def test_worked_example(engine: Engine, distinct_values: str) -> None:
    result = engine.run(example_log(), {"kind": "active_users", **EXAMPLE_RANGE})
    assert result.dates == [f"2024-05-{d:02d}" for d in range(6, 13)]
    # Active days: alice 05-01, 05-06, 05-08; bob 05-06, 05-07, 05-12; carol 04-10, 05-09 (through c-anon).
    assert result.dau == [2, 1, 1, 1, 0, 0, 1]
    # 05-06..05-08: alice and bob; from 05-09 (window 05-03..05-09) carol too.
    assert result.wau == [2, 2, 2, 3, 3, 3, 3]
    # 05-06: window 04-07..05-06 holds carol's 04-10; on 05-10 (04-11..05-10) her 05-09 keeps her in.
    assert result.mau == [3, 3, 3, 3, 3, 3, 3]
    assert result.dau_mau == [pytest.approx(2 / 3), *[pytest.approx(1 / 3)] * 3, 0, 0, pytest.approx(1 / 3)]
    pageviews = engine.run(example_log(), {"kind": "active_users", "event": "purchase", **EXAMPLE_RANGE})
    # Only bob's purchase on 05-07.
    assert pageviews.dau == [0, 1, 0, 0, 0, 0, 0]
    assert pageviews.wau == [0, 1, 1, 1, 1, 1, 1]
    assert pageviews.dau_mau == [None, 1, 0, 0, 0, 0, 0]


def test_window_edges_and_events_before_the_range(engine: Engine) -> None:
    # Each person's only event is before the range (2024-06-01 .. 06-02): they count in the windows that
    # reach back to it, never in DAU.
    log = (
        EventLog()
        .add("d7", "x", "2024-05-26T12:00")  # 6 days before 06-01: in WAU of 06-01, not of 06-02
        .add("d8", "x", "2024-05-25T12:00")  # 7 days before: in no WAU
        .add("m29", "x", "2024-05-03T00:00")  # 29 days before 06-01: in MAU of 06-01 only
        .add("m30", "x", "2024-05-02T23:59:59")  # 30 days before: in no MAU
    )
    result = engine.run(log, {"kind": "active_users", "date_from": "2024-06-01", "date_to": "2024-06-02"})
    assert result.dau == [0, 0]
    assert result.wau == [1, 0]
    assert result.mau == [3, 2]
    assert result.dau_mau == [0, 0]


def test_same_timestamp_merges_and_filters(engine: Engine, distinct_values: str) -> None:
    log = (
        EventLog()
        .add("a", "x", "2024-06-01T10:00", plan="pro")
        .add("a", "x", "2024-06-01T10:00", plan="pro")  # the same person twice at one instant: once
        .add("b", "x", "2024-06-01T10:00", plan="free")  # another person at that instant: counted
        .add("a-anon", "x", "2024-06-02T08:00", plan="pro")  # merged into a
        .add("a", "x", "2024-06-02T09:00", plan="pro")
        .merge("a-anon", "a")
    )
    result = engine.run(log, {"kind": "active_users", "date_from": "2024-06-01", "date_to": "2024-06-02"})
    assert result.dau == [2, 1]
    assert result.wau == [2, 2]
    pro = engine.run(
        log,
        {
            "kind": "active_users",
            "date_from": "2024-06-01",
            "date_to": "2024-06-02",
            "filters": [{"property": "plan", "value": "pro"}],
        },
    )
    assert pro.dau == [1, 1]
    assert pro.mau == [1, 1]


def test_daylight_saving_days(engine: Engine, hour_rollup: str) -> None:
    # Madrid: 2024-03-31 lasts 23 hours (clocks go forward at 02:00 CET = 01:00 UTC), 2024-10-27 lasts 25.
    log = (
        EventLog()
        .add("a", "x", "2024-03-30T23:30")  # 03-31 00:30 CET
        .add("b", "x", "2024-03-31T21:59")  # 03-31 23:59 CEST
        .add("c", "x", "2024-03-31T22:00")  # 04-01 00:00 CEST
        .add("d", "x", "2024-10-26T22:00")  # 10-27 00:00 CEST
        .add("e", "x", "2024-10-27T22:59")  # 10-27 23:59 CET (the 25th hour)
        .add("f", "x", "2024-10-27T23:00")  # 10-28 00:00 CET
    )
    spring = engine.run(
        log, {"kind": "active_users", "date_from": "2024-03-31", "date_to": "2024-04-01"}, timezone="Europe/Madrid"
    )
    assert spring.dau == [2, 1]
    assert spring.wau == [2, 3]
    autumn = engine.run(
        log, {"kind": "active_users", "date_from": "2024-10-27", "date_to": "2024-10-28"}, timezone="Europe/Madrid"
    )
    assert autumn.dau == [2, 1]
    # a, b, c (March) are more than 30 days back.
    assert autumn.mau == [2, 3]


def test_empty_project(engine: Engine) -> None:
    result = engine.run(EventLog(), {"kind": "active_users", "date_from": "2024-06-01", "date_to": "2024-06-01"})
    assert (result.dau, result.wau, result.mau, result.dau_mau) == ([0], [0], [0], [None])


def test_bad_queries_name_the_field() -> None:
    with pytest.raises(QueryInvalid, match="date_to"):
        parse_query({"kind": "active_users", "date_from": "2024-06-02", "date_to": "2024-06-01"})
    with pytest.raises(QueryInvalid, match="^event"):
        parse_query({"kind": "active_users", "event": ""})
    with pytest.raises(QueryInvalid, match="^interval"):
        parse_query({"kind": "active_users", "interval": "day"})


# -- agreement with the plain-Python reference on random logs -------------------------------------------------


@st.composite
def random_logs(draw: st.DrawFn) -> EventLog:
    """Up to 40 events of 5 persons over 7 weeks around the spring DST change, some merged."""
    log = EventLog()
    start = dt.datetime(2024, 2, 20, tzinfo=dt.UTC)
    for _ in range(draw(st.integers(0, 40))):
        who = draw(st.sampled_from(["a", "b", "c", "d", "e"]))
        name = draw(st.sampled_from(["view", "buy"]))
        at = start + dt.timedelta(minutes=draw(st.integers(0, 49 * 24 * 60)))
        log.add(who, name, at)
    if draw(st.booleans()):
        log.merge("e", "a")
    return log


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=random_logs(),
    first=st.integers(0, 20),
    length=st.integers(1, 25),
    timezone=st.sampled_from(["UTC", "Europe/Madrid", "America/New_York", "Asia/Shanghai", "Asia/Kolkata"]),
    hours=st.booleans(),
)
def test_engine_agrees_with_reference(
    engine: Engine, distinct_values: str, log: EventLog, first: int, length: int, timezone: str, hours: bool
) -> None:
    date_from = dt.date(2024, 3, 10) + dt.timedelta(days=first)
    date_to = date_from + dt.timedelta(days=length - 1)
    events = ["$any", "buy"]
    queries = [
        {"kind": "active_users", "event": event, "date_from": str(date_from), "date_to": str(date_to)}
        for event in events
    ]
    with rollup(engine, hours):
        results = reference_activity.run_each(engine, log, queries, timezone, "monday")
    for event, result in zip(events, results, strict=True):
        expected = reference_activity.active_users(
            log.resolved(), event=event, date_from=date_from, date_to=date_to, timezone=timezone
        )
        assert result.dates == expected["dates"]
        assert (result.dau, result.wau, result.mau) == (expected["dau"], expected["wau"], expected["mau"]), event
        assert result.dau_mau == pytest.approx(expected["dau_mau"])
