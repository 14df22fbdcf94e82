"""Retention on every engine: the worked example of docs/metrics.md, each documented edge case, and
agreement with the plain-Python reference on random logs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.analytics import retention as retention_module
from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics import reference_retention
from tests.analytics.conftest import Engine, EventLog, rollup


def worked_log() -> EventLog:
    """The worked example (UTC project, range 2024-05-01 .. 2024-05-04):

    alice:  signup 05-01 (source ads), pageview 05-02, pageview 05-04
    bob:    signup 05-01 23:30 (source seo), purchase 05-03
    carol:  pageview 05-02 08:00, signup 05-02 09:00 (source ads), pageview 05-03
    dave:   signup 04-28 (before the range), signup 05-02, pageview 05-03
    erin:   signup 05-03 sent as `e-anon` (merged into erin later), pageview 05-04
    """
    return (
        EventLog()
        .add("alice", "signup", "2024-05-01T09:00", source="ads")
        .add("alice", "pageview", "2024-05-02T10:00")
        .add("alice", "pageview", "2024-05-04T08:00")
        .add("bob", "signup", "2024-05-01T23:30", source="seo")
        .add("bob", "purchase", "2024-05-03T12:00")
        .add("carol", "pageview", "2024-05-02T08:00")
        .add("carol", "signup", "2024-05-02T09:00", source="ads")
        .add("carol", "pageview", "2024-05-03T09:00")
        .add("dave", "signup", "2024-04-28T09:00")
        .add("dave", "signup", "2024-05-02T09:00")
        .add("dave", "pageview", "2024-05-03T09:00")
        .add("e-anon", "signup", "2024-05-03T10:00")
        .add("erin", "pageview", "2024-05-04T11:00")
        .merge("e-anon", "erin")
    )


WORKED = {
    "kind": "retention",
    "date_from": "2024-05-01",
    "date_to": "2024-05-04",
    "start_event": "signup",
    "intervals": 4,
}


@contextmanager
def plan(engine: Engine, direct: bool, bits: bool = False) -> Iterator[None]:
    """Run `first_time` through any of its plans whatever the engine prefers, so that each is checked on
    both engines: with `bits`, one row per stored person with a bit set of return periods (where the query
    allows it); else events straight into per-person arrays (`direct`), or (person, period) rows first."""
    dialect = engine.store.dialect
    setattr(dialect, "collects_distinct_cheaply", direct)  # noqa: B010 (a class flag, shadowed for a test)
    periods = retention_module.BIT_PERIODS
    retention_module.BIT_PERIODS = periods if bits else 0
    try:
        yield
    finally:
        delattr(dialect, "collects_distinct_cheaply")
        retention_module.BIT_PERIODS = periods


def table(result: Any) -> list[tuple[str, str | None, list[int]]]:
    """(date, breakdown value, counts) per cohort; checks that period 0 is the size."""
    for cohort in result.cohorts:
        assert cohort.counts[0] == cohort.size
    return [(c.date, c.breakdown_value, c.counts) for c in result.cohorts]


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("bits", [False, True])
def test_worked_example_first_time(engine: Engine, direct: bool, bits: bool) -> None:
    with plan(engine, direct, bits):
        result = engine.run(worked_log(), WORKED)
    assert table(result) == [
        # alice and bob; back on 05-02: alice; 05-03: bob (purchase: any event returns); 05-04: alice.
        ("2024-05-01", None, [2, 1, 1, 1]),
        # carol (her pageview before signing up is in period 0 and adds nothing). dave's first signup ever
        # is before the range: no cohort. Period 3 (05-05) has not ended by date_to: the triangle stops.
        ("2024-05-02", None, [1, 1, 0]),
        # erin, through the merge of e-anon.
        ("2024-05-03", None, [1, 1]),
        ("2024-05-04", None, [0]),
    ]


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("bits", [False, True])
def test_worked_example_cumulative(engine: Engine, direct: bool, bits: bool) -> None:
    with plan(engine, direct, bits):
        result = engine.run(worked_log(), {**WORKED, "cumulative": True})
    # 05-01 cohort: on or after 05-02: alice, bob; on or after 05-03: alice (05-04), bob; on or after 05-04: alice.
    assert table(result) == [
        ("2024-05-01", None, [2, 2, 2, 1]),
        ("2024-05-02", None, [1, 1, 0]),
        ("2024-05-03", None, [1, 1]),
        ("2024-05-04", None, [0]),
    ]


def test_worked_example_recurring(engine: Engine) -> None:
    result = engine.run(worked_log(), {**WORKED, "retention_type": "recurring"})
    # dave joins the 05-02 cohort (a signup in that period); both carol and dave are back on 05-03.
    assert table(result) == [
        ("2024-05-01", None, [2, 1, 1, 1]),
        ("2024-05-02", None, [2, 2, 0]),
        ("2024-05-03", None, [1, 1]),
        ("2024-05-04", None, [0]),
    ]


@pytest.mark.parametrize("direct", [False, True])
def test_worked_example_breakdown(engine: Engine, direct: bool) -> None:
    with plan(engine, direct):
        result = engine.run(worked_log(), {**WORKED, "breakdown": {"property": "source", "limit": 1}})
    # Cohort persons by their first signup's source: ads alice, carol (2); seo bob (1) -> $other; erin unset.
    assert table(result) == [
        ("2024-05-01", "ads", [1, 1, 0, 1]),
        ("2024-05-02", "ads", [1, 1, 0]),
        ("2024-05-03", "ads", [0, 0]),
        ("2024-05-04", "ads", [0]),
        ("2024-05-01", "$other", [1, 0, 1, 0]),
        ("2024-05-02", "$other", [0, 0, 0]),
        ("2024-05-03", "$other", [0, 0]),
        ("2024-05-04", "$other", [0]),
        ("2024-05-01", None, [0, 0, 0, 0]),
        ("2024-05-02", None, [0, 0, 0]),
        ("2024-05-03", None, [1, 1]),
        ("2024-05-04", None, [0]),
    ]


def test_person_breakdown_and_filters(engine: Engine) -> None:
    log = worked_log().person("alice", plan="pro").person("bob", plan="free").person("erin", plan="pro")
    result = engine.run(log, {**WORKED, "breakdown": {"property": "plan", "type": "person"}})
    # carol has no plan (unset, last).
    assert table(result)[:2] == [("2024-05-01", "free", [1, 0, 1, 0]), ("2024-05-02", "free", [0, 0, 0])]
    assert ("2024-05-03", "pro", [1, 1]) in table(result)
    assert ("2024-05-02", None, [1, 1, 0]) in table(result)
    # start_filters apply to the start event only: only `ads` signups start a cohort.
    ads = engine.run(worked_log(), {**WORKED, "start_filters": [{"property": "source", "value": "ads"}]})
    assert table(ads)[:2] == [("2024-05-01", None, [1, 1, 0, 1]), ("2024-05-02", None, [1, 1, 0])]
    # return_filters / return_event on the return side only: only purchases count as coming back.
    bought = engine.run(worked_log(), {**WORKED, "return_event": "purchase"})
    assert table(bought)[:2] == [("2024-05-01", None, [2, 0, 1, 0]), ("2024-05-02", None, [1, 0, 0])]
    # Global filters apply to both sides: with source = ads, only ads signups start and only they return
    # (pageviews have no source): nobody comes back.
    both = engine.run(worked_log(), {**WORKED, "filters": [{"property": "source", "value": "ads"}]})
    assert table(both)[:2] == [("2024-05-01", None, [1, 0, 0, 0]), ("2024-05-02", None, [1, 0, 0])]


def test_week_straddling_date_from_and_triangle(engine: Engine) -> None:
    # Range Wed 2024-05-01 .. Wed 2024-05-22; weeks from Monday: 04-29, 05-06, 05-13, 05-20.
    log = (
        EventLog()
        .add("early", "signup", "2024-04-30T12:00")  # Tuesday before date_from, same week: no cohort
        .add("early", "pageview", "2024-05-07T12:00")
        .add("late", "signup", "2024-05-02T12:00")  # Thursday: cohort of week 04-29
        .add("late", "pageview", "2024-05-08T12:00")
        .add("late", "pageview", "2024-05-21T12:00")  # in week 05-20, which has not ended by 05-22
    )
    result = engine.run(
        log,
        {
            "kind": "retention",
            "date_from": "2024-05-01",
            "date_to": "2024-05-22",
            "start_event": "signup",
            "period": "week",
        },
    )
    assert table(result) == [
        ("2024-04-29", None, [1, 1, 0]),  # periods 05-06 and 05-13 ended; 05-20 has not
        ("2024-05-06", None, [0, 0]),
        ("2024-05-13", None, [0]),
        ("2024-05-20", None, [0]),
    ]
    cumulative = engine.run(
        log,
        {
            "kind": "retention",
            "date_from": "2024-05-01",
            "date_to": "2024-05-22",
            "start_event": "signup",
            "period": "week",
            "cumulative": True,
        },
    )
    # On or after week 05-13: the 05-21 pageview counts (returns are read up to the end of date_to).
    assert table(cumulative)[0] == ("2024-04-29", None, [1, 1, 1])
    sunday = engine.run(
        log,
        {
            "kind": "retention",
            "date_from": "2024-05-01",
            "date_to": "2024-05-22",
            "start_event": "signup",
            "period": "week",
        },
        week_start="sunday",
    )
    # Weeks from Sunday: 04-28, 05-05, 05-12, 05-19; `early`'s signup (Tue 04-30) is still before date_from.
    assert table(sunday)[0] == ("2024-04-28", None, [1, 1, 0])


def test_same_timestamp_and_return_that_is_a_start(engine: Engine) -> None:
    at = "2024-05-01T10:00"
    log = (
        EventLog()
        # start and return at the same instant: period 0 only. Three signups at that instant: breakdown by a
        # set value before an unset one, then the smallest ("a" before "b").
        .add("p", "signup", at)
        .add("p", "signup", at, source="b")
        .add("p", "signup", at, source="a")
        .add("p", "pageview", at)
        # a return event that is also a start event: q's signup on 05-02 returns for the 05-01 cohort.
        .add("q", "signup", "2024-05-01T11:00")
        .add("q", "signup", "2024-05-02T11:00")
    )
    query = {"kind": "retention", "date_from": "2024-05-01", "date_to": "2024-05-02", "start_event": "signup"}
    assert table(engine.run(log, query)) == [("2024-05-01", None, [2, 1]), ("2024-05-02", None, [0])]
    recurring = engine.run(log, {**query, "retention_type": "recurring"})
    assert table(recurring) == [("2024-05-01", None, [2, 1]), ("2024-05-02", None, [1])]
    for direct in (False, True):
        with plan(engine, direct):
            broken = engine.run(log, {**query, "breakdown": {"property": "source"}})
        assert table(broken) == [
            ("2024-05-01", "a", [1, 0]),
            ("2024-05-02", "a", [0]),
            ("2024-05-01", None, [1, 1]),
            ("2024-05-02", None, [0]),
        ]


def test_daylight_saving_day(engine: Engine, hour_rollup: str) -> None:
    # Madrid moves clocks forward on 2024-03-31 (UTC+1 -> UTC+2). 23:30Z on 03-30 is 00:30 on 03-31 local;
    # 22:30Z on 03-31 is 00:30 on 04-01 local (at the winter offset it would still be 03-31).
    log = EventLog().add("m", "signup", "2024-03-30T23:30").add("m", "pageview", "2024-03-31T22:30")
    query = {"kind": "retention", "date_from": "2024-03-31", "date_to": "2024-04-01", "start_event": "signup"}
    assert table(engine.run(log, query, timezone="Europe/Madrid")) == [
        ("2024-03-31", None, [1, 1]),
        ("2024-04-01", None, [0]),
    ]
    # In UTC the signup is on 03-30, before the range.
    assert table(engine.run(log, query)) == [("2024-03-31", None, [0, 0]), ("2024-04-01", None, [0])]


def test_half_hour_zone(engine: Engine, hour_rollup: str) -> None:
    # Kolkata (UTC+5:30): the signup is on 03-10 local, the return 30 minutes later on 03-11.
    log = EventLog().add("k", "signup", "2024-03-10T18:15").add("k", "pageview", "2024-03-10T18:45")
    query = {"kind": "retention", "date_from": "2024-03-10", "date_to": "2024-03-11", "start_event": "signup"}
    assert table(engine.run(log, query, timezone="Asia/Kolkata")) == [
        ("2024-03-10", None, [1, 1]),
        ("2024-03-11", None, [0]),
    ]


@pytest.mark.parametrize("days", [64, 65])
def test_last_bit_of_the_set_and_longer_ranges(engine: Engine, days: int) -> None:
    # 64 daily periods: the set's last bit (63) holds the return on the range's last day; 65 periods take
    # the (person, period) plan. Both give the same answer.
    date_from = dt.date(2024, 1, 1)
    date_to = date_from + dt.timedelta(days=days - 1)
    log = (
        EventLog()
        .add("a", "signup", "2024-01-01T09:00")
        .add("a", "pageview", f"{date_to}T09:00")
        .add("b", "signup", "2024-01-02T09:00")
        .add("b", "pageview", f"{date_to}T23:59")
    )
    query = {
        "kind": "retention",
        "date_from": str(date_from),
        "date_to": str(date_to),
        "start_event": "signup",
        "period": "day",
        "intervals": 100,
    }
    cohorts = engine.run(log, query).cohorts
    assert cohorts[0].counts[days - 1] == 1
    assert cohorts[1].counts[days - 2] == 1
    assert sum(cohorts[0].counts) == 2 and sum(cohorts[1].counts) == 2


def test_months(engine: Engine) -> None:
    log = (
        EventLog()
        .add("a", "signup", "2024-01-31T12:00")
        .add("a", "pageview", "2024-03-01T12:00")
        .add("b", "signup", "2024-02-10T12:00")
        .add("b", "pageview", "2024-02-11T12:00")
    )
    query = {
        "kind": "retention",
        "date_from": "2024-01-15",
        "date_to": "2024-03-31",
        "start_event": "signup",
        "period": "month",
        "intervals": 3,
    }
    # a: cohort January, back in March (period 2, not 1); b: cohort February, back in February only.
    assert table(engine.run(log, query)) == [
        ("2024-01-01", None, [1, 0, 1]),
        ("2024-02-01", None, [1, 0]),
        ("2024-03-01", None, [0]),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"intervals": 0}, "intervals"),
        ({"intervals": 101}, "intervals"),
        ({"period": "hour"}, "period"),
        ({"retention_type": "sometimes"}, "retention_type"),
        ({"start_event": ""}, "start_event"),
        ({"windows": 3}, "windows"),
        ({"date_from": "2024-05-05"}, "date_to"),
    ],
)
def test_bad_queries_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryInvalid, match=field):
        parse_query({**WORKED, **change})


def test_defaults() -> None:
    query = parse_query({"kind": "retention", "start_event": "signup"})
    assert query.model_dump(include={"return_event", "period", "intervals", "retention_type", "cumulative"}) == {
        "return_event": "$any",
        "period": "day",
        "intervals": 8,
        "retention_type": "first_time",
        "cumulative": False,
    }


# -- agreement with the plain-Python reference on random logs -------------------------------------------------


@st.composite
def random_logs(draw: st.DrawFn) -> EventLog:
    """Up to 40 events of 5 persons over 7 weeks around the spring DST change, some at the same instant, some
    merged, some with a `source`."""
    log = EventLog()
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    for _ in range(draw(st.integers(0, 40))):
        who = draw(st.sampled_from(["a", "b", "c", "d", "e"]))
        name = draw(st.sampled_from(["signup", "view", "buy"]))
        minutes = 360 * draw(st.integers(0, 49 * 4)) + draw(st.sampled_from([0, 90, 359]))
        at = start + dt.timedelta(minutes=minutes)
        if log.events and draw(st.integers(0, 3)) == 0:
            # The same person at the same instant as the event before (ties of start and return events).
            who, at = log.events[-1].distinct_id, log.events[-1].timestamp
        props = {"source": draw(st.sampled_from(["ads", "seo", "mail"]))} if draw(st.booleans()) else {}
        log.add(who, name, at, **props)
    if draw(st.booleans()):
        log.merge("e", "a")
    return log


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=random_logs(),
    period=st.sampled_from(["day", "week", "month"]),
    retention_type=st.sampled_from(["first_time", "recurring"]),
    cumulative=st.booleans(),
    intervals=st.integers(1, 10),
    return_event=st.sampled_from(["$any", "view", "signup"]),
    breakdown=st.sampled_from([None, 1, 2]),
    timezone=st.sampled_from(["UTC", "Europe/Madrid", "America/New_York", "Asia/Shanghai", "Asia/Kolkata"]),
    hours=st.booleans(),
    week_start=st.sampled_from(["monday", "sunday"]),
    direct=st.booleans(),
    bits=st.booleans(),
)
def test_engine_agrees_with_reference(
    engine: Engine,
    log: EventLog,
    period: str,
    retention_type: str,
    cumulative: bool,
    intervals: int,
    return_event: str,
    breakdown: int | None,
    timezone: str,
    week_start: str,
    direct: bool,
    bits: bool,
    hours: bool,
) -> None:
    date_from, date_to = dt.date(2024, 3, 10), dt.date(2024, 4, 12)
    query: dict[str, Any] = {
        "kind": "retention",
        "date_from": str(date_from),
        "date_to": str(date_to),
        "start_event": "signup",
        "return_event": return_event,
        "period": period,
        "intervals": intervals,
        "retention_type": retention_type,
        "cumulative": cumulative,
    }
    if breakdown is not None:
        query["breakdown"] = {"property": "source", "limit": breakdown}
    with plan(engine, direct, bits), rollup(engine, hours):
        result = engine.run(log, query, timezone=timezone, week_start=week_start)  # type: ignore[arg-type]
    expected = reference_retention.retention(
        log.resolved(),
        start_event="signup",
        return_event=return_event,
        period=period,
        intervals=intervals,
        retention_type=retention_type,
        cumulative=cumulative,
        date_from=date_from,
        date_to=date_to,
        timezone=timezone,
        week_start=week_start,
        breakdown="source" if breakdown is not None else None,
        limit=breakdown or 10,
    )
    assert [(c.date, c.breakdown_value, c.size, c.counts) for c in result.cohorts] == expected
