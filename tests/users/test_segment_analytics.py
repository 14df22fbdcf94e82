"""Segments inside analytics queries, on both engines: `{"type": "segment", "segment_id": N}` as a filter
(global, per series, per retention side) and `{"type": "segment", "segment_ids": [...]}` as a breakdown."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from opsloop.analytics.runner import run_analysis
from opsloop.analytics.timeframe import ProjectContext
from opsloop.query.registry import ANALYSES, QueryInvalid, parse_query
from opsloop.users.definitions import Group
from opsloop.users.segment_library import SegmentLibrary, SegmentSpec
from tests.analytics.conftest import Engine, EventLog

#: Segment 1 "pro": plan = pro (alice, carol). Segment 2 "buyers": ever purchased (alice, dan).
SAVED = {
    1: SegmentSpec(
        1, "pro", Group.model_validate({"conditions": [{"type": "person", "property": "plan", "value": "pro"}]})
    ),
    2: SegmentSpec(2, "buyers", Group.model_validate({"conditions": [{"type": "event", "event": "purchase"}]})),
}
RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-03"}


def log() -> EventLog:
    """UTC, 2024-05-01 .. 05-03.

    alice (pro):   pageview 05-01 08:00, signup 05-01 09:00, purchase 05-02 10:00
    bob (free):    pageview 05-01 08:00, signup 05-02 09:00
    carol (pro):   pageview 05-02 08:00 sent as `c-anon` (merged into carol), pageview 05-03 08:00
    dan:           pageview 05-03 10:00, signup 05-03 11:00, purchase 05-03 12:00
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-05-01T08:00")
        .add("alice", "signup", "2024-05-01T09:00")
        .add("alice", "purchase", "2024-05-02T10:00")
        .add("bob", "pageview", "2024-05-01T08:00")
        .add("bob", "signup", "2024-05-02T09:00")
        .add("c-anon", "pageview", "2024-05-02T08:00")
        .add("carol", "pageview", "2024-05-03T08:00")
        .add("dan", "pageview", "2024-05-03T10:00")
        .add("dan", "signup", "2024-05-03T11:00")
        .add("dan", "purchase", "2024-05-03T12:00")
        .merge("c-anon", "carol")
        .person("alice", plan="pro")
        .person("bob", plan="free")
        .person("carol", plan="pro")
    )


def run(engine: Engine, query: dict[str, Any]) -> Any:
    model = parse_query(query)
    project = engine.load(log())
    ctx = ProjectContext(project, "UTC", "monday", dt.date(2024, 5, 31), SegmentLibrary.of(SAVED))
    return run_analysis(ANALYSES[model.kind], engine.store, ctx, model, timeout=60)  # type: ignore[attr-defined]


def segment(segment_id: int, op: str = "eq") -> dict[str, Any]:
    return {"type": "segment", "segment_id": segment_id, "op": op}


def test_trends_filter_and_breakdown(engine: Engine) -> None:
    pageviews = {"kind": "trends", **RANGE, "series": [{"event": "pageview"}]}
    assert run(engine, pageviews).series[0].values == [2, 1, 2]
    # Pro persons: alice 05-01, carol 05-02 (as c-anon: the merge counts) and 05-03.
    assert run(engine, {**pageviews, "filters": [segment(1)]}).series[0].values == [1, 1, 1]
    assert run(engine, {**pageviews, "filters": [segment(1, "neq")]}).series[0].values == [1, 0, 1]
    # A series' own segment filter: buyers' pageviews (alice 05-01, dan 05-03).
    own = {"kind": "trends", **RANGE, "series": [{"event": "pageview", "filters": [segment(2)]}, {"event": "signup"}]}
    assert [s.values for s in run(engine, own).series] == [[1, 0, 1], [1, 1, 1]]
    # Breakdown by buyers, then pro: alice and dan are buyers (first listed), carol pro, bob in neither.
    split = run(engine, {**pageviews, "breakdown": {"type": "segment", "segment_ids": [2, 1]}})
    assert {s.breakdown_value: s.values for s in split.series} == {
        "buyers": [1, 0, 1],
        "pro": [0, 1, 1],
        None: [1, 0, 0],
    }
    persons = {"kind": "trends", **RANGE, "series": [{"event": "pageview", "math": "persons"}]}
    split = run(engine, {**persons, "breakdown": {"type": "segment", "segment_ids": [1]}})
    assert {s.breakdown_value: s.total for s in split.series} == {"pro": 2, None: 2}


def test_funnel_filter_and_breakdown(engine: Engine) -> None:
    funnel = {"kind": "funnel", **RANGE, "steps": [{"event": "pageview"}, {"event": "signup"}]}
    # alice, bob and dan sign up after a pageview; carol does not.
    assert [s.count for s in run(engine, funnel).steps] == [4, 3]
    assert [s.count for s in run(engine, {**funnel, "filters": [segment(1)]}).steps] == [2, 1]
    step_filter = {
        **funnel,
        "steps": [{"event": "pageview"}, {"event": "signup", "filters": [segment(2, "neq")]}],
    }
    # Only bob's signup counts for step 2 (alice and dan are buyers).
    assert [s.count for s in run(engine, step_filter).steps] == [4, 1]
    split = run(engine, {**funnel, "breakdown": {"type": "segment", "segment_ids": [2, 1]}})
    assert {b.breakdown_value: [s.count for s in b.steps] for b in split.breakdowns} == {
        "buyers": [2, 2],
        "pro": [1, 0],
        None: [1, 1],
    }


def test_retention_filter_and_breakdown(engine: Engine) -> None:
    retention = {"kind": "retention", **RANGE, "start_event": "pageview", "intervals": 2}
    # First pageviews: alice, bob 05-01 (both back on 05-02), carol 05-02 (back 05-03), dan 05-03.
    whole = run(engine, retention)
    assert [(c.date, c.counts) for c in whole.cohorts] == [
        ("2024-05-01", [2, 2]),
        ("2024-05-02", [1, 1]),
        ("2024-05-03", [1]),  # the last cohort has only its own period inside the range
    ]
    pro = run(engine, {**retention, "filters": [segment(1)]})
    assert [(c.date, c.counts) for c in pro.cohorts] == [
        ("2024-05-01", [1, 1]),
        ("2024-05-02", [1, 1]),
        ("2024-05-03", [0]),
    ]
    returning_buyers = run(engine, {**retention, "return_filters": [segment(2)]})
    # Only alice (a buyer) comes back among the 05-01 cohort; carol is not a buyer.
    assert [c.counts for c in returning_buyers.cohorts] == [[2, 1], [1, 0], [1]]
    split = run(engine, {**retention, "breakdown": {"type": "segment", "segment_ids": [1]}})
    cohorts = {(c.date, c.breakdown_value): c.counts for c in split.cohorts}
    assert cohorts[("2024-05-01", "pro")] == [1, 1] and cohorts[("2024-05-01", None)] == [1, 1]
    assert cohorts[("2024-05-02", "pro")] == [1, 1] and cohorts[("2024-05-03", None)] == [1]


def test_segment_filters_are_validated() -> None:
    bad = [
        ({"type": "segment"}, "needs a `segment_id`"),
        ({"type": "segment", "segment_id": 1, "op": "gt"}, "`eq` (member) or `neq`"),
        ({"type": "segment", "segment_id": 1, "property": "plan"}, "takes `segment_id` and `op`"),
        ({"type": "event", "segment_id": 1, "property": "plan", "value": "x"}, "only for filters of type `segment`"),
        ({"op": "eq", "value": 1}, "`property` is required"),
    ]
    for rule, message in bad:
        query = {"kind": "trends", "series": [{"event": "a"}], "filters": [rule]}
        with pytest.raises(QueryInvalid, match=re.escape(message)):
            parse_query(query)
    for breakdown, message in [
        ({"type": "segment"}, "1 to 20 `segment_ids`"),
        ({"type": "segment", "segment_ids": [1, 1]}, "distinct"),
        ({"type": "person", "segment_ids": [1], "property": "x"}, "only for breakdowns of type `segment`"),
    ]:
        with pytest.raises(QueryInvalid, match=re.escape(message)):
            parse_query({"kind": "trends", "series": [{"event": "a"}], "breakdown": breakdown})


def test_unknown_segment_is_a_clear_error(engine: Engine) -> None:
    from opsloop.users.segment_library import SegmentInvalid

    query = {"kind": "trends", **RANGE, "series": [{"event": "pageview"}], "filters": [segment(9)]}
    with pytest.raises(SegmentInvalid, match="no segment 9"):
        run(engine, query)


def test_other_kinds_take_segment_filters(engine: Engine) -> None:
    # Pro persons' activity: alice 05-01 and 05-02, carol 05-02 (as c-anon) and 05-03.
    active = run(engine, {"kind": "active_users", **RANGE, "filters": [segment(1)]})
    assert active.dau == [1, 2, 1] and active.wau == [1, 2, 2]
    # Lifecycle of the same persons: alice new on 05-01; carol new on 05-02, alice returning; 05-03 carol
    # returning, alice dormant.
    lifecycle = run(engine, {"kind": "lifecycle", **RANGE, "filters": [segment(1)]})
    assert (lifecycle.new, lifecycle.returning, lifecycle.dormant) == ([1, 1, 0], [0, 1, 1], [0, 0, 1])
