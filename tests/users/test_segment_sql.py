"""Segment definitions on DuckDB and ClickHouse: hand-worked cases, then agreement with a plain-Python
evaluation of the same definitions on random persons and events (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.users.definitions import Group
from opsloop.users.segment_library import SegmentSpec
from tests.analytics.conftest import Engine, EventLog
from tests.users.conftest import members
from tests.users.reference_segments import Reference

TODAY = dt.date(2024, 6, 30)


def shop() -> EventLog:
    """Four persons; today is 2024-06-30 (UTC).

    ann: pro, born 1990; bought 3 times (06-01, 06-20, 06-29; amounts 10, 50, 5), viewed 06-29.
    bob: free, born 2004 ("2004" as text); bought once 05-01 (amount 100); first seen 05-01.
    cat: pro, age 40 (an `age` property, no birth year); viewed 06-30; `c-anon` (merged into cat) viewed 04-01.
    dan: no properties; signed up 06-30.
    """
    log = EventLog()
    for day, amount in (("06-01", 10), ("06-20", 50), ("06-29", 5)):
        log.add("ann", "purchase", f"2024-{day}T10:00:00", amount=amount)
    log.add("ann", "pageview", "2024-06-29T11:00:00")
    log.add("bob", "purchase", "2024-05-01T10:00:00", amount=100)
    log.add("cat", "pageview", "2024-06-30T09:00:00")
    log.add("c-anon", "pageview", "2024-04-01T09:00:00").merge("c-anon", "cat")
    log.add("dan", "signup", "2024-06-30T09:00:00")
    log.person("ann", plan="pro", birth_year=1990).person("bob", plan="free", birth_year="2004")
    log.person("cat", plan="pro", age=40)
    return log


def group(*conditions: dict[str, Any], operator: str = "and", negate: bool = False) -> dict[str, Any]:
    return {"type": "group", "operator": operator, "negate": negate, "conditions": list(conditions)}


def test_person_properties(engine: Engine) -> None:
    log = shop()
    assert members(engine, log, group({"type": "person", "property": "plan", "value": "pro"})) == {"ann", "cat"}
    # `neq` holds for persons without the property (dan).
    neq = group({"type": "person", "property": "plan", "op": "neq", "value": "pro"})
    assert members(engine, log, neq) == {"bob", "dan"}
    # Birth years 1990 and "2004" (text that reads as a number) lie in [1989, 2005].
    between = group({"type": "person", "property": "birth_year", "op": "between", "value": [1989, 2005]})
    assert members(engine, log, between) == {"ann", "bob"}
    unset = group({"type": "person", "property": "plan", "op": "is_not_set"})
    assert members(engine, log, unset) == {"dan"}
    contains = group({"type": "person", "property": "plan", "op": "contains", "value": "FR"})
    assert members(engine, log, contains) == {"bob"}


def test_age_bands(engine: Engine) -> None:
    log = shop()
    # 2024 - 1990 = 34, 2024 - 2004 = 20: only bob is 18-24.
    assert members(engine, log, group({"type": "age", "min": 18, "max": 24})) == {"bob"}
    assert members(engine, log, group({"type": "age", "min": 30})) == {"ann"}
    by_age = group({"type": "age", "property": "age", "source": "age", "min": 35, "max": 45})
    assert members(engine, log, by_age) == {"cat"}


def test_behaviour(engine: Engine) -> None:
    log = shop()
    # Purchases in the last 30 days (06-01 .. 06-30): ann 3, bob 0.
    recent = {"type": "event", "event": "purchase", "within_days": 30}
    assert members(engine, log, group({**recent, "count_op": "gte", "count": 3})) == {"ann"}
    assert members(engine, log, group({**recent, "count_op": "eq", "count": 1})) == set()
    # At most once includes persons who never bought (cat, dan) and bob (0 in the window).
    assert members(engine, log, group({**recent, "count_op": "lte", "count": 1})) == {"bob", "cat", "dan"}
    assert members(engine, log, group({"type": "event", "event": "purchase", "did": False})) == {"cat", "dan"}
    # 06-20's 50 and bob's 100 are >= 20; all time.
    big = {"type": "event", "event": "purchase", "filters": [{"property": "amount", "op": "gte", "value": 20}]}
    assert members(engine, log, group(big)) == {"ann", "bob"}
    dates = {"type": "event", "event": "purchase", "date_from": "2024-05-01", "date_to": "2024-06-01"}
    assert members(engine, log, group(dates)) == {"ann", "bob"}
    # cat's first event is c-anon's 04-01 pageview (through the merge): first seen before May.
    first = {"type": "first_seen", "date_to": "2024-04-30"}
    assert members(engine, log, group(first)) == {"cat"}
    last = {"type": "last_seen", "within_days": 1}
    assert members(engine, log, group(last)) == {"cat", "dan"}


def test_groups_and_saved_segments(engine: Engine) -> None:
    log = shop()
    pro = group({"type": "person", "property": "plan", "value": "pro"})
    buyers = {"type": "event", "event": "purchase"}
    either = group(pro, buyers, operator="or")
    assert members(engine, log, either) == {"ann", "bob", "cat"}
    assert members(engine, log, group(pro, buyers, operator="or", negate=True)) == {"dan"}
    saved = {
        1: SegmentSpec(1, "pro", Group.model_validate(pro)),
        2: SegmentSpec(2, "vip list", None, distinct_ids=("c-anon", "dan", "nobody")),
    }
    in_pro = group({"type": "segment", "segment_id": 1}, {"type": "segment", "segment_id": 2, "member": False})
    assert members(engine, log, in_pro, saved=saved) == {"ann"}
    # The static list names cat through her merged anonymous id.
    assert members(engine, log, group({"type": "segment", "segment_id": 2}), saved=saved) == {"cat", "dan"}


def test_windows_follow_the_project_timezone(engine: Engine) -> None:
    # In Asia/Shanghai (UTC+8) "today" 2024-06-30 starts at 06-29 16:00 UTC: ann's purchase at 06-29 10:00
    # UTC is on the 29th locally, cat's pageview at 06-30 09:00 UTC on the 30th.
    log = shop()
    today = group({"type": "event", "event": "$any", "within_days": 1})
    assert members(engine, log, today, timezone="Asia/Shanghai") == {"cat", "dan"}
    assert members(engine, log, today) == {"cat", "dan"}
    two = group({"type": "event", "event": "$any", "within_days": 2})
    assert members(engine, log, two, timezone="Asia/Shanghai") == {"ann", "cat", "dan"}


# -- agreement with the reference on random data --------------------------------------------------------------

NAMES = ["u0", "u1", "u2", "u3", "u4"]
EVENTS = ["view", "buy", "signup"]
START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
values = st.sampled_from(["free", "pro", "5", 5, 2.5, True, None])

event_st = st.tuples(
    st.sampled_from(NAMES + ["anon"]),
    st.sampled_from(EVENTS),
    st.integers(0, 40 * 24 - 1),
    st.sampled_from([None, 1, 5, 20, "x"]),
)
window_st = st.one_of(
    st.just({}),
    st.builds(lambda n: {"within_days": n}, st.integers(1, 40)),
    st.builds(
        lambda a, b: {
            "date_from": str(dt.date(2024, 6, 1) + dt.timedelta(days=min(a, b))),
            "date_to": str(dt.date(2024, 6, 1) + dt.timedelta(days=max(a, b))),
        },
        st.integers(0, 40),
        st.integers(0, 40),
    ),
)
person_leaf = st.one_of(
    st.builds(
        lambda p, v: {"type": "person", "property": p, "op": "eq", "value": v},
        st.sampled_from(["plan", "level"]),
        st.sampled_from(["pro", "free", 5, True]),
    ),
    st.builds(
        lambda p, v: {"type": "person", "property": p, "op": "neq", "value": v},
        st.sampled_from(["plan", "level"]),
        st.sampled_from(["pro", 5]),
    ),
    st.builds(lambda v: {"type": "person", "property": "level", "op": "gte", "value": v}, st.sampled_from([2, 5])),
    st.builds(lambda p: {"type": "person", "property": p, "op": "is_set"}, st.sampled_from(["plan", "level"])),
    st.builds(
        lambda lo: {"type": "person", "property": "level", "op": "between", "value": [lo, lo + 3]}, st.integers(0, 5)
    ),
    st.builds(lambda lo: {"type": "age", "property": "level", "source": "age", "min": lo}, st.integers(0, 6)),
)
event_leaf = st.builds(
    lambda e, w, did, op, n, f: {
        "type": "event",
        "event": e,
        **w,
        **({"did": False} if not did else {"count_op": op, "count": n}),
        "filters": [{"property": "amount", "op": "gte", "value": 5}] if f else [],
    },
    st.sampled_from(EVENTS + ["$any"]),
    window_st,
    st.booleans(),
    st.sampled_from(["gte", "lte", "eq"]),
    st.integers(0, 3),
    st.booleans(),
)
seen_leaf = st.builds(lambda t, w: {"type": t, **w}, st.sampled_from(["first_seen", "last_seen"]), window_st)
segment_leaf = st.builds(
    lambda s, m: {"type": "segment", "segment_id": s, "member": m}, st.sampled_from([1, 2]), st.booleans()
)
tag_leaf = st.one_of(
    st.builds(
        lambda o, v: {"type": "tag", "tag": "tier", "op": o, "value": v},
        st.sampled_from(["eq", "neq"]),
        st.sampled_from(["gold", "silver"]),
    ),
    st.just({"type": "tag", "tag": "tier", "op": "in", "value": ["gold", "silver"]}),
    st.builds(lambda o: {"type": "tag", "tag": "tier", "op": o}, st.sampled_from(["is_set", "is_not_set"])),
)
thresholds_st = st.sampled_from(
    [None, {"new_days": 1, "active_days": 3, "churn_days": 10}, {"new_days": 5, "active_days": 10, "churn_days": 20}]
)
stage_leaf = st.builds(
    lambda stages, t: {"type": "lifecycle_stage", "stages": stages, **({"thresholds": t} if t else {})},
    st.lists(
        st.sampled_from(["new", "active", "resurrected", "dormant", "churned"]), min_size=1, max_size=2, unique=True
    ),
    thresholds_st,
)
rfm_leaf = st.builds(
    lambda days, names, cells: {
        "type": "rfm_segment",
        "rfm": {"value_event": "buy", "amount_property": "amount", "lookback_days": days},
        "segments": names,
        "cells": cells if cells or not names else [],
    },
    st.sampled_from([5, 20, 40]),
    st.lists(st.sampled_from(["Champions", "Loyal", "Hibernating", "At Risk", "About to Sleep", "New"]), max_size=2),
    st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=3),
)
leaf = st.one_of(person_leaf, event_leaf, seen_leaf, segment_leaf, tag_leaf, stage_leaf, rfm_leaf)
tree = st.recursive(
    leaf,
    lambda inner: st.builds(
        lambda cs, o, n: group(*cs, operator=o, negate=n),
        st.lists(inner, min_size=1, max_size=3),
        st.sampled_from(["and", "or"]),
        st.booleans(),
    ),
    max_leaves=5,
)


@st.composite
def logs(draw: st.DrawFn) -> EventLog:
    log = EventLog()
    for who, event, hour, amount in draw(st.lists(event_st, max_size=25)):
        props = {} if amount is None else {"amount": amount}
        log.add(who, event, START + dt.timedelta(hours=hour), **props)
    for name in NAMES:
        plan, level = draw(values), draw(values)
        props = {k: v for k, v in (("plan", plan), ("level", level)) if v is not None}
        if props:
            log.person(name, **props)
    if draw(st.booleans()):
        log.merge("anon", draw(st.sampled_from(NAMES)))
    return log


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=logs(),
    definition=tree,
    timezone=st.sampled_from(["UTC", "America/New_York"]),
    tiers=st.lists(st.sampled_from([None, "gold", "silver"]), min_size=len(NAMES), max_size=len(NAMES)),
)
def test_engine_agrees_with_reference(
    engine: Engine, log: EventLog, definition: dict[str, Any], timezone: str, tiers: list[str | None]
) -> None:
    root = Group.model_validate(definition if definition.get("type") == "group" else group(definition))
    saved = {
        1: SegmentSpec(1, "buyers", Group.model_validate(group({"type": "event", "event": "buy", "within_days": 20}))),
        2: SegmentSpec(2, "list", None, distinct_ids=("u1", "anon")),
    }
    today = dt.date(2024, 7, 5)
    tags = {"tier": {name: tier for name, tier in zip(NAMES, tiers, strict=True) if tier is not None}}
    expected = Reference(log, today, timezone, saved, tags).members(root)
    assert members(engine, log, root, saved=saved, today=today, timezone=timezone, tags=tags) == expected
