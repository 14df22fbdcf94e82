"""Which events relation the builder reads: the events, or the hourly rollup where that gives the same answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.distribution import distribution_statement
from opsloop.analytics.retention import retention_statement
from opsloop.analytics.timeframe import ProjectContext, resolve_span
from opsloop.query.registry import parse_query
from opsloop.store.dialects import ClickHouseDialect, Dialect, DuckDBDialect

DISTRIBUTION: dict[str, Any] = {
    "kind": "distribution",
    "event": "buy",
    "date_from": "2024-03-01",
    "date_to": "2024-03-31",
}
RETENTION: dict[str, Any] = {
    "kind": "retention",
    "start_event": "signup",
    "date_from": "2024-03-01",
    "date_to": "2024-03-31",
}


def sql(query: dict[str, Any], dialect: Dialect, timezone: str = "UTC") -> str:
    builder = QueryBuilder(dialect, ProjectContext(1, timezone, "monday", dt.date(2024, 4, 1)))
    model = parse_query(query)
    if query["kind"] == "distribution":
        statement = distribution_statement(model, builder)  # type: ignore[arg-type]
    else:
        span = resolve_span(builder.ctx, model.date_from, model.date_to)  # type: ignore[attr-defined]
        statement = retention_statement(model, span, builder)  # type: ignore[arg-type]
    return builder.render(statement)[0]


@pytest.fixture(params=[DuckDBDialect, ClickHouseDialect])
def keeping_hours(request: pytest.FixtureRequest) -> Dialect:
    """A dialect of a store that keeps the hourly rollup."""
    dialect: Dialect = request.param()
    dialect.hour_rollup = True
    return dialect


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Madrid", "America/New_York", "Asia/Shanghai"])
def test_whole_hour_zones_read_the_rollup_and_count_its_events(keeping_hours: Dialect, timezone: str) -> None:
    text = sql(DISTRIBUTION, keeping_hours, timezone)
    assert "FROM event_hours" in text and "SUM(event_count)" in text
    # Not the events relation itself (DuckDB's rollup adds only the events it does not cover yet).
    assert "FROM events AS e" not in text
    assert "FROM event_hours" in sql(RETENTION, keeping_hours, timezone)


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"])
def test_zones_off_the_hour_read_the_events(keeping_hours: Dialect, timezone: str) -> None:
    text = sql(DISTRIBUTION, keeping_hours, timezone)
    assert "FROM events AS e" in text and "event_hours" not in text


@pytest.mark.parametrize(
    "change",
    [
        {"filters": [{"property": "plan", "type": "event", "op": "eq", "value": "pro"}]},
        {"filters": [{"property": "plan", "type": "person", "op": "eq", "value": "pro"}]},
    ],
)
def test_filters_read_the_events(keeping_hours: Dialect, change: dict[str, Any]) -> None:
    assert "event_hours" not in sql({**DISTRIBUTION, **change}, keeping_hours)
    assert "event_hours" not in sql({**RETENTION, **change}, keeping_hours)


@pytest.mark.parametrize(
    "change",
    [
        {"breakdown": {"property": "plan", "type": "event"}},
        {"start_filters": [{"property": "plan", "type": "event", "op": "eq", "value": "pro"}]},
        {"return_filters": [{"property": "plan", "type": "event", "op": "eq", "value": "pro"}]},
    ],
)
def test_retention_reading_properties_reads_the_events(keeping_hours: Dialect, change: dict[str, Any]) -> None:
    assert "event_hours" not in sql({**RETENTION, **change}, keeping_hours)


def test_a_store_without_the_rollup_reads_the_events() -> None:
    assert "event_hours" not in sql(DISTRIBUTION, ClickHouseDialect())
    assert "event_hours" not in sql(DISTRIBUTION, DuckDBDialect())
    assert "COUNT(*)" in sql(DISTRIBUTION, ClickHouseDialect())
    assert "COUNT(*)" in sql(DISTRIBUTION, DuckDBDialect())
