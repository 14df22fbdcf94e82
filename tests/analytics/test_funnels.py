"""Funnels and funnel persons on every engine: hand-worked logs for each documented rule, and property tests
against the plain-Python reference (tests/analytics/reference_funnels.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics import reference_funnels as ref
from tests.analytics.conftest import Engine, EventLog, person_uuid

RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-03"}
THREE = [{"event": "pageview"}, {"event": "signup"}, {"event": "purchase"}]


def worked_example() -> EventLog:
    """The docs' example (docs/metrics.md), UTC, window 1 day, range 05-01..05-03.

    alice: pageview 05-01 10:00, signup 10:05, purchase 11:05           -> step 3 (300 s, 3600 s)
    bob:   pageview 05-01 12:00, signup 05-03 12:00 (48 h: too late for that attempt),
           pageview 05-03 11:00 (a new attempt; the signup is 1 h after) -> step 2 (3600 s)
    carol: signup 05-02 09:00, then pageview 10:00 (signup before it)   -> step 1
    dave:  pageview 04-30 23:00 (before the range), signup 05-01 01:00  -> not in the funnel
    erin:  pageview 05-02 08:00 sent as `e-anon` (merged into erin), signup at the same instant, purchase 09:00
                                                                        -> step 3 (0 s, 3600 s)
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-05-01T10:00", plan="pro")
        .add("alice", "signup", "2024-05-01T10:05", plan="free")
        .add("alice", "purchase", "2024-05-01T11:05")
        .add("bob", "pageview", "2024-05-01T12:00", plan="free")
        .add("bob", "signup", "2024-05-03T12:00")
        .add("bob", "pageview", "2024-05-03T11:00", plan="pro")
        .add("carol", "signup", "2024-05-02T09:00")
        .add("carol", "pageview", "2024-05-02T10:00", plan="free")
        .add("dave", "pageview", "2024-04-30T23:00")
        .add("dave", "signup", "2024-05-01T01:00")
        .add("e-anon", "pageview", "2024-05-02T08:00", plan="pro")
        .add("erin", "signup", "2024-05-02T08:00")
        .add("erin", "purchase", "2024-05-02T09:00", plan="free")
        .merge("e-anon", "erin")
    )


def example_query(**extra: Any) -> dict[str, Any]:
    return {"kind": "funnel", **RANGE, "window": {"value": 1, "unit": "day"}, "steps": THREE, **extra}


def counts(result: Any) -> list[int]:
    return [s.count for s in result.steps]


def test_worked_example(engine: Engine) -> None:
    result = engine.run(worked_example(), example_query())
    # step 1: alice, bob, carol, erin; step 2: alice, bob, erin; step 3: alice, erin.
    assert counts(result) == [4, 3, 2]
    assert [s.conversion_from_first for s in result.steps] == [1.0, 0.75, 0.5]
    assert [s.conversion_from_previous for s in result.steps] == [1.0, 0.75, pytest.approx(2 / 3)]
    # pageview -> signup: 300 s, 3600 s, 0 s: median 300, mean 1300. signup -> purchase: 3600 s twice.
    assert [s.median_seconds_to_convert for s in result.steps] == [None, 300, 3600]
    assert [s.mean_seconds_to_convert for s in result.steps] == [None, 1300, 3600]
    assert result.steps[0].event == "pageview" and result.steps[0].label == "pageview"


def test_worked_example_orders(engine: Engine) -> None:
    # strict: no other event of these persons falls between their steps, so the same numbers.
    assert counts(engine.run(worked_example(), example_query(order="strict"))) == [4, 3, 2]
    # unordered: carol's signup then pageview counts (2 steps); dave's signup on 05-01 is in the range but
    # his pageview is before it, outside the window from it.
    assert counts(engine.run(worked_example(), example_query(order="unordered"))) == [4, 4, 2]


def test_worked_example_breakdowns(engine: Engine) -> None:
    def by_value(attribution: str, **extra: Any) -> dict[str | None, list[int]]:
        result = engine.run(
            worked_example(),
            example_query(breakdown={"property": "plan"}, breakdown_attribution=attribution, **extra),
        )
        assert counts(result) == [4, 3, 2]
        return {b.breakdown_value: counts(b) for b in result.breakdowns or []}

    # first touch (the attempt's step 1): alice pro, bob pro (his second attempt), carol free, erin pro.
    assert by_value("first_touch") == {"pro": [3, 3, 2], "free": [1, 0, 0]}
    # last touch (the furthest step's event): alice purchase (unset), bob signup (unset), carol free, erin free.
    assert by_value("last_touch") == {"free": [2, 1, 1], None: [2, 2, 1]}
    # step 2 (signup): alice free; bob, erin unset; carol did not reach it (unset).
    assert by_value("step", attribution_step=2) == {"free": [1, 1, 1], None: [3, 2, 1]}


def test_worked_example_over_time_and_persons(engine: Engine) -> None:
    result = engine.run(worked_example(), example_query(over_time={"interval": "day"}))
    # entries: alice 05-01; carol, erin 05-02; bob 05-03 (the attempt that reached his furthest step).
    assert [(p.date, p.entered, p.converted) for p in result.over_time or []] == [
        ("2024-05-01", 1, 1),
        ("2024-05-02", 2, 1),
        ("2024-05-03", 1, 0),
    ]
    dropped = engine.run(worked_example(), example_query(kind="funnel_persons", step=3, status="dropped"))
    assert [p.person_id for p in dropped.persons] == [person_uuid("bob")]
    assert dropped.persons[0].furthest_step == 2
    assert dropped.persons[0].entered_at == dt.datetime(2024, 5, 3, 11, tzinfo=dt.UTC)


def test_persons_paging(engine: Engine) -> None:
    ids = sorted(["alice", "bob", "erin"], key=person_uuid)
    query = example_query(kind="funnel_persons", step=2, status="converted", limit=2)
    first = engine.run(worked_example(), query)
    assert [p.person_id for p in first.persons] == sorted(person_uuid(i) for i in ids)[:2]
    assert (first.total, first.next_offset) == (3, 2)
    second = engine.run(worked_example(), {**query, "offset": 2})
    assert [p.person_id for p in second.persons] == sorted(person_uuid(i) for i in ids)[2:]
    assert (second.total, second.next_offset) == (3, None)
    past = engine.run(worked_example(), {**query, "offset": 10})
    assert (past.persons, past.total, past.next_offset) == ([], 3, None)


def test_same_instant(engine: Engine) -> None:
    at = "2024-05-01T10:00"
    two = [{"event": "pageview"}, {"event": "pageview"}]
    # One event fills one step: a single pageview is step 1 only; two at the same instant fill both (0 s).
    assert counts(engine.run(EventLog().add("a", "pageview", at), {"kind": "funnel", **RANGE, "steps": two})) == [1, 0]
    log = EventLog().add("a", "pageview", at).add("a", "pageview", at)
    result = engine.run(log, {"kind": "funnel", **RANGE, "steps": two})
    assert counts(result) == [1, 1] and result.steps[1].median_seconds_to_convert == 0
    # Events at one instant are taken in step order, whatever order they were sent in.
    log = EventLog().add("a", "purchase", at).add("a", "signup", at).add("a", "pageview", at)
    assert counts(engine.run(log, {"kind": "funnel", **RANGE, "steps": THREE})) == [1, 1, 1]
    # strict: an event matching no step at the same instant comes first, so it is not in between.
    log = EventLog().add("a", "pageview", "2024-05-01T09:00").add("a", "other", at).add("a", "signup", at)
    strict = {"kind": "funnel", **RANGE, "steps": THREE[:2], "order": "strict"}
    assert counts(engine.run(log, strict)) == [1, 0]
    log = EventLog().add("a", "pageview", at).add("a", "other", at).add("a", "signup", "2024-05-01T11:00")
    assert counts(engine.run(log, strict)) == [1, 1]


def test_identical_events_are_one_sequence(engine: Engine) -> None:
    # Steps pageview x3; pageviews at 10:00 (p0) and twice at 11:00 (p1, p2: identical events). In sequence
    # p0, p1, p2: p1 is step 2 of p0's attempt, p2 step 2 of p1's and step 3 of p0's (p1 completed step 2 of
    # it before). Only p0's attempt reaches step 3: 3600 s to step 2, 0 s to step 3, whichever of the two
    # identical events the engine puts first.
    at = "2024-05-01T11:00"
    log = EventLog().add("a", "pageview", "2024-05-01T10:00").add("a", "pageview", at).add("a", "pageview", at)
    result = engine.run(log, {"kind": "funnel", **RANGE, "steps": [{"event": "pageview"}] * 3})
    assert counts(result) == [1, 1, 1]
    assert [s.median_seconds_to_convert for s in result.steps] == [None, 3600, 0]


def test_window_is_inclusive(engine: Engine) -> None:
    query = {"kind": "funnel", **RANGE, "steps": THREE[:2], "window": {"value": 2, "unit": "hour"}}
    log = EventLog().add("a", "pageview", "2024-05-01T10:00").add("a", "signup", "2024-05-01T12:00")
    assert counts(engine.run(log, query)) == [1, 1]
    log = EventLog().add("a", "pageview", "2024-05-01T10:00").add("a", "signup", "2024-05-01T12:00:00.000001")
    assert counts(engine.run(log, query)) == [1, 0]


def test_range_edges(engine: Engine) -> None:
    query = {"kind": "funnel", **RANGE, "steps": THREE[:2]}
    # Step 1 before date_from does not count; step 2 after date_to (inside the window) does.
    log = (
        EventLog()
        .add("a", "pageview", "2024-04-30T23:59")
        .add("a", "signup", "2024-05-01T00:01")
        .add("b", "pageview", "2024-05-03T23:59")
        .add("b", "signup", "2024-05-05T10:00")
    )
    assert counts(engine.run(log, query)) == [1, 1]
    # In Asia/Shanghai the range starts 8 hours earlier (04-30 16:00 UTC): a's pageview is inside it.
    assert counts(engine.run(log, query, timezone="Asia/Shanghai")) == [1, 1]
    assert counts(engine.run(log, {**query, "date_to": "2024-05-02"}, timezone="Asia/Shanghai")) == [1, 1]


def test_exclusions(engine: Engine) -> None:
    query = {
        "kind": "funnel",
        **RANGE,
        "steps": THREE,
        "exclusions": [{"event": "error", "from_step": 1, "to_step": 2}],
    }
    # a: the error ends the attempt after its step 1; b: a new attempt after the error converts;
    # c: an error after step 2 is not between steps 1 and 2.
    log = (
        EventLog()
        .add("a", "pageview", "2024-05-01T10:00")
        .add("a", "error", "2024-05-01T10:01")
        .add("a", "signup", "2024-05-01T10:02")
        .add("b", "pageview", "2024-05-01T10:00")
        .add("b", "error", "2024-05-01T10:01")
        .add("b", "pageview", "2024-05-01T10:02")
        .add("b", "signup", "2024-05-01T10:03")
        .add("c", "pageview", "2024-05-01T10:00")
        .add("c", "signup", "2024-05-01T10:02")
        .add("c", "error", "2024-05-01T10:03")
        .add("c", "purchase", "2024-05-01T10:04")
    )
    assert counts(engine.run(log, query)) == [3, 2, 1]
    # An exclusion at the same instant as to_step comes before it (no step matched): it ends the attempt.
    log = EventLog().add("a", "pageview", "2024-05-01T10:00").add("a", "signup", "2024-05-01T10:01")
    log.add("a", "error", "2024-05-01T10:01")
    assert counts(engine.run(log, query)) == [1, 0, 0]


def test_time_to_convert_uses_latest_attempt(engine: Engine) -> None:
    # Two attempts reach step 2: 10:00 -> 12:00 and 11:00 -> 12:00. The one starting latest counts: 3600 s.
    log = (
        EventLog()
        .add("a", "pageview", "2024-05-01T10:00")
        .add("a", "pageview", "2024-05-01T11:00")
        .add("a", "signup", "2024-05-01T12:00")
    )
    result = engine.run(log, {"kind": "funnel", **RANGE, "steps": THREE[:2]})
    assert result.steps[1].median_seconds_to_convert == 3600
    # A later attempt that reaches less far is not the one used: 10:00 -> 11:00 counts, not the 12:00 pageview.
    log = (
        EventLog()
        .add("a", "pageview", "2024-05-01T10:00")
        .add("a", "signup", "2024-05-01T11:00")
        .add("a", "pageview", "2024-05-03T12:00")
    )
    result = engine.run(log, {"kind": "funnel", **RANGE, "steps": THREE[:2], "over_time": {"interval": "day"}})
    assert result.steps[1].median_seconds_to_convert == 3600
    assert [p.entered for p in result.over_time or []] == [1, 0, 0]


def test_filters_apply_to_every_event(engine: Engine) -> None:
    # With the filter, the `other` event (from a bot) is not read, so it is not between the strict steps;
    # the step filter keeps only the `pro` pageview.
    log = (
        EventLog()
        .add("a", "pageview", "2024-05-01T10:00", plan="free")
        .add("a", "pageview", "2024-05-01T10:01", plan="pro")
        .add("a", "other", "2024-05-01T10:02", bot="yes")
        .add("a", "signup", "2024-05-01T10:03")
    )
    steps = [{"event": "pageview", "filters": [{"property": "plan", "value": "pro"}]}, {"event": "signup"}]
    query = {"kind": "funnel", **RANGE, "steps": steps, "order": "strict"}
    assert counts(engine.run(log, query)) == [1, 0]
    no_bots = [{"property": "bot", "op": "is_not_set"}]
    result = engine.run(log, {**query, "filters": no_bots})
    assert counts(result) == [1, 1] and result.steps[1].median_seconds_to_convert == 120


def test_daylight_saving_day(engine: Engine) -> None:
    # New York springs forward on 2024-03-10 (23-hour day). 03-10 00:30 local = 05:30 UTC; 03-10 23:30 local
    # = 03:30 UTC on the 11th. Both entries are on the local 10th; the one at 03-11 00:30 local is the 11th.
    log = (
        EventLog()
        .add("a", "pageview", "2024-03-10T05:30")
        .add("a", "signup", "2024-03-10T07:00")
        .add("b", "pageview", "2024-03-11T03:30")
        .add("c", "pageview", "2024-03-11T04:30")
        .add("c", "signup", "2024-03-11T05:00")
    )
    query = {
        "kind": "funnel",
        "date_from": "2024-03-10",
        "date_to": "2024-03-11",
        "steps": THREE[:2],
        "over_time": {"interval": "day"},
    }
    result = engine.run(log, query, timezone="America/New_York")
    assert [(p.date, p.entered, p.converted) for p in result.over_time or []] == [
        ("2024-03-10", 2, 1),
        ("2024-03-11", 1, 1),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": [{"event": "pageview"}] * 500}, "steps"),
        ({"steps": [{"event": "pageview"}]}, "steps"),
        ({"window": {"value": 0, "unit": "day"}}, "window.value"),
        ({"window": {"value": 1, "unit": "month"}}, "window.unit"),
        ({"order": "random"}, "order"),
        ({"exclusions": [{"event": "x", "from_step": 2, "to_step": 4}]}, "exclusions"),
        ({"exclusions": [{"event": "x", "from_step": 2, "to_step": 2}]}, "to_step"),
        ({"breakdown_attribution": "step"}, "attribution_step"),
        ({"date_from": "2024-05-03", "date_to": "2024-05-01"}, "date_to"),
        ({"steps": [{"event": "a", "filters": [{"property": "x'; DROP", "op": "gt", "value": "1"}]}] * 2}, "steps"),
        ({"kind": "funnel_persons", "step": 4}, "step"),
        ({"kind": "funnel_persons", "step": 2, "limit": 5000}, "limit"),
        ({"kind": "funnel_persons", "step": 1, "status": "dropped"}, "step"),
    ],
)
def test_bad_queries(change: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryInvalid, match=field.replace(".", r"\.")):
        parse_query({"kind": "funnel", **RANGE, "steps": THREE, **change})


def test_property_name_is_never_sql(engine: Engine) -> None:
    name = "it's\"; DROP TABLE events; --"
    log = EventLog().add("a", "pageview", "2024-05-01T10:00", **{name: "v"}).add("a", "signup", "2024-05-01T10:01")
    query = {"kind": "funnel", **RANGE, "steps": [{"event": "pageview", "filters": [{"property": name, "value": "v"}]}]}
    query["steps"].append({"event": "signup"})
    assert counts(engine.run(log, {**query, "breakdown": {"property": name}})) == [1, 1]


# -- property tests against the reference ---------------------------------------------------------------------

NAMES = ["a", "b", "c"]
BASE = dt.datetime(2024, 5, 1, 20, tzinfo=dt.UTC)
EVENT = st.tuples(
    st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from([*NAMES, "z"]),
    st.integers(0, 40),  # hours after BASE: coarse, so events share instants
    st.sampled_from([None, "x", "y"]),
)
STEP = st.tuples(st.sampled_from([*NAMES, "$any"]), st.sampled_from([None, "x"]))


@st.composite
def funnels(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any], ref.Funnel]:
    events = draw(st.lists(EVENT, max_size=14))
    steps = draw(st.lists(STEP, min_size=2, max_size=4))
    order = draw(st.sampled_from(["ordered", "strict", "unordered"]))
    hours = draw(st.sampled_from([1, 3, 12]))
    exclusions = []
    if order != "unordered" and draw(st.booleans()):
        a = draw(st.integers(1, len(steps) - 1))
        exclusions = [(draw(st.sampled_from(NAMES)), a, draw(st.integers(a + 1, len(steps))))]
    attribution = draw(st.sampled_from(["first_touch", "last_touch", "step"]))
    timezone = draw(st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]))
    breakdown = draw(st.booleans())
    query: dict[str, Any] = {
        "kind": "funnel",
        "date_from": "2024-05-02",
        "date_to": "2024-05-02",
        "steps": [{"event": e, "filters": [] if k is None else [{"property": "k", "value": k}]} for e, k in steps],
        "window": {"value": hours, "unit": "hour"},
        "order": order,
        "exclusions": [{"event": e, "from_step": a, "to_step": b} for e, a, b in exclusions],
    }
    if breakdown:
        query["breakdown"] = {"property": "k", "limit": 1}
        query["breakdown_attribution"] = attribution
        if attribution == "step":
            query["attribution_step"] = len(steps)
    f = ref.Funnel(
        steps=[ref.Part(e, () if k is None else (("k", "eq", k),)) for e, k in steps],
        window_seconds=hours * 3600,
        date_from=dt.date(2024, 5, 2),
        date_to=dt.date(2024, 5, 2),
        timezone=timezone,
        order=order,
        exclusions=[ref.Part(e, (), a, b) for e, a, b in exclusions],
        breakdown="k" if breakdown else None,
        breakdown_limit=1,
        attribution=attribution,
        attribution_step=len(steps),
    )
    return events, query, f


def _log(events: list[Any]) -> EventLog:
    log = EventLog()
    for person, name, hours, k in events:
        props = {} if k is None else {"k": k}
        log.add(person, name, BASE + dt.timedelta(hours=hours), **props)
    return log.merge("p3", "p1")


def _same(engine_steps: Any, expected: list[dict[str, Any]]) -> None:
    got = [s.model_dump(exclude={"event", "label"}) for s in engine_steps]
    assert got == [{k: v if v is None else pytest.approx(v) for k, v in e.items()} for e in expected]


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=funnels())
def test_matches_reference(engine: Engine, case: tuple[list[Any], dict[str, Any], ref.Funnel]) -> None:
    events, query, f = case
    log = _log(events)
    tz = f.timezone
    query = {**query, "over_time": {"interval": "day"}}
    result = engine.run(log, query, timezone=tz)
    expected = ref.funnel(log.resolved(), f)
    _same(result.steps, expected["steps"])
    counts_ = [s.count for s in result.steps]
    assert counts_ == sorted(counts_, reverse=True)
    if f.breakdown:
        got = {b.breakdown_value: b.steps for b in result.breakdowns or []}
        assert set(got) == set(expected["breakdowns"])
        for value, steps in expected["breakdowns"].items():
            _same(got[value], steps)
    periods = ref.over_time(log.resolved(), f, "day")
    assert {p.date: (p.entered, p.converted) for p in result.over_time or [] if p.entered} == periods


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=funnels(), step=st.integers(2, 4), status=st.sampled_from(["converted", "dropped"]))
def test_persons_match_reference(
    engine: Engine, case: tuple[list[Any], dict[str, Any], ref.Funnel], step: int, status: str
) -> None:
    events, query, f = case
    step = min(step, len(f.steps))
    query = {k: v for k, v in query.items() if not k.startswith("breakdown") and k != "attribution_step"}
    log = _log(events)
    result = engine.run(log, {**query, "kind": "funnel_persons", "step": step, "status": status}, timezone=f.timezone)
    expected = sorted((person_uuid(p), level) for p, level in ref.persons(log.resolved(), f, step, status))
    assert [(p.person_id, p.furthest_step) for p in result.persons] == expected
    assert result.total == len(expected)
