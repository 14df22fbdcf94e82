"""Distribution (usage frequency): persons by how many times they did an event per period, and by how many
distinct local days they did it in the range.

`frequency`: for each period (the whole range, labelled `date_from`, or each local day / week / month touching
it, labelled by its first day, counting only events inside the range), the persons who did the event (with
the filters) at least once in it, by number of times, in histogram buckets given by their lower edges.
`active_days`: over the whole range, persons by the number of distinct local days on which they did it.

One statement: events counted per (person, local day), then per (person, period) and per person with grouping
sets, then persons per (period, bucket) and per number of active days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlglot import exp

from opsloop.analytics.active_users import ActiveEventQuery
from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import Model
from opsloop.analytics.runner import Analysis, Fetch, as_date, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import period_starts, resolve_span

Per = Literal["range", "day", "week", "month"]
#: Default bucket lower edges: 1, 2, 3, 4, 5, 6-10, 11-20, 21-50, 51-100, 101+.
DEFAULT_BUCKETS = (1, 2, 3, 4, 5, 6, 11, 21, 51, 101)
MAX_BUCKETS = 50


class DistributionQuery(ActiveEventQuery):
    """Usage frequency: persons by number of times per period, and by number of active days."""

    kind: Literal["distribution"] = "distribution"
    per: Per = Field("range", description="the period times are counted in: `range`, `day`, `week` or `month`")
    buckets: list[int] = Field(
        default_factory=lambda: list(DEFAULT_BUCKETS),
        description="lower edges of the histogram buckets: strictly increasing positive integers, at most 50",
    )

    @field_validator("buckets", mode="before")
    @classmethod
    def _buckets(cls, value: Any) -> Any:
        if not isinstance(value, list) or not value or len(value) > MAX_BUCKETS:
            raise ValueError(f"buckets must be a list of 1 to {MAX_BUCKETS} lower edges")
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
            raise ValueError("buckets must be positive integers")
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("buckets must be strictly increasing")
        return value


class FrequencyBucket(Model):
    """Persons who did the event `min` to `max` times (`max` null: `min` or more)."""

    min: int
    max: int | None
    persons: int


class FrequencyPeriod(Model):
    """One period's histogram."""

    date: str
    buckets: list[FrequencyBucket]


class ActiveDays(Model):
    """Persons active on exactly `days` distinct local days of the range."""

    days: int
    persons: int


class DistributionResult(TableResult):
    """`frequency`: one histogram per period; `active_days`: one entry per day count, 1 to the range's days."""

    frequency: list[FrequencyPeriod]
    active_days: list[ActiveDays]

    def rows(self) -> list[dict[str, Any]]:
        """One row per period and bucket: date, min, max, persons (active days are `active_days`)."""
        return [
            {"date": p.date, "min": b.min, "max": b.max, "persons": b.persons}
            for p in self.frequency
            for b in p.buckets
        ]


def bucket_index(times: exp.Expression, edges: list[exp.Expression]) -> exp.Expression:
    """The index of the bucket `times` falls in (-1 below the first edge)."""
    ifs = [
        exp.If(this=exp.GTE(this=times.copy(), expression=edge), true=num(i))
        for i, edge in reversed(list(enumerate(edges)))
    ]
    return exp.Case(ifs=ifs, default=num(-1))


def distribution_statement(query: DistributionQuery, builder: QueryBuilder) -> exp.Select:
    """Rows `(is_days = 0, p, k = bucket index, persons)` for the frequency histogram of each period `p`,
    and `(is_days = 1, p (any value), k = active days, persons)` for the active-days histogram."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    # The hourly rollup's rows are few enough to resolve each one (chdb at 10M: 0.15 s against 0.18 s for
    # resolving the (person, day) rows and adding them up again per person).
    hours = builder.reads_hours(span.start, span.end, query.filters)
    late = builder.resolves_late(query.filters) and not hours
    events = builder.events(
        span.start, span.end, events=[query.event], filters=query.filters, resolve_persons=not late, hourly=True
    )
    per_day = (
        exp.select(col(PERSON), exp.alias_(builder.bucket("day"), "d"), exp.alias_(builder.event_count(), "times"))
        .from_("ev")
        .group_by(col(PERSON), exp.column("d"))
    )
    if late:
        # Counted per stored person and day first; only those rows are resolved through identity merges.
        per_day = (
            exp.select(col(PERSON), "d", exp.alias_(exp.Sum(this=exp.column("times")), "times"))
            .from_(builder.resolve_later(per_day, ["d", "times"]).subquery("resolved"))
            .group_by(col(PERSON), exp.column("d"))
        )
    # A day's period follows from its local date (the timezone is applied once per event, above).
    period: exp.Expression
    if query.per == "range":
        period = builder.value(span.date_from)
    elif query.per == "day":
        period = exp.column("d")
    else:
        period = builder.dialect.truncate_date(exp.column("d"), query.per, builder.ctx.week_start)
    dated = exp.select(col(PERSON), exp.alias_(period, "p"), "times").from_("per_day")
    # Per (person, period): times = events; per person (is_days = 1): active = distinct days.
    per_person = (
        exp.select(
            "p",
            exp.alias_(exp.func("grouping", exp.column("p")), "is_days"),
            exp.alias_(exp.Sum(this=exp.column("times")), "total"),
            exp.alias_(exp.Count(this=exp.Star()), "active"),
        )
        .from_(dated.subquery("dated"))
        .group_by(
            exp.GroupingSets(
                expressions=[
                    exp.Tuple(expressions=[col(PERSON), exp.column("p")]),
                    exp.Tuple(expressions=[col(PERSON)]),
                ]
            )
        )
    )
    edges = [builder.value(edge) for edge in query.buckets]
    key = exp.If(
        this=exp.EQ(this=exp.column("is_days"), expression=num(1)),
        true=exp.cast(exp.column("active"), "BIGINT"),
        false=exp.cast(bucket_index(exp.column("total"), edges), "BIGINT"),
    )
    counts = (
        exp.select(
            "is_days",
            "p",
            exp.alias_(key, "k"),
            exp.alias_(exp.Count(this=exp.Star()), "persons"),
        )
        .from_(per_person.subquery("per_person"))
        .group_by(exp.column("is_days"), exp.column("p"), exp.column("k"))
    )
    return cte_query([("ev", events), ("per_day", per_day)], counts)


def compute_distribution(query: DistributionQuery, builder: QueryBuilder, fetch: Fetch) -> DistributionResult:
    """Run a distribution query."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    frequency: dict[dt.date, dict[int, int]] = defaultdict(dict)
    days: dict[int, int] = {}
    for row in fetch.rows(distribution_statement(query, builder)):
        if row["is_days"]:
            days[int(row["k"])] = int(row["persons"])
        else:
            frequency[as_date(row["p"])][int(row["k"])] = int(row["persons"])
    labels = [span.date_from] if query.per == "range" else period_starts(span, query.per, builder.ctx.week_start)
    edges = query.buckets
    highs: list[int | None] = [b - 1 for b in edges[1:]]
    highs.append(None)
    return DistributionResult(
        frequency=[
            FrequencyPeriod(
                date=label.isoformat(),
                buckets=[
                    FrequencyBucket(min=low, max=high, persons=frequency[label].get(i, 0))
                    for i, (low, high) in enumerate(zip(edges, highs, strict=True))
                ],
            )
            for label in labels
        ],
        active_days=[ActiveDays(days=n, persons=days.get(n, 0)) for n in range(1, span.days + 1)],
    )


ANALYSES: dict[str, Analysis[Any, Any]] = {
    "distribution": Analysis(DistributionQuery, DistributionResult, compute_distribution)
}
