"""Trends on every engine: hand-worked small logs."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analytics import reference_trends
from tests.analytics.conftest import Engine, EventLog


def small_log() -> EventLog:
    """Three persons over three days of May 2024 (UTC).

    alice: pageview x2 on the 1st, purchase 10 on the 1st, pageview on the 3rd
    bob:   pageview on the 1st, purchase 30 and 5 on the 2nd
    carol: pageview on the 3rd (an anonymous id `c-anon` merged into carol later: its pageview on the 2nd is
           carol's too)
    """
    return (
        EventLog()
        .add("alice", "pageview", "2024-05-01T08:00", browser="Chrome")
        .add("alice", "pageview", "2024-05-01T09:00", browser="Chrome")
        .add("alice", "purchase", "2024-05-01T09:30", amount=10)
        .add("alice", "pageview", "2024-05-03T10:00", browser="Safari")
        .add("bob", "pageview", "2024-05-01T23:30", browser="Firefox")
        .add("bob", "purchase", "2024-05-02T01:00", amount=30)
        .add("bob", "purchase", "2024-05-02T02:00", amount=5)
        .add("carol", "pageview", "2024-05-03T12:00", browser="Chrome")
        .add("c-anon", "pageview", "2024-05-02T12:00", browser="Chrome")
        .merge("c-anon", "carol")
        .person("alice", plan="pro")
        .person("bob", plan="free")
        .person("carol", plan="pro")
    )


RANGE = {"date_from": "2024-05-01", "date_to": "2024-05-03"}


def values(result, n: int = 0) -> list[float | None]:  # type: ignore[no-untyped-def]
    return list(result.series[n].values)


def test_total_and_persons(engine: Engine, distinct_values: str) -> None:
    result = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "pageview"}, {"event": "pageview", "math": "persons"}],
        },
    )
    assert result.series[0].dates == ["2024-05-01", "2024-05-02", "2024-05-03"]
    # pageviews: 1st alice 2 + bob 1; 2nd c-anon 1; 3rd alice 1 + carol 1.
    assert values(result, 0) == [3, 1, 2]
    assert result.series[0].total == 6
    # persons: 1st alice, bob; 2nd carol (through the merge); 3rd alice, carol. Over the range: 3.
    assert values(result, 1) == [2, 1, 2]
    assert result.series[1].total == 3


def test_property_maths(engine: Engine) -> None:
    def run(math: str) -> tuple[list[float | None], float | None]:
        result = engine.run(
            small_log(),
            {"kind": "trends", **RANGE, "series": [{"event": "purchase", "math": math, "property": "amount"}]},
        )
        return values(result), result.series[0].total

    # purchases: 1st [10], 2nd [30, 5]
    assert run("sum") == ([10, 35, 0], 45)
    assert run("avg") == ([10, 17.5, 0], 15)
    assert run("min") == ([10, 5, 0], 5)
    assert run("max") == ([10, 30, 0], 30)
    # median of [30, 5] interpolates to 17.5; of [10, 30, 5] is 10.
    assert run("median") == ([10, 17.5, 0], 10)
    # p90 of [5, 30]: 5 + 0.9 * 25 = 27.5; of [5, 10, 30]: rank 0.9 * 2 = 1.8 -> 10 + 0.8 * 20 = 26.
    assert run("p90") == ([10, pytest.approx(27.5), 0], pytest.approx(26))


def test_per_person_average_and_formula(engine: Engine, distinct_values: str) -> None:
    result = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "pageview", "math": "per_person_avg"}],
        },
    )
    # 1st: 3 pageviews / 2 persons; 2nd: 1/1; 3rd: 2/2. Range: 6 / 3.
    assert values(result) == [1.5, 1, 1]
    assert result.series[0].total == 2
    ratio = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "purchase"}, {"event": "pageview"}],
            "formula": "A / B",
        },
    )
    assert len(ratio.series) == 1 and ratio.series[0].label == "A / B"
    # purchases 1, 2, 0 over pageviews 3, 1, 2.
    assert values(ratio) == [pytest.approx(1 / 3), 2, 0]
    assert ratio.series[0].total == pytest.approx(3 / 6)


def test_filters_and_breakdown(engine: Engine, distinct_values: str) -> None:
    chrome = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "pageview"}],
            "filters": [{"property": "browser", "op": "eq", "value": "Chrome"}],
        },
    )
    assert values(chrome) == [2, 1, 1]
    pro = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "pageview"}],
            "filters": [{"property": "plan", "type": "person", "value": "pro"}],
        },
    )
    # alice (pro) and carol (pro, incl. c-anon's event): 2, 1, 2 minus bob's 1 on the 1st.
    assert values(pro) == [2, 1, 2]
    broken = engine.run(
        small_log(),
        {
            "kind": "trends",
            **RANGE,
            "series": [{"event": "pageview"}],
            "breakdown": {"property": "browser", "limit": 1},
        },
    )
    # Chrome is the top value (4 events); Firefox and Safari become $other.
    assert [(s.breakdown_value, s.values) for s in broken.series] == [
        ("Chrome", [2, 1, 1]),
        ("$other", [1, 0, 1]),
    ]


def test_timezone_moves_events_between_days(engine: Engine, distinct_values: str) -> None:
    # In Shanghai (UTC+8) bob's 23:30 UTC pageview on the 1st is on the 2nd.
    result = engine.run(
        small_log(),
        {"kind": "trends", **RANGE, "series": [{"event": "pageview"}]},
        timezone="Asia/Shanghai",
    )
    # Local range 2024-05-01 00:00+08 .. 2024-05-04 00:00+08 = 2024-04-30T16:00Z .. 2024-05-03T16:00Z.
    assert values(result) == [2, 2, 2]


# -- agreement with the plain-Python reference on random logs -------------------------------------------------

MATHS = ["total", "persons", "sum", "avg", "min", "max", "median", "p90", "per_person_avg"]


@st.composite
def random_logs(draw: st.DrawFn) -> EventLog:
    """Up to 40 events of 5 persons over 3 weeks around DST changes, some merged, some with amounts."""
    log = EventLog()
    start = dt.datetime(2024, 3, 20, tzinfo=dt.UTC)
    for _ in range(draw(st.integers(0, 40))):
        who = draw(st.sampled_from(["a", "b", "c", "d", "e"]))
        name = draw(st.sampled_from(["view", "buy"]))
        at = start + dt.timedelta(minutes=draw(st.integers(0, 21 * 24 * 60)))
        props = {"amount": draw(st.integers(-5, 100))} if draw(st.booleans()) else {}
        log.add(who, name, at, **props)
    if draw(st.booleans()):
        log.merge("e", "a")
    return log


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    log=random_logs(),
    math_=st.sampled_from(MATHS),
    interval=st.sampled_from(["day", "week", "month"]),
    timezone=st.sampled_from(["UTC", "Europe/Madrid", "America/New_York", "Asia/Shanghai"]),
    week_start=st.sampled_from(["monday", "sunday"]),
)
def test_engine_agrees_with_reference(
    engine: Engine, distinct_values: str, log: EventLog, math_: str, interval: str, timezone: str, week_start: str
) -> None:
    date_from, date_to = dt.date(2024, 3, 22), dt.date(2024, 4, 7)
    series: dict[str, object] = {"event": "buy", "math": math_}
    if math_ in ("sum", "avg", "min", "max", "median", "p90"):
        series["property"] = "amount"
    result = engine.run(
        log,
        {
            "kind": "trends",
            "date_from": str(date_from),
            "date_to": str(date_to),
            "interval": interval,
            "series": [series],
        },
        timezone=timezone,
        week_start=week_start,  # type: ignore[arg-type]
    )
    labels, expected, total = reference_trends.trends(
        log.resolved(),
        event="buy",
        math_=math_,
        prop="amount",
        date_from=date_from,
        date_to=date_to,
        interval=interval,
        timezone=timezone,
        week_start=week_start,
    )
    line = result.series[0]
    assert line.dates == labels
    assert line.values == pytest.approx(expected)
    assert line.total == pytest.approx(total)
