"""Lifecycle on every engine: the documented worked example, edge cases by hand, and the reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics.conftest import Engine, EventLog, rollup
from tests.analytics.reference_lifecycle import reference_lifecycle


def worked_example() -> EventLog:
    """The example of docs/metrics.md (UTC, days 2024-05-02 to 2024-05-04).

    alice: 04-20, 05-01, 05-02, 05-04       bob: signup 05-02, pageview 05-03 (first ever on 05-02)
    carol: 04-28, 05-03                     dan: 05-01 only
    erin:  05-04, and `e-anon` (merged into erin) on 04-30
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-04-20T10:00")
        .add("alice", "pageview", "2024-05-01T10:00")
        .add("alice", "pageview", "2024-05-02T10:00")
        .add("alice", "pageview", "2024-05-04T10:00")
        .add("bob", "signup", "2024-05-02T09:00")
        .add("bob", "pageview", "2024-05-03T09:00")
        .add("carol", "pageview", "2024-04-28T09:00")
        .add("carol", "pageview", "2024-05-03T09:00")
        .add("dan", "pageview", "2024-05-01T09:00")
        .add("e-anon", "pageview", "2024-04-30T09:00")
        .add("erin", "pageview", "2024-05-04T09:00")
        .merge("e-anon", "erin")
    )


RANGE = {"date_from": "2024-05-02", "date_to": "2024-05-04"}


def counts(result: Any) -> dict[str, list[Any]]:
    return {k: getattr(result, k) for k in ("dates", "new", "returning", "resurrecting", "dormant")}


def test_worked_example(engine: Engine, distinct_values: str) -> None:
    result = engine.run(worked_example(), {"kind": "lifecycle", **RANGE})
    # 05-02: bob new (first event ever), alice returning (active 05-01), dan dormant (05-01, not 05-02).
    # 05-03: bob returning, carol resurrecting (last active 04-28), alice dormant.
    # 05-04: alice resurrecting; erin resurrecting, not new: e-anon's 04-30 pageview is hers through the
    #        merge; bob and carol dormant.
    assert counts(result) == {
        "dates": ["2024-05-02", "2024-05-03", "2024-05-04"],
        "new": [1, 0, 0],
        "returning": [1, 1, 0],
        "resurrecting": [0, 1, 2],
        "dormant": [1, 1, 2],
    }
    assert result.rows()[0] == {"date": "2024-05-02", "new": 1, "returning": 1, "resurrecting": 0, "dormant": 1}
    # Weeks: the one (whole) week of 04-29 holds everybody; bob, dan and erin (e-anon's 04-30) are new, carol
    # returning (04-28 is the week before), alice resurrecting (04-20).
    weekly = engine.run(worked_example(), {"kind": "lifecycle", **RANGE, "interval": "week"})
    assert counts(weekly) == {
        "dates": ["2024-04-29"],
        "new": [3],
        "returning": [1],
        "resurrecting": [1],
        "dormant": [0],
    }


def test_one_event(engine: Engine) -> None:
    result = engine.run(worked_example(), {"kind": "lifecycle", **RANGE, "event": "pageview"})
    # Only pageviews make a person active: bob's first pageview is 05-03, so he is new on 05-03, not 05-02.
    assert counts(result) == {
        "dates": ["2024-05-02", "2024-05-03", "2024-05-04"],
        "new": [0, 1, 0],
        "returning": [1, 0, 0],
        "resurrecting": [0, 1, 2],
        "dormant": [1, 1, 2],
    }


def test_whole_weeks_straddling_date_from(engine: Engine) -> None:
    # Range Wed 05-08 .. Sun 05-19, Monday weeks: buckets 05-06 and 05-13. The week of 05-06 is a whole
    # week: ann's Monday 05-06 pageview counts although it is before date_from.
    log = (
        EventLog()
        .add("ann", "pageview", "2024-05-06T10:00")  # week 05-06, first ever: new
        .add("ann", "pageview", "2024-05-14T10:00")  # week 05-13: returning
        .add("ben", "pageview", "2024-05-02T10:00")  # week 04-29 (the period before the range)
        .add("ben", "pageview", "2024-05-20T10:00")  # after date_to: never read
        .add("cat", "pageview", "2024-04-01T10:00")  # long before
        .add("cat", "pageview", "2024-05-16T10:00")  # week 05-13: resurrecting
    )
    query = {"kind": "lifecycle", "interval": "week", "date_from": "2024-05-08", "date_to": "2024-05-19"}
    assert counts(engine.run(log, query)) == {
        "dates": ["2024-05-06", "2024-05-13"],
        "new": [1, 0],
        "returning": [0, 1],
        "resurrecting": [0, 1],
        "dormant": [1, 0],  # ben: active in the week of 04-29, not in the week of 05-06
    }
    # Sunday weeks: buckets 05-05, 05-12 and 05-19 (date_to is a Sunday: the last week holds only that day;
    # ben's 05-20 is still not read). ann and cat, active in the week of 05-12, are dormant in it.
    sunday = engine.run(log, query, week_start="sunday")
    assert counts(sunday) == {
        "dates": ["2024-05-05", "2024-05-12", "2024-05-19"],
        "new": [1, 0, 0],
        "returning": [0, 1, 0],
        "resurrecting": [0, 1, 0],
        "dormant": [1, 0, 2],
    }


def test_months_and_events_before_the_range(engine: Engine) -> None:
    log = (
        EventLog()
        .add("ann", "pageview", "2023-01-15T10:00")  # a year before: ann is never new again
        .add("ann", "pageview", "2024-03-31T23:00")
        .add("ben", "pageview", "2024-02-10T10:00")
        .add("ben", "pageview", "2024-04-02T10:00")
        .add("cat", "pageview", "2024-04-30T10:00")
    )
    result = engine.run(
        log, {"kind": "lifecycle", "interval": "month", "date_from": "2024-03-15", "date_to": "2024-04-30"}
    )
    # March: ann resurrecting (last active 2023-01), ben dormant (February). April: ann dormant,
    # ben resurrecting, cat new.
    assert counts(result) == {
        "dates": ["2024-03-01", "2024-04-01"],
        "new": [0, 1],
        "returning": [0, 0],
        "resurrecting": [1, 1],
        "dormant": [1, 1],
    }
    # In Shanghai ann's 2024-03-31 23:00 UTC pageview is on April 1st: March has only ben dormant, and
    # April holds ann (resurrecting), ben (resurrecting) and cat (new).
    shanghai = engine.run(
        log,
        {"kind": "lifecycle", "interval": "month", "date_from": "2024-03-15", "date_to": "2024-04-30"},
        timezone="Asia/Shanghai",
    )
    assert counts(shanghai) == {
        "dates": ["2024-03-01", "2024-04-01"],
        "new": [0, 1],
        "returning": [0, 0],
        "resurrecting": [0, 2],
        "dormant": [1, 0],
    }


def test_daylight_saving_day_and_same_timestamp(engine: Engine, distinct_values: str, hour_rollup: str) -> None:
    # New York springs forward on 2024-03-10 (a 23-hour day). 2024-03-10T04:30Z is 03-09 23:30 EST and
    # 2024-03-11T03:30Z is 03-10 23:30 EDT; two events at the same instant count the person once.
    log = (
        EventLog()
        .add("ann", "pageview", "2024-03-10T04:30")
        .add("ann", "pageview", "2024-03-11T03:30")
        .add("ann", "signup", "2024-03-11T03:30")
        .add("ben", "pageview", "2024-03-11T03:30")
        .add("ben", "pageview", "2024-03-11T03:30")
    )
    query = {"kind": "lifecycle", "date_from": "2024-03-09", "date_to": "2024-03-11"}
    result = engine.run(log, query, timezone="America/New_York")
    assert counts(result) == {
        "dates": ["2024-03-09", "2024-03-10", "2024-03-11"],
        "new": [1, 1, 0],
        "returning": [0, 1, 0],
        "resurrecting": [0, 0, 0],
        "dormant": [0, 0, 2],
    }
    # In UTC the same events fall on 03-10 (ann) and 03-11 (ann, ben).
    assert counts(engine.run(log, query)) == {
        "dates": ["2024-03-09", "2024-03-10", "2024-03-11"],
        "new": [0, 1, 1],
        "returning": [0, 0, 1],
        "resurrecting": [0, 0, 0],
        "dormant": [0, 0, 0],
    }


def test_filters_define_activity(engine: Engine) -> None:
    log = (
        EventLog()
        .add("ann", "pageview", "2024-05-01T10:00", browser="Safari")
        .add("ann", "pageview", "2024-05-02T10:00", browser="Chrome")
        .add("ben", "pageview", "2024-05-01T10:00", browser="Chrome")
        .person("ann", plan="pro")
        .person("ben", plan="free")
    )
    chrome = engine.run(log, {"kind": "lifecycle", **RANGE, "filters": [{"property": "browser", "value": "Chrome"}]})
    # With the filter ann's first active day is 05-02 (her Safari day does not count): new on 05-02.
    assert counts(chrome)["new"] == [1, 0, 0]
    # ben: active 05-01 (Chrome), not 05-02; ann: active 05-02, not 05-03.
    assert counts(chrome)["dormant"] == [1, 1, 0]
    pro = engine.run(
        log, {"kind": "lifecycle", **RANGE, "filters": [{"property": "plan", "type": "person", "value": "pro"}]}
    )
    assert counts(pro)["returning"] == [1, 0, 0] and counts(pro)["dormant"] == [0, 1, 0]


def test_empty_project(engine: Engine) -> None:
    result = engine.run(EventLog(), {"kind": "lifecycle", **RANGE, "interval": "week"})
    assert counts(result) == {
        "dates": ["2024-04-29"],
        "new": [0],
        "returning": [0],
        "resurrecting": [0],
        "dormant": [0],
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"interval": "hour"}, "interval: lifecycle compares whole periods"),
        ({"interval": "year"}, "interval: Input should be"),
        ({"breakdown": {"property": "plan"}}, "breakdown: Extra inputs are not permitted"),
        ({"event": ""}, "event: event must be 1 to 200 characters"),
        ({"date_from": "2024-05-04", "date_to": "2024-05-01"}, "date_to (2024-05-01) is before date_from"),
    ],
)
def test_bad_queries(query: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryInvalid, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query({"kind": "lifecycle", **query})


# -- against the reference -----------------------------------------------------------------------------------

PERSONS = ["ann", "ben", "cat", "dan", "a-anon"]
BASE = dt.datetime(2024, 1, 20, tzinfo=dt.UTC)


@st.composite
def logs(draw: st.DrawFn) -> EventLog:
    """Up to 40 events of 5 ids over about 80 days around the DST change of March 2024, 2 event names."""
    log = EventLog()
    for _ in range(draw(st.integers(0, 40))):
        at = BASE + dt.timedelta(minutes=30 * draw(st.integers(0, 80 * 48)))
        browser = draw(st.sampled_from(["Chrome", "Safari"]))
        log.add(draw(st.sampled_from(PERSONS)), draw(st.sampled_from(["pageview", "signup"])), at, browser=browser)
    if draw(st.booleans()):
        log.merge("a-anon", "ann")
    return log


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    """A range of 1 to 40 days inside the logs' span, any interval, event and timezone."""
    start = dt.date(2024, 2, 1) + dt.timedelta(days=draw(st.integers(0, 40)))
    end = start + dt.timedelta(days=draw(st.integers(0, 39)))
    query: dict[str, Any] = {
        "date_from": start,
        "date_to": end,
        "interval": draw(st.sampled_from(["day", "week", "month"])),
        "event": draw(st.sampled_from(["$any", "pageview"])),
        "timezone": draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"])),
        "week_start": draw(st.sampled_from(["monday", "sunday"])),
    }
    if draw(st.booleans()):
        query["filters"] = [{"property": "browser", "op": draw(st.sampled_from(["eq", "neq"])), "value": "Chrome"}]
    return query


def run_both(engine: Engine, log: EventLog, kind: str, query: dict[str, Any]) -> Any:
    """The engine's result for a reference-style query."""
    body = {k: v for k, v in query.items() if k not in ("timezone", "week_start")}
    body = {**body, "kind": kind, "date_from": str(query["date_from"]), "date_to": str(query["date_to"])}
    return engine.run(log, body, timezone=query["timezone"], week_start=query["week_start"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=logs(), query=queries(), hours=st.booleans())
def test_agrees_with_reference(
    engine: Engine, distinct_values: str, log: EventLog, query: dict[str, Any], hours: bool
) -> None:
    with rollup(engine, hours):
        result = run_both(engine, log, "lifecycle", query)
    expected = reference_lifecycle(log.resolved(), **query)
    assert counts(result) == {k: expected[k] for k in ("dates", "new", "returning", "resurrecting", "dormant")}
    # Statuses reconcile with active persons: new + returning + resurrecting is the period's active persons,
    # and returning + dormant the previous period's.
    active = [n + r + s for n, r, s in zip(result.new, result.returning, result.resurrecting, strict=True)]
    assert active == expected["active"]
    for i in range(1, len(active)):
        assert result.returning[i] + result.dormant[i] == active[i - 1]
