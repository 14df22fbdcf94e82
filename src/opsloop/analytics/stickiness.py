"""Stickiness: persons by the number of hours, days or weeks they were active in within each period.

A person's active units in a period are the distinct local `interval` buckets (clock hours, days or weeks) in
which they did the event (with the filters), counting only events inside both the period and the range. A
period is the whole range (`range`, labelled `date_from`) or each calendar week / month touching it (labelled
by its own first day). `units` is the number of `interval` buckets that overlap the period within the range;
`counts[k-1]` is the number of persons active in exactly `k` units (`k` or more with `cumulative`).

One statement: the distinct (person, local day or hour) pairs of the events read, each with its period and
unit, counted per (period, person), then the persons counted per (period, number of units).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.active_users import ActiveEventQuery
from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import Interval, Model
from opsloop.analytics.runner import Analysis, Fetch, as_date, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import (
    DateSpan,
    ProjectContext,
    hour_starts,
    next_period,
    period_start,
    period_starts,
    resolve_span,
    span_of,
)

Unit = Literal["hour", "day", "week"]
Window = Literal["range", "week", "month"]
#: How many units fit in one of each period at most (which units a period may be counted in).
_RANK = {"hour": 0, "day": 1, "week": 2, "month": 3, "range": 4}
#: Longest range, in days, that hour units may cover (as every hour bucket in opsloop).
MAX_HOUR_RANGE_DAYS = 32


class StickinessQuery(ActiveEventQuery):
    """Stickiness: per period, persons by the number of `interval` units they were active in."""

    kind: Literal["stickiness"] = "stickiness"
    interval: Unit = Field("day", description="the unit counted: `hour`, `day` or `week`")
    period: Window = Field("range", description="the window: `range` (the whole date range), `week` or `month`")
    cumulative: bool = Field(False, description="count persons active in k units *or more*")

    @model_validator(mode="after")
    def _unit_fits_period(self) -> StickinessQuery:
        if _RANK[self.interval] >= _RANK[self.period]:
            raise ValueError(
                f"interval `{self.interval}` must be shorter than period `{self.period}` "
                "(hour or day within week, month or range; week within month or range)"
            )
        days = (self.date_to - self.date_from).days if self.date_from and self.date_to else 0
        if self.interval == "hour" and days >= MAX_HOUR_RANGE_DAYS:
            raise ValueError(f"interval `hour` covers at most {MAX_HOUR_RANGE_DAYS} days; use `day` for longer ranges")
        return self


class StickinessPeriod(Model):
    """One period: its first day, how many units it has within the range, and persons per unit count."""

    date: str
    units: int
    counts: list[int]


class StickinessResult(TableResult):
    """`periods`: one per period of the range, in order (one only for `period` = `range`)."""

    periods: list[StickinessPeriod]

    def rows(self) -> list[dict[str, Any]]:
        """One row per period and unit count: date, units (active units), persons."""
        return [
            {"date": p.date, "units": k, "persons": n} for p in self.periods for k, n in enumerate(p.counts, start=1)
        ]


def periods_of(span: DateSpan, period: Window, ctx: ProjectContext) -> list[tuple[dt.date, DateSpan]]:
    """Each period's label and the part of the range it covers."""
    if period == "range":
        return [(span.date_from, span)]
    out = []
    for start in period_starts(span, period, ctx.week_start):
        first = max(start, span.date_from)
        last = min(next_period(start, period) - dt.timedelta(days=1), span.date_to)
        out.append((start, span_of(ctx, first, last)))
    return out


def units_in(part: DateSpan, interval: Unit, ctx: ProjectContext) -> int:
    """The number of `interval` buckets overlapping a (cut) period."""
    if interval == "hour":
        return len(hour_starts(ctx, part))
    if interval == "day":
        return part.days
    return len({period_start(part.date_from + dt.timedelta(days=i), "week", ctx.week_start) for i in range(part.days)})


def stickiness_statement(query: StickinessQuery, builder: QueryBuilder) -> exp.Select:
    """Persons per period `p` and number of active units `units`. Columns `p`, `units`, `persons`.

    The events are first reduced to distinct (person, local day or hour) pairs, so that the timezone is
    applied once per event; a pair's period (and week) follow from its local date."""
    ctx = builder.ctx
    dialect = builder.dialect
    span = resolve_span(ctx, query.date_from, query.date_to)
    late = builder.resolves_late(query.filters)
    events = builder.events(
        span.start, span.end, events=[query.event], filters=query.filters, resolve_persons=not late, hourly=True
    )
    fine: Interval = "hour" if query.interval == "hour" else "day"
    pairs = exp.select(col(PERSON), exp.alias_(builder.bucket(fine), "f")).from_("ev").distinct()
    if late:
        # Distinct per stored person first; only those pairs are resolved through identity merges.
        pairs = exp.select(col(PERSON), "f").from_(builder.resolve_later(pairs, ["f"]).subquery("resolved")).distinct()
    # An hour is `YYYY-MM-DDTHH:00` text: its first 10 characters are its local date.
    day = (
        exp.cast(exp.Substring(this=exp.column("f"), start=num(1), length=num(10)), "DATE")
        if fine == "hour"
        else exp.column("f")
    )
    period = (
        builder.value(span.date_from)
        if query.period == "range"
        else dialect.truncate_date(day, query.period, ctx.week_start)
    )
    unit = dialect.truncate_date(day.copy(), "week", ctx.week_start) if query.interval == "week" else exp.column("f")
    triples = exp.select(exp.alias_(period, "p"), col(PERSON), exp.alias_(unit, "u")).from_("pairs")
    if query.interval == "week":
        # Several days of a week make one unit; days and hours are distinct already.
        triples = triples.distinct()
    per_person = (
        exp.select("p", exp.alias_(exp.Count(this=exp.Star()), "units"))
        .from_(triples.subquery("triples"))
        .group_by(exp.column("p"), col(PERSON))
    )
    counts = (
        exp.select("p", "units", exp.alias_(exp.Count(this=exp.Star()), "persons"))
        .from_(per_person.subquery("per_person"))
        .group_by(exp.column("p"), exp.column("units"))
    )
    return cte_query([("ev", events), ("pairs", pairs)], counts)


def compute_stickiness(query: StickinessQuery, builder: QueryBuilder, fetch: Fetch) -> StickinessResult:
    """Run a stickiness query."""
    ctx = builder.ctx
    span = resolve_span(ctx, query.date_from, query.date_to)
    found: dict[dt.date, dict[int, int]] = defaultdict(dict)
    for row in fetch.rows(stickiness_statement(query, builder)):
        found[as_date(row["p"])][int(row["units"])] = int(row["persons"])
    periods = []
    for label, part in periods_of(span, query.period, ctx):
        units = units_in(part, query.interval, ctx)
        counts = [found[label].get(k, 0) for k in range(1, units + 1)]
        if query.cumulative:
            for k in range(units - 2, -1, -1):
                counts[k] += counts[k + 1]
        periods.append(StickinessPeriod(date=label.isoformat(), units=units, counts=counts))
    return StickinessResult(periods=periods)


ANALYSES: dict[str, Analysis[Any, Any]] = {
    "stickiness": Analysis(StickinessQuery, StickinessResult, compute_stickiness)
}
