"""RFM on both engines: a hand-worked example with ties in every score, and the segment map."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.runner import Fetch, cte_query
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.rfm import STANDARD_MAP, RfmQuery, compute_rfm, scores, segment_of
from tests.analytics.conftest import Engine, EventLog, person_uuid

QUERY = RfmQuery(value_event="purchase", amount_property="amount", lookback_days=30)


def shop() -> EventLog:
    """Today 2024-06-30 (UTC); the window is 06-01 .. 06-30.

    | buyer | purchases (amount)                         | last        | F  | M   |
    | a     | 06-20 (10), 06-29 12:00 (10)               | 06-29 12:00 | 2  | 20  |
    | b     | 06-29 12:00 (100)                          | 06-29 12:00 | 1  | 100 |
    | c     | 06-01 (5), 06-10 (5), 06-15 (5)            | 06-15       | 3  | 15  |
    | d     | 06-05 (50)                                 | 06-05       | 1  | 50  |
    | e     | 05-01 (1000): before the window, not a buyer |           |    |     |
    | f     | 06-25 (20)                                 | 06-25       | 1  | 20  |
    | g     | 06-30 (7, and a pageview)                  | 06-30       | 1  | 7   |
    | h     | 06-12 as h-anon (merged into h) (3), 06-13 (3 as text "3") | 06-13 | 2 | 6 |
    """
    log = EventLog()
    for who, day, amount in [
        ("a", "06-20T10:00", 10), ("a", "06-29T12:00", 10), ("b", "06-29T12:00", 100),
        ("c", "06-01T10:00", 5), ("c", "06-10T10:00", 5), ("c", "06-15T10:00", 5), ("d", "06-05T10:00", 50),
        ("e", "05-01T10:00", 1000), ("f", "06-25T10:00", 20), ("g", "06-30T10:00", 7),
        ("h-anon", "06-12T10:00", 3), ("h", "06-13T10:00", "3"),
    ]:  # fmt: skip
        log.add(who, "purchase", f"2024-{day}", amount=amount)
    return log.add("g", "pageview", "2024-06-30T11:00").merge("h-anon", "h")


def context(engine: Engine) -> tuple[QueryBuilder, Fetch]:
    ctx = ProjectContext(engine.load(shop()), "UTC", "monday", dt.date(2024, 6, 30))
    builder = QueryBuilder(engine.store.dialect, ctx)
    return builder, Fetch(engine.store, builder, 60)


def test_scores_with_ties(engine: Engine) -> None:
    # 7 buyers: the i-th in order scores floor(5 (i - 1) / 7) + 1, i.e. places 1..7 -> 1, 1, 2, 3, 3, 4, 5.
    # R by last purchase: d, h, c, f, then a and b tied (both place 5), g -> d1 h1 c2 f3 a3 b3 g5.
    # F by frequency, ties by last purchase: d f b g (1 purchase), h a (2), c (3) -> d1 f1 b2 g3 h3 a4 c5.
    # M by monetary: h 6, g 7, c 15, a and f 20 (tied at place 4), d 50, b 100 -> h1 g1 c2 a3 f3 d4 b5.
    builder, fetch = context(engine)
    rows = fetch.rows(cte_query([("s", scores(QUERY, builder))], exp.select("*").from_("s")))
    names = {person_uuid(x): x for x in "abcdefgh"}
    found = {names[str(r["person_id"])]: (int(r["r"]), int(r["f"]), int(r["m"]), float(r["mv"])) for r in rows}
    assert found == {
        "a": (3, 4, 3, 20.0),
        "b": (3, 2, 5, 100.0),
        "c": (2, 5, 2, 15.0),
        "d": (1, 1, 4, 50.0),
        "f": (3, 1, 3, 20.0),
        "g": (5, 3, 1, 7.0),
        "h": (1, 3, 1, 6.0),
    }


def test_grid_and_segments(engine: Engine) -> None:
    builder, fetch = context(engine)
    result = compute_rfm(QUERY, builder, fetch)
    cells = {(c.r, c.f): (c.persons, c.revenue, c.segment) for c in result.cells if c.persons}
    # (R, F): d (1,1) Hibernating; h (1,3) At Risk; c (2,5) Can't Lose; f (3,1) and b (3,2) About to Sleep;
    # a (3,4) Loyal; g (5,3) Potential Loyalists.
    assert cells == {
        (1, 1): (1, 50.0, "Hibernating"),
        (1, 3): (1, 6.0, "At Risk"),
        (2, 5): (1, 15.0, "Can't Lose"),
        (3, 1): (1, 20.0, "About to Sleep"),
        (3, 2): (1, 100.0, "About to Sleep"),
        (3, 4): (1, 20.0, "Loyal"),
        (5, 3): (1, 7.0, "Potential Loyalists"),
    }
    assert len(result.cells) == 25 and result.persons == 7 and result.revenue == 218.0
    totals = {s.segment: (s.persons, s.revenue) for s in result.segments}
    assert totals["About to Sleep"] == (2, 120.0) and totals["Champions"] == (0, 0.0)
    assert len(result.to_arrow()) == 25


def test_standard_map_covers_every_cell() -> None:
    names = {segment_of(list(STANDARD_MAP), r, f) for r in range(1, 6) for f in range(1, 6)}
    assert "Other" not in names and len(names) == 10
    assert segment_of(list(STANDARD_MAP), 5, 5) == "Champions" and segment_of(list(STANDARD_MAP), 4, 1) == "Promising"
    edited = RfmQuery(value_event="p", amount_property="a", segment_map=[{"name": "Top", "r": [4, 5], "f": [4, 5]}])
    assert segment_of(edited.segment_map, 5, 5) == "Top" and segment_of(edited.segment_map, 1, 1) == "Other"
    with pytest.raises(ValidationError, match="scores are 1 to 5"):
        RfmQuery(value_event="p", amount_property="a", segment_map=[{"name": "x", "r": [0, 5], "f": [1, 1]}])
