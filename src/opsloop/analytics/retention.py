"""Retention: of the persons who did a start event in a period (a cohort), how many came back in each later period.

Cohorts are the local day / week / month buckets of the range (`period_starts`): the first one is labelled by
its own first day, which may be before `date_from`, but only start events inside `[date_from, date_to]` put a
person in a cohort. `first_time`: a person's cohort is the period of their first start event ever (one before
`date_from` puts them in no cohort); `recurring`: every period in which they did a start event. `counts[0]` is
the cohort size; `counts[k]` the cohort's persons who did the return event in period cohort+k (or, with
`cumulative`, in that period or any later one up to the end of `date_to`). `counts[k]` is only reported once
period cohort+k has ended by `date_to` (the triangle); `counts[0]` always is.

One statement, one scan of the events. `first_time`: per person the first start event (and its breakdown
value) and the array of periods with a return event; each cohort person expands into periods 0 .. intervals-1
(`expand_range`), kept when in the array. `recurring`: per (person, period) the first start event and whether
a return happened; each cohort period expands into the periods it looks for returns in, matched with the
person's return periods by a window. Cumulative needs only the person's last return period. The engine
returns persons per (cohort, breakdown value, offset); Python lays them out as triangles.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, PROPERTIES, TIMESTAMP, QueryBuilder, col, num
from opsloop.analytics.common import (
    ANY_EVENT,
    OTHER_VALUE,
    Breakdown,
    Model,
    Period,
    PropertyFilter,
    RangeQuery,
    check_name,
)
from opsloop.analytics.runner import Analysis, Fetch, as_date, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import (
    DateSpan,
    next_period,
    period_number,
    period_starts,
    resolve_span,
    shift_periods,
)

#: Where history starts for `first_time` (a first start event ever): ClickHouse's `Date` holds no earlier day.
HISTORY_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_INTERVALS = 100
#: Ranges of up to this many periods keep each person's return periods as one 64-bit set.
BIT_PERIODS = 64

RetentionType = Literal["first_time", "recurring"]


class RetentionQuery(RangeQuery):
    """Retention: cohorts by the period of a start event, and how many of them return in each later period."""

    kind: Literal["retention"] = "retention"
    start_event: str = Field(description=f"the event that puts a person in a cohort (`{ANY_EVENT}`: any event)")
    return_event: str = Field(ANY_EVENT, description=f"the event that counts as coming back (`{ANY_EVENT}`: any)")
    period: Period = Field("day", description="cohort and return periods: `day`, `week` or `month`")
    intervals: int = Field(
        8, description=f"periods per cohort: 0 (the cohort itself) to intervals-1; 1 to {MAX_INTERVALS}"
    )
    retention_type: RetentionType = Field("first_time", description="`first_time` or `recurring` cohorts")
    cumulative: bool = Field(False, description="count a return in period k or any later period (on-or-after)")
    breakdown: Breakdown | None = Field(None, description="split cohorts by a property (see docs/metrics.md)")
    start_filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="start events only")
    return_filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="return events only")

    @field_validator("start_event", "return_event")
    @classmethod
    def _event(cls, value: str) -> str:
        return check_name(value, "event")

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> Any:
        if value == "hour":
            raise ValueError("retention compares whole periods: use `day`, `week` or `month`, not `hour`")
        return value

    @field_validator("intervals", mode="before")
    @classmethod
    def _intervals(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INTERVALS:
            raise ValueError(f"intervals must be a whole number from 1 to {MAX_INTERVALS} (got {value!r})")
        return value


class RetentionCohort(Model):
    """One cohort: its period's first local day, its size and the persons retained in each period after it."""

    date: str
    breakdown_value: str | None = None
    size: int
    counts: list[int]


class RetentionResult(TableResult):
    """`cohorts`: one per cohort period (and breakdown value), in order of breakdown value, then date."""

    cohorts: list[RetentionCohort]

    def rows(self) -> list[dict[str, Any]]:
        """One row per cohort and period: date, breakdown_value, size, period, count."""
        return [
            {"date": c.date, "breakdown_value": c.breakdown_value, "size": c.size, "period": k, "count": n}
            for c in self.cohorts
            for k, n in enumerate(c.counts)
        ]


# -- SQL -----------------------------------------------------------------------------------------------------


def _side(event: str, filters: Sequence[PropertyFilter], builder: QueryBuilder, *more: exp.Expr) -> exp.Expr:
    """The condition an `events` row (aliases `e`, `pp`) meets to be a start (or return) event."""
    rules = [builder.matches(r, col(PROPERTIES, "e" if r.type == "event" else "pp")) for r in filters]
    present = [c for c in (builder.event_is([event], "e"), *rules, *more) if c is not None]
    return exp.and_(*present) if present else exp.Boolean(this=True)


def _named(expression: exp.Expr, name: str) -> exp.Expression:
    """`expression AS name`."""
    return exp.Alias(this=expression, alias=exp.to_identifier(name))


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expression:
    """`CASE WHEN condition THEN value END`."""
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


def _over(function: exp.Expression, *partition: str, order: Sequence[exp.Ordered] = ()) -> exp.Window:
    """`function OVER (PARTITION BY ... ORDER BY ...)`."""
    return exp.Window(
        this=function,
        partition_by=[exp.column(p) for p in partition] or None,
        order=exp.Order(expressions=list(order)) if order else None,
    )


def _events(query: RetentionQuery, span: DateSpan, builder: QueryBuilder, late: bool = False) -> exp.Select:
    """Start and return events with flags `is_start`, `is_return` and the raw breakdown value `bv`; with
    `late`, `person_id` is the person each event was stored with (see `_late_statement`)."""
    is_start = _side(query.start_event, query.start_filters, builder)
    in_range = exp.GTE(this=col(TIMESTAMP, "e"), expression=builder.value(span.start))
    is_return = _side(query.return_event, query.return_filters, builder, in_range)
    breakdown = query.breakdown
    by_person = breakdown is not None and breakdown.type == "person"
    extra: list[exp.Expression] = [_named(is_start, "is_start"), _named(is_return, "is_return")]
    if breakdown is not None:
        document = col(PROPERTIES, "pp" if by_person else "e")
        # Only a start event's value is ever used: the others are not parsed.
        value = builder.breakdown_text(breakdown, document)
        extra.append(_named(_when(is_start.copy(), value), "bv"))
    sides = [*query.start_filters, *query.return_filters]
    first_time = query.retention_type == "first_time"
    events = builder.events(
        HISTORY_START if first_time else span.start,
        span.end,
        events=[query.start_event, query.return_event],
        filters=query.filters,
        with_person=by_person or any(f.type == "person" for f in sides),
        extra=extra,
        resolve_persons=not late,
        hourly=breakdown is None and not sides,
    )
    # Before the range only start events matter (`first_time`: to find a person's first one).
    return events.where(exp.or_(is_start.copy(), is_return.copy()))


def _earliest_value(
    ts: exp.Expr, value: exp.Expression, condition: exp.Expression, builder: QueryBuilder
) -> exp.Expression:
    """Aggregate: `value` of the row with the earliest `ts` among those meeting `condition`; at the same
    instant a set value wins, then the smallest text. (`arg_min_if` skips NULL values, so whether the chosen
    row's value is NULL is taken separately.)"""
    unset = exp.Is(this=value.copy(), expression=exp.Null())
    key = exp.Tuple(expressions=[ts, unset, exp.func("coalesce", value.copy(), exp.Literal.string(""))])
    is_unset = builder.dialect.arg_min_if(unset.copy(), key, condition)
    first = builder.dialect.arg_min_if(value, key.copy(), condition.copy())
    return exp.Case(ifs=[exp.If(this=is_unset, true=exp.Null())], default=first)


def _number(query: RetentionQuery, builder: QueryBuilder, day: exp.Expression) -> exp.Expression:
    """A period's first day as a number: consecutive periods differ by 1 (weeks: by 7)."""
    return builder.dialect.date_number(day, "month" if query.period == "month" else "day")


def _rows(query: RetentionQuery, builder: QueryBuilder, grouped: bool) -> exp.Select:
    """Rows with `person_id`, `b` (the period's first local day), `n` (its number), `s` (start event time),
    `sv` (its breakdown value) and `r` (1 for a return event): one per event, or (`grouped`) one per person
    and period with the first start event and whether any return event happened."""
    ts = col(TIMESTAMP)
    start_time = _when(exp.column("is_start"), ts)
    returned = exp.Case(ifs=[exp.If(this=exp.column("is_return"), true=num(1))], default=num(0))
    value: exp.Expression = exp.Null()
    if grouped and query.breakdown is not None:
        value = _earliest_value(ts.copy(), exp.column("bv"), exp.column("is_start"), builder)
    elif query.breakdown is not None:
        value = exp.column("bv")
    columns = [
        col(PERSON),
        exp.alias_(builder.bucket(query.period), "b"),
        exp.alias_(exp.Min(this=start_time) if grouped else start_time, "s"),
        exp.alias_(value, "sv"),
        exp.alias_(exp.Max(this=returned) if grouped else returned, "r"),
    ]
    inner = exp.select(*columns).from_("ev")
    if grouped:
        inner = inner.group_by(col(PERSON), exp.column("b"))
    number = exp.cast(_number(query, builder, exp.column("b")), "BIGINT")
    return exp.select(col(PERSON), "b", exp.alias_(number, "n"), "s", "sv", "r").from_(inner.subquery("g"))


def _first_time(query: RetentionQuery, span: DateSpan, builder: QueryBuilder, step: int, limit: int) -> exp.Select:
    """Rows (cb, cbv, d): a person's cohort date and breakdown value, and `d`, the offset of a period after
    it with a return event (0: the cohort itself; cumulative: the furthest one, capped at `limit`). Read from
    the events themselves where the engine collects distinct values cheaply, else from `per`."""
    s, r, n = exp.column("s"), exp.column("r"), exp.column("n")
    started = exp.Not(this=exp.Is(this=s.copy(), expression=exp.Null()))
    returned = exp.EQ(this=r, expression=num(1))
    # Without a breakdown every value is NULL: no need to find the first one (a costly keyed aggregate).
    first_value = _earliest_value(s.copy(), exp.column("sv"), started, builder) if query.breakdown else exp.Null()
    columns: list[str | exp.Expr] = [
        exp.alias_(exp.Min(this=s.copy()), "t0"),
        exp.alias_(first_value, "cbv"),
        exp.alias_(builder.dialect.collect_distinct_if(n, returned), "rets"),
    ]
    if query.cumulative:
        columns.append(exp.alias_(exp.Max(this=_when(returned.copy(), n.copy())), "mr"))
    source = "ev_rows" if builder.dialect.collects_distinct_cheaply else "per"
    people = exp.select(*columns).from_(source).group_by(col(PERSON))
    cohort = builder.bucket(query.period, exp.column("t0"))
    number = _number(query, builder, cohort.copy())
    cohorts = (
        exp.select(
            exp.alias_(cohort, "cb"), exp.alias_(number, "cn"), "cbv", "rets", *(["mr"] if query.cumulative else [])
        )
        .from_(people.subquery("p"))
        .where(exp.GTE(this=exp.column("t0"), expression=builder.value(span.start)))
    )
    if query.cumulative:
        return _furthest(cohorts.subquery("c"), "cn", limit)
    expanded = exp.select(
        "cb", "cbv", "cn", "rets", exp.alias_(builder.dialect.expand_range(num(0), num(query.intervals)), "k")
    ).from_(cohorts.subquery("c"))
    d = exp.Mul(this=exp.column("k"), expression=num(step))
    kept = exp.or_(
        exp.EQ(this=exp.column("k"), expression=num(0)),
        builder.dialect.array_contains(exp.column("rets"), exp.Add(this=exp.column("cn"), expression=d.copy())),
    )
    return exp.select("cb", "cbv", exp.alias_(d, "d")).from_(expanded.subquery("x")).where(kept)


def _last_return() -> exp.Expression:
    """The number of the person's last period with a return event (a window over `per` rows)."""
    return _over(exp.Max(this=_when(exp.EQ(this=exp.column("r"), expression=num(1)), exp.column("n"))), PERSON)


def _furthest(source: exp.Expression, cohort: str, limit: int) -> exp.Select:
    """Cumulative rows (cb, cbv, d): `d` is the offset of the person's last return period after the cohort
    (0 when none), capped at `limit`."""
    gap = exp.Sub(this=exp.column("mr"), expression=exp.column(cohort))
    furthest = exp.Case(
        ifs=[
            exp.If(
                this=exp.GT(this=exp.column("mr"), expression=exp.column(cohort)),
                true=exp.Least(this=gap, expressions=[num(limit)]),
            )
        ],
        default=num(0),
    )
    return exp.select("cb", "cbv", exp.alias_(furthest, "d")).from_(source)


def _recurring(query: RetentionQuery, builder: QueryBuilder, step: int, limit: int) -> exp.Select:
    """Rows (cb, cbv, d) for recurring cohorts: every period with a start event is a cohort."""
    started = exp.Not(this=exp.Is(this=exp.column("s"), expression=exp.Null()))
    if query.cumulative:
        people = exp.select(
            exp.alias_(exp.column("b"), "cb"),
            exp.alias_(exp.column("sv"), "cbv"),
            "n",
            "s",
            exp.alias_(_last_return(), "mr"),
        ).from_("per")
        return _furthest(people.subquery("c"), "n", limit).where(started)
    # Each period expands into rows j: j = 0 marks a return event in it; with a start event, j = 1 .. intervals
    # stand for the cohort it starts (j = 1) and the period j - 1 periods later (target `t`) where a return
    # is looked for. A target row counts when a marker row of the same person has the same `t`.
    returned = exp.EQ(this=exp.column("r"), expression=num(1))
    low = exp.Case(ifs=[exp.If(this=returned, true=num(0))], default=num(1))
    high = exp.Case(ifs=[exp.If(this=started, true=num(query.intervals + 1))], default=num(1))
    expanded = exp.select(col(PERSON), "b", "n", "sv", exp.alias_(builder.dialect.expand_range(low, high), "j")).from_(
        "per"
    )
    j = exp.column("j")
    later = exp.Mul(this=exp.paren(exp.Sub(this=j.copy(), expression=num(1))), expression=num(step))
    target = exp.Case(
        ifs=[exp.If(this=exp.EQ(this=j.copy(), expression=num(0)), true=exp.column("n"))],
        default=exp.Add(this=exp.column("n"), expression=later),
    )
    marker = exp.Case(ifs=[exp.If(this=exp.EQ(this=j.copy(), expression=num(0)), true=num(1))], default=num(0))
    targets = exp.select(col(PERSON), "b", "sv", "j", exp.alias_(target, "t")).from_(expanded.subquery("x"))
    matched = exp.select("b", "sv", "j", exp.alias_(_over(exp.Max(this=marker), PERSON, "t"), "hit")).from_(
        targets.subquery("y")
    )
    counted = exp.or_(
        exp.EQ(this=j.copy(), expression=num(1)),
        exp.and_(exp.GT(this=j.copy(), expression=num(1)), exp.EQ(this=exp.column("hit"), expression=num(1))),
    )
    return (
        exp.select(
            exp.alias_(exp.column("b"), "cb"),
            exp.alias_(exp.column("sv"), "cbv"),
            exp.alias_(exp.Mul(this=exp.paren(exp.Sub(this=j.copy(), expression=num(1))), expression=num(step)), "d"),
        )
        .from_(matched.subquery("m"))
        .where(counted)
    )


def _grouped(query: RetentionQuery, builder: QueryBuilder) -> exp.Select:
    """Per (cb, value, d): persons; with a breakdown, values outside the top `limit` become `$other`."""
    counted = (
        exp.select("cb", exp.alias_(exp.column("cbv"), "bv"), "d", exp.alias_(exp.Count(this=exp.Star()), "c"))
        .from_("hits")
        .group_by("cb", "cbv", "d")
    )
    breakdown = query.breakdown
    if breakdown is None:
        return counted
    # Cohort persons per value: the k = 0 rows, or (cumulative: one row per person) every row.
    members = (
        exp.column("c") if query.cumulative else _when(exp.EQ(this=exp.column("d"), expression=num(0)), exp.column("c"))
    )
    totals = exp.select("cb", "bv", "d", "c", exp.alias_(_over(exp.Sum(this=members), "bv"), "total")).from_(
        counted.subquery("t")
    )
    unset = exp.Is(this=exp.column("bv"), expression=exp.Null())
    rank = _over(
        exp.Anonymous(this="dense_rank"),
        order=[
            exp.Ordered(this=unset),
            exp.Ordered(this=exp.column("total"), desc=True),
            exp.Ordered(this=exp.column("bv")),
        ],
    )
    ranked = exp.select("cb", "bv", "d", "c", exp.alias_(rank, "rk")).from_(totals.subquery("u"))
    value = exp.Case(
        ifs=[
            exp.If(this=unset.copy(), true=exp.Null()),
            exp.If(this=exp.LTE(this=exp.column("rk"), expression=num(breakdown.limit)), true=exp.column("bv")),
        ],
        default=builder.value(OTHER_VALUE),
    )
    return (
        exp.select("cb", exp.alias_(value, "value"), "d", exp.alias_(exp.Sum(this=exp.column("c")), "n"))
        .from_(ranked.subquery("v"))
        .group_by("cb", "value", "d")
    )


def _periods(query: RetentionQuery, span: DateSpan, builder: QueryBuilder) -> list[dt.date]:
    """The first day of each period of the range."""
    return period_starts(span, query.period, builder.ctx.week_start)


def _resolves_late(query: RetentionQuery, span: DateSpan, builder: QueryBuilder) -> bool:
    """Whether `_late_statement` computes this query: first-time cohorts, no breakdown, no person filters,
    and a range of at most `BIT_PERIODS` periods."""
    return (
        query.retention_type == "first_time"
        and query.breakdown is None
        and builder.resolves_late([*query.filters, *query.start_filters, *query.return_filters])
        and len(_periods(query, span, builder)) <= BIT_PERIODS
    )


def _late_statement(query: RetentionQuery, span: DateSpan, builder: QueryBuilder, step: int, limit: int) -> exp.Select:
    """First-time retention from one row per person: the first start event `t0` and the set of the range's
    periods with a return event, as bits (period i of the range is bit i). Events are aggregated per stored
    person, then those rows per person after identity merges (`resolve_later`), so no event is joined to
    the merges. Rows (cb, bv, d, c) as `retention_statement`'s."""
    periods = _periods(query, span, builder)
    first = period_number(periods[0], query.period)
    ts = col(TIMESTAMP)
    number = exp.cast(_number(query, builder, builder.bucket(query.period)), "BIGINT")
    # Weeks from the local day (cheaper than truncating to the week): `first` is a week's first day, and
    # every return event is on or after it.
    day = exp.cast(builder.dialect.date_number(builder.bucket("day"), "day"), "BIGINT")
    counted = day if query.period == "week" else number.copy()
    index = builder.dialect.int_div(exp.paren(exp.Sub(this=counted, expression=num(first))), num(step))
    returned = exp.column("is_return")
    aggregates: list[tuple[str, exp.Expression, exp.Expression]] = [
        ("t0", exp.Min(this=_when(exp.column("is_start"), ts)), exp.Min(this=exp.column("t0"))),
        (
            "bits",
            builder.dialect.bit_set_if(_when(returned, index), returned.copy()),
            builder.dialect.bit_union(exp.column("bits")),
        ),
    ]
    if query.cumulative:
        aggregates.append(("mr", exp.Max(this=_when(returned.copy(), number)), exp.Max(this=exp.column("mr"))))
    stored = (
        exp.select(col(PERSON), *(exp.alias_(a, name) for name, a, _ in aggregates)).from_("ev").group_by(col(PERSON))
    )
    names = [name for name, _, _ in aggregates]
    people = (
        exp.select(*(exp.alias_(again, name) for name, _, again in aggregates))
        .from_(builder.resolve_later("stored", names).subquery("r"))
        .group_by(col(PERSON))
    )
    cohort = builder.bucket(query.period, exp.column("t0"))
    cohort_number = _number(query, builder, cohort.copy())
    cohort_index = builder.dialect.int_div(
        exp.paren(exp.Sub(this=cohort_number.copy(), expression=num(first))), num(step)
    )
    cohorts = (
        exp.select(
            exp.alias_(cohort, "cb"),
            exp.alias_(cohort_number, "cn"),
            exp.alias_(cohort_index, "ci"),
            exp.alias_(exp.Null(), "cbv"),
            *names[1:],
        )
        .from_("people")
        .where(exp.GTE(this=exp.column("t0"), expression=builder.value(span.start)))
    )
    if query.cumulative:
        hits = _furthest(exp.to_table("cohorts"), "cn", limit)
    else:
        k = exp.column("k")
        at = exp.Add(this=exp.column("ci"), expression=k.copy())
        kept = exp.or_(
            exp.EQ(this=k.copy(), expression=num(0)),
            exp.and_(
                exp.LT(this=at, expression=num(len(periods))), builder.dialect.has_bit(exp.column("bits"), at.copy())
            ),
        )
        expanded = exp.select(
            "cb", "ci", "bits", exp.alias_(builder.dialect.expand_range(num(0), num(query.intervals)), "k")
        ).from_("cohorts")
        hits = (
            exp.select(
                "cb", exp.alias_(exp.Null(), "cbv"), exp.alias_(exp.Mul(this=k.copy(), expression=num(step)), "d")
            )
            .from_(expanded.subquery("x"))
            .where(kept)
        )
    ctes: list[tuple[str, exp.Expression]] = [
        ("ev", _events(query, span, builder, late=True)),
        ("stored", stored),
        ("people", people),
        ("cohorts", cohorts),
        ("hits", hits),
    ]
    return cte_query(ctes, _grouped(query, builder))


def retention_statement(query: RetentionQuery, span: DateSpan, builder: QueryBuilder) -> exp.Select:
    """The whole retention query: rows (cb, value or bv, d, count) — persons per cohort, value and offset."""
    step = 7 if query.period == "week" else 1
    limit = (query.intervals - 1) * step
    if _resolves_late(query, span, builder):
        return _late_statement(query, span, builder, step, limit)
    ctes: list[tuple[str, exp.Expression]] = [("ev", _events(query, span, builder))]
    if query.retention_type == "first_time" and builder.dialect.collects_distinct_cheaply:
        ctes.append(("ev_rows", _rows(query, builder, grouped=False)))
    else:
        ctes.append(("per", _rows(query, builder, grouped=True)))
    if query.retention_type == "first_time":
        ctes.append(("hits", _first_time(query, span, builder, step, limit)))
    else:
        ctes.append(("hits", _recurring(query, builder, step, limit)))
    return cte_query(ctes, _grouped(query, builder))


# -- result --------------------------------------------------------------------------------------------------


def triangle_length(cohort: dt.date, query: RetentionQuery, date_to: dt.date) -> int:
    """How many periods a cohort reports: period 0 always, period k once it has ended by `date_to`."""
    length = 1
    while length < query.intervals:
        after = next_period(shift_periods(cohort, query.period, length), query.period)
        if after > date_to + dt.timedelta(days=1):
            break
        length += 1
    return length


def _value_order(value: str | None) -> tuple[int, str]:
    """Breakdown values in text order, then `$other`, then unset."""
    if value is None:
        return (2, "")
    return (1, "") if value == OTHER_VALUE else (0, value)


def compute_retention(query: RetentionQuery, builder: QueryBuilder, fetch: Fetch) -> RetentionResult:
    """Run a retention query."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    step = 7 if query.period == "week" else 1
    found: dict[tuple[dt.date, str | None], dict[int, int]] = defaultdict(dict)
    values: set[str | None] = set() if query.breakdown else {None}
    for row in fetch.rows(retention_statement(query, span, builder)):
        value = row.get("value") if query.breakdown else None
        found[(as_date(row["cb"]), value)][int(row["d"]) // step] = int(row["n" if query.breakdown else "c"])
        values.add(value)
    cohorts = []
    for value in sorted(values, key=_value_order):
        for day in period_starts(span, query.period, builder.ctx.week_start):
            hist = found.get((day, value), {})
            length = triangle_length(day, query, span.date_to)
            if query.cumulative:
                counts = [sum(c for k, c in hist.items() if k >= j) for j in range(length)]
            else:
                counts = [hist.get(j, 0) for j in range(length)]
            cohorts.append(RetentionCohort(date=day.isoformat(), breakdown_value=value, size=counts[0], counts=counts))
    return RetentionResult(cohorts=cohorts)


ANALYSES: dict[str, Analysis[Any, Any]] = {"retention": Analysis(RetentionQuery, RetentionResult, compute_retention)}
