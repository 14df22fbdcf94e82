"""Paths on every engine: hand-worked small logs, edge cases, validation, and agreement with the reference."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.analytics import paths as paths_module
from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics.conftest import Engine, EventLog
from tests.analytics.reference_paths import paths as reference_paths


def worked_log() -> EventLog:
    """The worked example of docs/metrics.md (UTC, range 2024-05-01 .. 2024-05-02).

    alice: pageview 09:00, pageview 09:05, signup 09:10, purchase 09:30 on the 1st
    bob:   pageview and purchase both at 10:00 (same instant: by name, pageview first), signup 11:00 on the 1st
    carol: signup on 04-30 (before the range), pageview on the 1st
    dave:  pageview on the 2nd sent as `d-anon` (merged into dave), signup on the 2nd
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-05-01T09:00")
        .add("alice", "pageview", "2024-05-01T09:05")
        .add("alice", "signup", "2024-05-01T09:10")
        .add("alice", "purchase", "2024-05-01T09:30")
        .add("bob", "purchase", "2024-05-01T10:00")
        .add("bob", "pageview", "2024-05-01T10:00")
        .add("bob", "signup", "2024-05-01T11:00")
        .add("carol", "signup", "2024-04-30T23:00")
        .add("carol", "pageview", "2024-05-01T12:00")
        .add("d-anon", "pageview", "2024-05-02T08:00")
        .add("dave", "signup", "2024-05-02T08:30")
        .merge("d-anon", "dave")
    )


RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-02"}


def run(engine: Engine, log: EventLog, **query: Any) -> dict[str, Any]:
    result = engine.run(log, {"kind": "paths", **RANGE, **query})
    dumped: dict[str, Any] = result.model_dump()
    return dumped


def links(result: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(link["source"], link["target"], link["persons"]) for link in result["links"]]


def nodes(result: dict[str, Any]) -> list[tuple[str, int]]:
    return [(node["name"], node["persons"]) for node in result["nodes"]]


def dropoffs(result: dict[str, Any]) -> list[int]:
    return [d["persons"] for d in result["dropoffs"]]


#: How paths read each person's events: the window nearest the anchor (DuckDB's plan), the whole sequence
#: sorted as integer keys (ClickHouse's), or the whole sequence of (time, name) pairs (the fallback of both).
PLANS = ["window", "ranked", "whole"]


@pytest.fixture(params=PLANS)
def plan(engine: Engine, request: pytest.FixtureRequest) -> Iterator[str]:
    """Run paths through any plan whatever the engine prefers, so that each is checked on both engines."""
    dialect = engine.store.dialect
    if request.param == "window" and not dialect.keeps_top_values:
        pytest.skip(f"{dialect.name} has no top_values aggregate")
    setattr(dialect, "keeps_top_values", request.param == "window")  # noqa: B010 (class flags, shadowed)
    setattr(dialect, "sorts_integer_lists", request.param == "ranked")  # noqa: B010
    try:
        yield request.param
    finally:
        delattr(dialect, "keeps_top_values")
        delattr(dialect, "sorts_integer_lists")


def test_worked_example_from_first_event(engine: Engine, plan: str) -> None:
    result = run(engine, worked_log(), steps=3)
    # alice: pageview (x2, collapsed), signup, purchase; bob: pageview, purchase, signup (same instant: by
    # name); carol: pageview (her signup is before the range); dave: pageview (through the merge), signup.
    assert links(result) == [
        ("1_pageview", "2_signup", 2),  # alice, dave
        ("1_pageview", "2_purchase", 1),  # ties: by source step, source event, target event
        ("2_purchase", "3_signup", 1),
        ("2_signup", "3_purchase", 1),
    ]
    assert nodes(result) == [
        ("1_pageview", 4),
        ("2_signup", 2),
        ("2_purchase", 1),
        ("3_purchase", 1),
        ("3_signup", 1),
    ]
    assert result["nodes"][0] == {"name": "1_pageview", "step": 1, "event": "pageview", "persons": 4}
    # carol stops at step 1, dave at step 2.
    assert dropoffs(result) == [1, 1]
    assert result["persons"] == 4


def test_worked_example_to_an_end_event(engine: Engine, plan: str) -> None:
    result = run(engine, worked_log(), steps=3, end_event="signup")
    # Numbered so that signup is step 3. alice: pageview, signup; bob: pageview, purchase, signup; dave:
    # pageview, signup; carol has no signup in the range and no path.
    assert links(result) == [
        ("2_pageview", "3_signup", 2),
        ("1_pageview", "2_purchase", 1),
        ("2_purchase", "3_signup", 1),
    ]
    assert nodes(result) == [("1_pageview", 1), ("2_pageview", 2), ("2_purchase", 1), ("3_signup", 3)]
    # Traced back from signup: alice's and dave's paths have nothing before step 2.
    assert result["dropoffs"] == [{"step": 2, "persons": 2}, {"step": 3, "persons": 0}]
    assert result["persons"] == 3


def test_start_event_and_repeats(engine: Engine, plan: str) -> None:
    collapsed = run(engine, worked_log(), steps=3, start_event="signup")
    # From each person's first signup in the range: alice signup, purchase; bob signup; dave signup.
    assert links(collapsed) == [("1_signup", "2_purchase", 1)]
    assert nodes(collapsed) == [("1_signup", 3), ("2_purchase", 1)]
    assert dropoffs(collapsed) == [2, 1]
    repeats = run(engine, worked_log(), steps=3, start_event="pageview", collapse_repeats=False)
    # alice's two pageviews are two steps.
    assert links(repeats) == [
        ("1_pageview", "2_pageview", 1),
        ("1_pageview", "2_purchase", 1),
        ("1_pageview", "2_signup", 1),
        ("2_pageview", "3_signup", 1),
        ("2_purchase", "3_signup", 1),
    ]


def test_limit_keeps_top_links_and_their_nodes(engine: Engine) -> None:
    result = run(engine, worked_log(), steps=3, limit=1)
    assert links(result) == [("1_pageview", "2_signup", 2)]
    # Node counts still count every person at the node, also those who stopped there.
    assert nodes(result) == [("1_pageview", 4), ("2_signup", 2)]
    assert dropoffs(result) == [1, 1]


def test_include_and_exclude_events(engine: Engine, plan: str) -> None:
    log = (
        EventLog()
        .add("p", "home", "2024-05-01T10:00")
        .add("p", "ping", "2024-05-01T10:01")
        .add("p", "home", "2024-05-01T10:02")
        .add("p", "cart", "2024-05-01T10:03")
    )
    # Without `ping`, home - home collapses into one step.
    assert links(run(engine, log, exclude_events=["ping"])) == [("1_home", "2_cart", 1)]
    assert links(run(engine, log, include_events=["home", "cart"], collapse_repeats=False)) == [
        ("1_home", "2_home", 1),
        ("2_home", "3_cart", 1),
    ]
    assert links(run(engine, log)) == [("1_home", "2_ping", 1), ("2_ping", "3_home", 1), ("3_home", "4_cart", 1)]


def test_range_bounds_and_filters(engine: Engine, plan: str) -> None:
    log = (
        EventLog()
        .add("p", "a", "2024-04-30T23:59")  # before the range: not the first event
        .add("p", "b", "2024-05-01T00:00", plan="pro")
        .add("p", "c", "2024-05-02T23:59", plan="free")
        .add("p", "d", "2024-05-03T00:00", plan="pro")  # after the range
    )
    assert links(run(engine, log)) == [("1_b", "2_c", 1)]
    # A filter removes events from the sequence before it is cut: c is not read.
    only_pro = run(engine, log, filters=[{"property": "plan", "value": "pro"}])
    assert links(only_pro) == [] and only_pro["persons"] == 1 and dropoffs(only_pro) == [1, 0, 0, 0]


def test_start_event_only_counts_in_range_and_steps_cut(engine: Engine) -> None:
    log = EventLog().add("p", "x", "2024-04-30T12:00")
    for i, name in enumerate(["y", "x", "a", "b", "c", "x", "d"]):
        log.add("p", name, dt.datetime(2024, 5, 1, 10, i, tzinfo=dt.UTC))
    result = run(engine, log, start_event="x", steps=4)
    # From the first x in the range (the second event of the 1st), 4 steps: x a b c.
    assert links(result) == [("1_x", "2_a", 1), ("2_a", "3_b", 1), ("3_b", "4_c", 1)]
    back = run(engine, log, end_event="x", steps=4)
    # The first x in the range has only y before it.
    assert links(back) == [("3_y", "4_x", 1)]


def test_same_instant_orders_by_code_point(engine: Engine, plan: str) -> None:
    log = EventLog()
    for name in ["é", "a", "Z", "b"]:
        log.add("p", name, "2024-05-01T10:00")
    # Code points: Z (90) < a (97) < b (98) < é (233), whatever order they were sent in.
    assert links(run(engine, log, steps=4)) == [("1_Z", "2_a", 1), ("2_a", "3_b", 1), ("3_b", "4_é", 1)]


def test_event_names_are_values_and_table_rows(engine: Engine, plan: str) -> None:
    quoted = 'it\'s "x"; DROP TABLE events; --'
    log = EventLog().add("p", quoted, "2024-05-01T10:00").add("p", "b", "2024-05-01T11:00")
    result = engine.run(log, {"kind": "paths", **RANGE, "start_event": quoted, "exclude_events": ["a'"]})
    assert result.rows() == [{"source": f"1_{quoted}", "target": "2_b", "persons": 1}]
    assert result.to_arrow().num_rows == 1


def test_daylight_saving_day_bounds(engine: Engine, plan: str) -> None:
    # New York springs forward on 2024-03-10: that local day runs 05:00Z .. 04:00Z next day (23 hours).
    log = (
        EventLog()
        .add("p", "early", "2024-03-10T04:30")  # 23:30 on the 9th, local: outside
        .add("p", "first", "2024-03-10T05:00")  # local midnight: inside
        .add("p", "late", "2024-03-11T03:30")  # 23:30 EDT on the 10th: inside
        .add("p", "next", "2024-03-11T04:00")  # midnight on the 11th: outside
    )
    result = engine.run(
        log, {"kind": "paths", "date_from": "2024-03-10", "date_to": "2024-03-10"}, timezone="America/New_York"
    )
    assert links(result.model_dump()) == [("1_first", "2_late", 1)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start_event": "a", "end_event": "b"}, "start_event and end_event"),
        ({"steps": 1}, "steps"),
        ({"steps": 11}, "steps"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"start_event": "$any"}, "start_event"),
        ({"exclude_events": ["$any"]}, "exclude_events"),
        ({"start_event": "a", "include_events": ["b"]}, "start_event"),
        ({"end_event": "a", "exclude_events": ["a"]}, "end_event"),
        ({"include_events": ["a"], "exclude_events": ["a"]}, "exclude_events"),
        ({"include_events": []}, "include_events"),
        ({"start_event": ""}, "start_event"),
        ({"steps": 3, "depth": 2}, "depth"),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "date_to"),
    ],
)
def test_bad_queries_name_the_field(query: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryInvalid, match=field):
        parse_query({"kind": "paths", **query})


# -- agreement with the reference ----------------------------------------------------------------------------

_PEOPLE = ["p1", "p2", "p3", "p4", "anon"]
_EVENTS = ["a", "b", "c", "d"]
_BASE = dt.datetime(2024, 3, 9, 0, 0, tzinfo=dt.UTC)

random_events = st.lists(
    st.tuples(
        st.sampled_from(_PEOPLE),
        st.sampled_from(_EVENTS),
        # Hours over five days around New York's spring change, in steps of 2 h so that ties happen.
        st.integers(min_value=0, max_value=60).map(lambda h: _BASE + dt.timedelta(hours=2 * h)),
    ),
    max_size=40,
)
options = st.fixed_dictionaries(
    {
        "steps": st.integers(min_value=2, max_value=5),
        "collapse_repeats": st.booleans(),
        "limit": st.integers(min_value=1, max_value=8),
    },
    optional={
        "anchor": st.sampled_from([("start_event", "a"), ("end_event", "b")]),
        "events": st.sampled_from([("exclude_events", ["c"]), ("include_events", ["a", "b", "d"])]),
    },
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=random_events, chosen=options, timezone=st.sampled_from(["UTC", "America/New_York"]), merge=st.booleans())
def test_engine_agrees_with_reference(
    engine: Engine,
    plan: str,
    rows: list[tuple[str, str, dt.datetime]],
    chosen: dict[str, Any],
    timezone: str,
    merge: bool,
) -> None:
    log = EventLog()
    for person, event, at in rows:
        log.add(person, event, at)
    if merge:
        log.merge("anon", "p1")
    query: dict[str, Any] = {
        "steps": chosen["steps"],
        "collapse_repeats": chosen["collapse_repeats"],
        "limit": chosen["limit"],
    }
    if "anchor" in chosen:
        query[chosen["anchor"][0]] = chosen["anchor"][1]
    if "events" in chosen:
        query[chosen["events"][0]] = chosen["events"][1]
    got = engine.run(
        log, {"kind": "paths", "date_from": "2024-03-10", "date_to": "2024-03-12", **query}, timezone=timezone
    )
    expected = reference_paths(
        log.resolved(),
        date_from=dt.date(2024, 3, 10),
        date_to=dt.date(2024, 3, 12),
        timezone=timezone,
        **query,
    )
    assert got.model_dump() == expected


#: Many events of few persons, so that windows of a few events are full and cut often.
dense_events = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "anon"]),
        st.sampled_from(_EVENTS),
        st.integers(min_value=6, max_value=40).map(lambda h: _BASE + dt.timedelta(hours=2 * h)),
    ),
    min_size=10,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=dense_events,
    chosen=options,
    timezone=st.sampled_from(["UTC", "America/New_York"]),
    window=st.integers(min_value=1, max_value=4),
)
def test_small_windows_agree_with_reference(
    engine: Engine, rows: list[tuple[str, str, dt.datetime]], chosen: dict[str, Any], timezone: str, window: int
) -> None:
    """Engines that read each person's window of events (DuckDB) cut through ties and long runs often when
    the window is this small, so the cut, the re-sorting of tied events and the fallback to whole sequences
    for unsettled persons all run; the numbers must not change."""
    log = EventLog()
    for person, event, at in rows:
        log.add(person, event, at)
    log.merge("anon", "p1")
    query: dict[str, Any] = {k: chosen[k] for k in ("steps", "collapse_repeats", "limit")}
    if "anchor" in chosen:
        query[chosen["anchor"][0]] = chosen["anchor"][1]
    if "events" in chosen:
        query[chosen["events"][0]] = chosen["events"][1]
    with mock.patch("opsloop.analytics.paths.window_size", return_value=window):
        got = engine.run(
            log, {"kind": "paths", "date_from": "2024-03-10", "date_to": "2024-03-12", **query}, timezone=timezone
        )
    expected = reference_paths(
        log.resolved(), date_from=dt.date(2024, 3, 10), date_to=dt.date(2024, 3, 12), timezone=timezone, **query
    )
    assert got.model_dump() == expected


def test_long_runs_fall_back_to_whole_sequences(engine: Engine) -> None:
    """A person whose first events after the anchor are one long run (more than the window holds) has their
    path from their whole sequence: the window alone would end the path after one step."""
    log = EventLog()
    for minute in range(30):
        log.add("bot", "refresh", f"2024-05-01T09:{minute:02d}")
    log.add("bot", "buy", "2024-05-01T10:00").add("bot", "leave", "2024-05-01T10:05")
    log.add("eve", "refresh", "2024-05-01T11:00").add("eve", "leave", "2024-05-01T11:05")
    result = run(engine, log, steps=3)
    assert links(result) == [("1_refresh", "2_buy", 1), ("1_refresh", "2_leave", 1), ("2_buy", "3_leave", 1)]
    assert dropoffs(result) == [0, 1]
    assert result["persons"] == 2


def test_events_stored_after_their_names_were_read(engine: Engine) -> None:
    """The integer-key plan ranks the event names it read first; a person with an event stored after that
    read (not among the names) gets their path from their whole sequence, the others from their keys."""
    dialect = engine.store.dialect
    setattr(dialect, "keeps_top_values", False)  # noqa: B010 (class flags, shadowed for a test)
    setattr(dialect, "sorts_integer_lists", True)  # noqa: B010
    read = paths_module._event_names

    def without_purchase(*args: Any) -> list[str]:
        return [name for name in read(*args) if name != "purchase"]

    try:
        whole = run(engine, worked_log(), steps=3)
        with mock.patch("opsloop.analytics.paths._event_names", side_effect=without_purchase) as names:
            late = run(engine, worked_log(), steps=3)
        assert names.call_count == 1
    finally:
        delattr(dialect, "keeps_top_values")
        delattr(dialect, "sorts_integer_lists")
    # alice and bob did a purchase: both paths still hold it, in its place by time and name.
    assert late == whole
    assert ("1_pageview", "2_purchase", 1) in links(late)
    assert ("2_signup", "3_purchase", 1) in links(late)


def test_ranges_too_long_for_integer_keys_sort_pairs(engine: Engine) -> None:
    dialect = engine.store.dialect
    setattr(dialect, "keeps_top_values", False)  # noqa: B010 (class flags, shadowed for a test)
    setattr(dialect, "sorts_integer_lists", True)  # noqa: B010
    try:
        expected = run(engine, worked_log(), steps=3)
        with (
            mock.patch("opsloop.analytics.paths._MAX_KEY", 1),
            mock.patch("opsloop.analytics.paths._person_paths", wraps=paths_module._person_paths) as whole,
        ):
            assert run(engine, worked_log(), steps=3) == expected
        assert whole.call_count == 1
    finally:
        delattr(dialect, "keeps_top_values")
        delattr(dialect, "sorts_integer_lists")
