"""Lifecycle: per period, the active persons split into new, returning and resurrecting, and the dormant ones.

A person is active in a period (a local day, week or month) when they did the event, with the filters, in it.
Buckets are whole calendar periods: the first bucket counts its events from its own first day even when that
is before `date_from`, and the last one counts them up to the end of `date_to`. Everything before `date_to`
counts as history, so "new" (the person's first active period ever) looks back over all of it.

One statement computes it: the distinct (person, bucket) pairs of the events read, each with the person's
previous active bucket (`Dialect.previous_values`: `lag` on DuckDB, sorted arrays on ClickHouse); per bucket
it counts active persons, those with no earlier bucket (new) and
those whose previous active bucket is the period just before (returning). The rest follows in Python:
resurrecting = active - new - returning, dormant = active in the previous period - returning.
`growth` reads the same counts (see `period_counts`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import ANY_EVENT, Period, RangeQuery, check_name
from opsloop.analytics.runner import Analysis, Fetch, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import (
    period_number,
    period_of_number,
    period_starts,
    resolve_span,
    shift_periods,
)

#: Where history starts: the events read for "first active period ever" begin here (ClickHouse's `Date`
#: cannot hold an earlier day, and no analytics event is older).
HISTORY_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def check_interval(value: Any, kind: str) -> Any:
    """Lifecycle-style kinds compare whole periods: day, week or month; `hour` is refused with a reason."""
    if value == "hour":
        raise ValueError(f"{kind} compares whole periods: use `day`, `week` or `month`, not `hour`")
    return value


class ActivityQuery(RangeQuery):
    """Fields shared by lifecycle and growth: which event makes a person active, and the period length."""

    event: str = Field(ANY_EVENT, description=f"the event that makes a person active (`{ANY_EVENT}`: any event)")

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return check_name(value, "event")


class LifecycleQuery(ActivityQuery):
    """Lifecycle: new, returning, resurrecting and dormant persons per day, week or month."""

    kind: Literal["lifecycle"] = "lifecycle"
    interval: Period = Field("day", description="`day`, `week` or `month` (hours are not supported)")

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        return check_interval(value, "lifecycle")


class LifecycleResult(TableResult):
    """Lists aligned with `dates` (each period's first local day); `dormant` counts are positive."""

    dates: list[str]
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]

    def rows(self) -> list[dict[str, Any]]:
        """One row per period: date, new, returning, resurrecting, dormant."""
        return [
            {"date": d, "new": n, "returning": r, "resurrecting": s, "dormant": m}
            for d, n, r, s, m in zip(self.dates, self.new, self.returning, self.resurrecting, self.dormant, strict=True)
        ]


@dataclass(frozen=True)
class PeriodCounts:
    """The persons of one period by status (all counts of distinct persons)."""

    date: dt.date
    active: int
    new: int
    returning: int
    resurrecting: int
    dormant: int
    #: Persons active in the period before this one.
    previous_active: int


# -- SQL -----------------------------------------------------------------------------------------------------


def _count_where(condition: exp.Expression) -> exp.Expression:
    """`COUNT(CASE WHEN condition THEN 1 END)`: 0, not NULL, when the condition is never true (DuckDB's
    `count_if` over only NULL conditions is NULL)."""
    return exp.Count(this=exp.Case(ifs=[exp.If(this=condition, true=num(1))]))


def activity_statement(query: ActivityQuery, interval: Period, builder: QueryBuilder) -> exp.Select:
    """Per bucket from the one before the first period on: `active`, `new` (no earlier active bucket) and
    `returning` (previous active bucket is the period just before) persons. Columns `v` (the bucket's
    `Dialect.date_number`), `active`, `new`, `returning`."""
    ctx = builder.ctx
    span = resolve_span(ctx, query.date_from, query.date_to)
    before = shift_periods(period_starts(span, interval, ctx.week_start)[0], interval, -1)
    late = builder.resolves_late(query.filters)
    events = builder.events(
        HISTORY_START, span.end, events=[query.event], filters=query.filters, resolve_persons=not late, hourly=True
    )
    number = builder.dialect.date_number(builder.bucket(interval), "month" if interval == "month" else "day")
    numbered = exp.select(col(PERSON), exp.alias_(number, "n")).from_("ev")
    listed = False
    if late:
        # Distinct buckets per stored person first: only those are resolved through identity merges.
        numbered, listed = builder.resolve_values_later(numbered, "n")
    sequence = builder.dialect.previous_values(numbered, PERSON, "n", listed)
    step = 7 if interval == "week" else 1
    previous = exp.column("pv")
    counts = (
        exp.select(
            "v",
            exp.alias_(exp.Count(this=exp.Star()), "active"),
            exp.alias_(_count_where(exp.Is(this=previous, expression=exp.Null())), "new"),
            exp.alias_(
                _count_where(
                    exp.EQ(this=previous.copy(), expression=exp.Sub(this=exp.column("v"), expression=num(step)))
                ),
                "returning",
            ),
        )
        .from_(sequence.subquery("seq"))
        .where(exp.GTE(this=exp.column("v"), expression=builder.value(period_number(before, interval))))
        .group_by("v")
    )
    return cte_query([("ev", events)], counts)


def period_counts(query: ActivityQuery, interval: Period, builder: QueryBuilder, fetch: Fetch) -> list[PeriodCounts]:
    """The statuses of every period of the query's range, in order."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    found: dict[dt.date, tuple[int, int, int]] = {}
    for row in fetch.rows(activity_statement(query, interval, builder)):
        found[period_of_number(int(row["v"]), interval)] = (int(row["active"]), int(row["new"]), int(row["returning"]))
    out = []
    for day in period_starts(span, interval, builder.ctx.week_start):
        active, new, returning = found.get(day, (0, 0, 0))
        previous = found.get(shift_periods(day, interval, -1), (0, 0, 0))[0]
        out.append(
            PeriodCounts(
                date=day,
                active=active,
                new=new,
                returning=returning,
                resurrecting=active - new - returning,
                dormant=previous - returning,
                previous_active=previous,
            )
        )
    return out


def compute_lifecycle(query: LifecycleQuery, builder: QueryBuilder, fetch: Fetch) -> LifecycleResult:
    """Run a lifecycle query."""
    periods = period_counts(query, query.interval, builder, fetch)
    return LifecycleResult(
        dates=[p.date.isoformat() for p in periods],
        new=[p.new for p in periods],
        returning=[p.returning for p in periods],
        resurrecting=[p.resurrecting for p in periods],
        dormant=[p.dormant for p in periods],
    )


ANALYSES: dict[str, Analysis[Any, Any]] = {"lifecycle": Analysis(LifecycleQuery, LifecycleResult, compute_lifecycle)}
