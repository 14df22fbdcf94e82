"""What a requirement is worth and what shipping it did: the revenue of its persons, and its target metric
over the same number of days before and after the ship day. Both run through the analytics engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col
from opsloop.analytics.funnels import FunnelResult
from opsloop.analytics.runner import Fetch, zero_if_missing
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import ProjectContext, span_of
from opsloop.analytics.trends import TrendsResult
from opsloop.config import Settings
from opsloop.query.registry import execute_query, parse_query
from opsloop.requirements.schemas import MetricComparison, MetricWindow
from opsloop.store.events import EventStore

#: Persons per `IN (...)` list of the revenue query (one query per chunk, summed).
_PERSON_CHUNK = 1000


def persons_revenue(
    store: EventStore,
    ctx: ProjectContext,
    persons: Sequence[str],
    *,
    event: str,
    revenue_property: str,
    date_from: dt.date,
    date_to: dt.date,
    timeout: float | None = None,
) -> float:
    """Sum of `revenue_property` over `event` events of these persons (after identity merges) on the local
    days `date_from`..`date_to`; values that are not numbers count as nothing (as in trends `sum`)."""
    total = 0.0
    wanted = sorted(set(persons))
    for start in range(0, len(wanted), _PERSON_CHUNK):
        builder = QueryBuilder(store.dialect, ctx)
        span = span_of(ctx, date_from, date_to)
        events = builder.events(span.start, span.end, events=[event])
        person = exp.cast(col(PERSON), "TEXT")
        chunk = wanted[start : start + _PERSON_CHUNK]
        amount = exp.Sum(this=builder.number(builder.prop(revenue_property)))
        statement = (
            exp.select(exp.alias_(amount, "revenue"))
            .from_(events.subquery("ev"))
            .where(exp.In(this=person, expressions=[builder.value(p) for p in chunk]))
        )
        rows = Fetch(store, builder, timeout).rows(statement)
        total += zero_if_missing(rows[0]["revenue"] if rows else None)
    return total


def metric_value(result: TableResult) -> float | None:
    """The one number a target metric stands for: a trends query's first line total (the formula's line when
    there is a formula); a funnel's conversion from the first to the last step."""
    if isinstance(result, TrendsResult):
        line = next((s for s in result.series if s.compare in (None, "current")), None)
        return None if line is None else line.total
    if isinstance(result, FunnelResult):
        return result.steps[-1].conversion_from_first if result.steps else None
    raise TypeError(f"a target metric cannot be a {type(result).__name__}")


def run_metric(
    store: EventStore,
    ctx: ProjectContext,
    settings: Settings,
    query: dict[str, Any],
    date_from: dt.date,
    date_to: dt.date,
) -> float | None:
    """The target metric's value over one window of local days (the query's own dates are replaced)."""
    body = {**query, "date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    body.pop("compare_previous", None)
    return metric_value(execute_query(store, ctx, parse_query(body), settings))


def compare_metric(
    store: EventStore,
    ctx: ProjectContext,
    settings: Settings,
    query: dict[str, Any],
    ship_date: dt.date,
    days: int,
    today: dt.date,
) -> MetricComparison:
    """The metric over `days` days from the ship day on, and over as many days just before it. While the
    after-window has not ended (it would reach past today), both windows shrink to the days since shipping,
    so the two always cover the same number of days; `complete` says whether they are the full `days`."""
    length = max(1, min(days, (today - ship_date).days + 1))
    before_from, before_to = ship_date - dt.timedelta(days=length), ship_date - dt.timedelta(days=1)
    after_from, after_to = ship_date, ship_date + dt.timedelta(days=length - 1)
    complete = length == days
    before = run_metric(store, ctx, settings, query, before_from, before_to)
    after = run_metric(store, ctx, settings, query, after_from, after_to)
    change = None if before is None or after is None else after - before
    percent = None if change is None or not before else change / before * 100
    return MetricComparison(
        ship_date=ship_date,
        days=length,
        before=MetricWindow(date_from=before_from, date_to=before_to, value=before),
        after=MetricWindow(date_from=after_from, date_to=after_to, value=after),
        change=change,
        change_percent=percent,
        complete=complete,
    )
