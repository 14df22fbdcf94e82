"""Growth accounting on every engine: the documented worked example, rates' edge cases, and the reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloop.query.registry import QueryInvalid, parse_query
from tests.analytics.conftest import Engine, EventLog, rollup
from tests.analytics.reference_lifecycle import reference_growth
from tests.analytics.test_lifecycle import logs, queries, run_both

FIELDS = ("dates", "active", "new", "retained", "resurrected", "churned", "churn_rate", "growth_rate", "quick_ratio")


def worked_example() -> EventLog:
    """The example of docs/metrics.md (UTC, Monday weeks of 2024-05-06, 05-13 and 05-20).

    ann: 04-30, 05-07, 05-14, 05-21    ben: 05-01              cat: 05-08, 05-22
    dan: 05-15, 05-16                  eve: 03-01, 05-20       fay: 05-09, and `fay-anon` (merged) on 05-02
    """
    return (
        EventLog()
        .add("ann", "pageview", "2024-04-30T10:00")
        .add("ann", "pageview", "2024-05-07T10:00")
        .add("ann", "purchase", "2024-05-14T10:00")
        .add("ann", "pageview", "2024-05-21T10:00")
        .add("ben", "pageview", "2024-05-01T10:00")
        .add("cat", "signup", "2024-05-08T10:00")
        .add("cat", "pageview", "2024-05-22T10:00")
        .add("dan", "signup", "2024-05-15T10:00")
        .add("dan", "pageview", "2024-05-16T10:00")
        .add("eve", "pageview", "2024-03-01T10:00")
        .add("eve", "pageview", "2024-05-20T10:00")
        .add("fay-anon", "pageview", "2024-05-02T10:00")
        .add("fay", "pageview", "2024-05-09T10:00")
        .merge("fay-anon", "fay")
    )


def as_dict(result: Any) -> dict[str, list[Any]]:
    return {k: getattr(result, k) for k in FIELDS}


def rounded(values: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Rates to 9 decimals (the engines and the reference divide the same integers)."""
    return {k: [round(v, 9) if isinstance(v, float) else v for v in vs] for k, vs in values.items()}


def test_worked_example(engine: Engine, distinct_values: str, hour_rollup: str) -> None:
    result = engine.run(worked_example(), {"kind": "growth", "date_from": "2024-05-06", "date_to": "2024-05-26"})
    # Week of 04-29 (before the range): ann, ben, fay (through fay-anon) -> 3 active.
    # 05-06: ann, fay retained, cat new; ben churned. churn 1/3, growth 0/3, quick (1 + 0) / 1.
    # 05-13: ann retained, dan new (twice in the week: once); cat, fay churned. churn 2/3, growth -1/3,
    #        quick 1 / 2.
    # 05-20: ann retained, cat resurrected (05-08), eve resurrected (03-01); dan churned. churn 1/2,
    #        growth (3 - 2) / 2, quick 2 / 1.
    assert as_dict(result) == {
        "dates": ["2024-05-06", "2024-05-13", "2024-05-20"],
        "active": [3, 2, 3],
        "new": [1, 1, 0],
        "retained": [2, 1, 1],
        "resurrected": [0, 0, 2],
        "churned": [1, 2, 1],
        "churn_rate": [pytest.approx(1 / 3), pytest.approx(2 / 3), 0.5],
        "growth_rate": [0.0, pytest.approx(-1 / 3), 0.5],
        "quick_ratio": [1.0, 0.5, 2.0],
    }
    assert result.rows()[2] == {
        "date": "2024-05-20",
        "active": 3,
        "new": 0,
        "retained": 1,
        "resurrected": 2,
        "churned": 1,
        "churn_rate": 0.5,
        "growth_rate": 0.5,
        "quick_ratio": 2.0,
    }


def test_rates_are_null_without_a_denominator(engine: Engine) -> None:
    log = EventLog().add("ann", "pageview", "2024-05-07T10:00").add("ann", "pageview", "2024-05-14T10:00")
    result = engine.run(log, {"kind": "growth", "date_from": "2024-05-06", "date_to": "2024-05-26"})
    # 05-06: nobody active the week before (churn and growth rates null), nobody churned (quick ratio null).
    # 05-13: ann retained; 05-20: ann churned, no one new: quick ratio 0.
    assert as_dict(result) == {
        "dates": ["2024-05-06", "2024-05-13", "2024-05-20"],
        "active": [1, 1, 0],
        "new": [1, 0, 0],
        "retained": [0, 1, 0],
        "resurrected": [0, 0, 0],
        "churned": [0, 0, 1],
        "churn_rate": [None, 0.0, 1.0],
        "growth_rate": [None, 0.0, -1.0],
        "quick_ratio": [None, None, 0.0],
    }


def test_month_interval_and_event(engine: Engine) -> None:
    query = {
        "kind": "growth",
        "interval": "month",
        "event": "pageview",
        "date_from": "2024-05-01",
        "date_to": "2024-05-31",
    }
    result = engine.run(worked_example(), query)
    # April pageviews: ann. May pageviews: ann, ben, cat, dan, eve, fay (only pageviews count; fay-anon's is
    # on 05-02). New: ben, cat, dan, fay; retained: ann; resurrected: eve (March). Growth (6 - 1) / 1.
    assert as_dict(result) == {
        "dates": ["2024-05-01"],
        "active": [6],
        "new": [4],
        "retained": [1],
        "resurrected": [1],
        "churned": [0],
        "churn_rate": [0.0],
        "growth_rate": [5.0],
        "quick_ratio": [None],
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"interval": "hour"}, "interval: growth compares whole periods"),
        ({"cohort": "x"}, "cohort: Extra inputs are not permitted"),
    ],
)
def test_bad_queries(query: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryInvalid, match=message):
        parse_query({"kind": "growth", **query})


def test_default_interval_is_week() -> None:
    assert parse_query({"kind": "growth"}).interval == "week"  # type: ignore[attr-defined]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(log=logs(), query=queries(), hours=st.booleans())
def test_agrees_with_reference(
    engine: Engine, distinct_values: str, log: EventLog, query: dict[str, Any], hours: bool
) -> None:
    with rollup(engine, hours):
        result = run_both(engine, log, "growth", query)
    expected = reference_growth(log.resolved(), **query)
    assert rounded(as_dict(result)) == rounded({k: expected[k] for k in FIELDS})
    # active = new + retained + resurrected.
    for a, n, r, s in zip(result.active, result.new, result.retained, result.resurrected, strict=True):
        assert a == n + r + s
