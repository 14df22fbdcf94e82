"""Tags inside analytics queries, on both engines: `{"type": "tag", "property": T, ...}` as a filter and as a
breakdown, in trends and retention (the log of tests/users/test_segment_analytics.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from opsloop.analytics.runner import run_analysis
from opsloop.analytics.timeframe import ProjectContext
from opsloop.query.registry import ANALYSES, QueryInvalid, parse_query
from opsloop.users.segment_library import SegmentLibrary
from tests.analytics.conftest import Engine, person_uuid
from tests.users.test_segment_analytics import RANGE, log

#: Tag `tier`: alice and dan gold, bob silver, carol none.
TAGS = {"tier": {person_uuid("alice"): "gold", person_uuid("dan"): "gold", person_uuid("bob"): "silver"}}


def run(engine: Engine, query: dict[str, Any]) -> Any:
    model = parse_query(query)
    ctx = ProjectContext(engine.load(log()), "UTC", "monday", dt.date(2024, 5, 31), SegmentLibrary.of({}, TAGS))
    return run_analysis(ANALYSES[model.kind], engine.store, ctx, model, timeout=60)  # type: ignore[attr-defined]


def tier(op: str = "eq", value: Any = "gold") -> dict[str, Any]:
    return {"type": "tag", "property": "tier", "op": op, "value": value}


def test_trends(engine: Engine) -> None:
    pageviews = {"kind": "trends", **RANGE, "series": [{"event": "pageview"}]}
    # Gold pageviews: alice 05-01, dan 05-03.
    assert run(engine, {**pageviews, "filters": [tier()]}).series[0].values == [1, 0, 1]
    # Not gold: bob 05-01, carol 05-02 (as c-anon, merged) and 05-03 (no tag counts as "not equal").
    assert run(engine, {**pageviews, "filters": [tier("neq")]}).series[0].values == [1, 1, 1]
    assert run(engine, {**pageviews, "filters": [tier("is_not_set", None)]}).series[0].values == [0, 1, 1]
    split = run(engine, {**pageviews, "breakdown": {"type": "tag", "property": "tier"}})
    assert {s.breakdown_value: s.values for s in split.series} == {
        "gold": [1, 0, 1],
        "silver": [1, 0, 0],
        None: [0, 1, 1],
    }


def test_retention(engine: Engine) -> None:
    retention = {"kind": "retention", **RANGE, "start_event": "pageview", "intervals": 2}
    # Gold first pageviews: alice 05-01 (back 05-02), dan 05-03.
    gold = run(engine, {**retention, "filters": [tier()]})
    assert [(c.date, c.counts) for c in gold.cohorts] == [
        ("2024-05-01", [1, 1]),
        ("2024-05-02", [0, 0]),
        ("2024-05-03", [1]),
    ]
    split = run(engine, {**retention, "breakdown": {"type": "tag", "property": "tier"}})
    cohorts = {(c.date, c.breakdown_value): c.counts for c in split.cohorts}
    assert cohorts[("2024-05-01", "gold")] == [1, 1] and cohorts[("2024-05-01", "silver")] == [1, 1]
    assert cohorts[("2024-05-02", None)] == [1, 1] and cohorts[("2024-05-03", "gold")] == [1]


def test_tag_filters_are_validated() -> None:
    with pytest.raises(QueryInvalid, match="`property` is required"):
        parse_query({"kind": "trends", "series": [{"event": "a"}], "filters": [{"type": "tag", "value": "x"}]})
    with pytest.raises(QueryInvalid, match="`in` needs a list"):
        parse_query({"kind": "trends", "series": [{"event": "a"}], "filters": [tier("in", "gold")]})


def test_funnel_and_series_filters(engine: Engine) -> None:
    # Gold persons: alice (pageview 05-01, signup 05-01) and dan (pageview, signup 05-03) convert; a series'
    # own tag filter reads the person of each row of the events relation.
    funnel = {"kind": "funnel", **RANGE, "steps": [{"event": "pageview"}, {"event": "signup"}]}
    assert [s.count for s in run(engine, {**funnel, "filters": [tier()]}).steps] == [2, 2]
    split = run(engine, {**funnel, "breakdown": {"type": "tag", "property": "tier"}})
    assert {b.breakdown_value: [s.count for s in b.steps] for b in split.breakdowns} == {
        "gold": [2, 2],
        "silver": [1, 1],
        None: [1, 0],
    }
    own = {"kind": "trends", **RANGE, "series": [{"event": "signup", "filters": [tier("eq", "silver")]}]}
    assert run(engine, own).series[0].values == [0, 1, 0]  # bob's signup on 05-02
