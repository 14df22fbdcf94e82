"""Funnels: how many persons go through a sequence of steps, how fast, per breakdown value and over time.

The definition is in docs/metrics.md ("Funnels") and in `funnel_sql`, which builds each person's best
attempt; this module aggregates those attempts into step counts, conversion and time to convert.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder, num
from opsloop.analytics.common import OTHER_VALUE, Breakdown, Model, Period
from opsloop.analytics.funnel_persons import FUNNEL_PERSONS
from opsloop.analytics.funnel_sql import PATHS, FunnelDefinition, funnel_events, person_paths, value_index
from opsloop.analytics.runner import Analysis, Fetch, cte_query, label_of, ratio
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import DateSpan, bucket_labels, resolve_span

Attribution = Literal["first_touch", "last_touch", "step"]


class FunnelOverTime(Model):
    """Conversion of the persons entering in each period."""

    interval: Period = Field("day", description="day, week or month of the attempt's step 1")


class FunnelQuery(FunnelDefinition):
    """A funnel: step counts, conversion and time to convert, optionally per breakdown value and over time."""

    kind: Literal["funnel"] = "funnel"
    breakdown: Breakdown | None = None
    breakdown_attribution: Attribution = Field("first_touch", description="which step's value a person takes")
    attribution_step: int | None = Field(None, ge=1, description="the step for attribution `step` (1-based)")
    over_time: FunnelOverTime | None = Field(None, description="also report conversion per entry period")

    @model_validator(mode="after")
    def _attribution_step(self) -> FunnelQuery:
        if self.breakdown_attribution == "step":
            if self.attribution_step is None:
                raise ValueError("attribution_step: required with breakdown_attribution `step`")
            if self.attribution_step > len(self.steps):
                raise ValueError(f"attribution_step ({self.attribution_step}) is past the last step")
        elif self.attribution_step is not None:
            raise ValueError("attribution_step: only with breakdown_attribution `step`")
        return self


class FunnelStepResult(Model):
    """One step's numbers."""

    event: str
    label: str
    count: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    median_seconds_to_convert: float | None
    mean_seconds_to_convert: float | None


class FunnelBreakdown(Model):
    """The steps of the persons with one breakdown value."""

    breakdown_value: str | None
    steps: list[FunnelStepResult]


class FunnelPeriod(Model):
    """Persons whose attempt's step 1 falls in one period, and how many of them converted (last step)."""

    date: str
    entered: int
    converted: int
    conversion: float | None


class FunnelResult(TableResult):
    """`steps` for all persons; `breakdowns` per value; `over_time` per entry period."""

    steps: list[FunnelStepResult]
    breakdowns: list[FunnelBreakdown] | None = None
    over_time: list[FunnelPeriod] | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per (breakdown value, step); the all-persons total has breakdown_value null."""
        groups = [(None, self.steps)] + [(b.breakdown_value, b.steps) for b in self.breakdowns or []]
        return [
            {"breakdown_value": value, "step": i, **step.model_dump()}
            for value, steps in groups
            for i, step in enumerate(steps, 1)
        ]


# -- SQL -----------------------------------------------------------------------------------------------------


def _level() -> exp.Expr:
    return exp.column("lv")


def _reached(k: int) -> exp.Expr:
    return exp.GTE(this=_level(), expression=num(k))


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


def _person_columns(query: FunnelQuery, builder: QueryBuilder) -> list[exp.Expr]:
    """Per person: level `lv`, breakdown index `bv`, entry bucket `ob`, and `d{k}`: microseconds from the
    moment steps 1..k-1 were all done to the moment steps 1..k were (the previous step to step k)."""
    columns: list[exp.Expr] = [exp.column("lv")]
    attribution = query.breakdown_attribution
    if query.breakdown is None:
        bv: exp.Expr = num(0)
    elif attribution == "first_touch":
        bv = exp.column("v1")
    elif attribution == "last_touch":
        last = [
            exp.If(this=exp.EQ(this=_level(), expression=num(k)), true=exp.column(f"v{k}"))
            for k in range(1, len(query.steps) + 1)
        ]
        bv = exp.Case(ifs=last, default=num(0))
    else:
        step = query.attribution_step or 1
        bv = exp.Case(ifs=[exp.If(this=_reached(step), true=exp.column(f"v{step}"))], default=num(0))
    columns.append(exp.alias_(bv, "bv"))
    if query.over_time is not None:
        ob: exp.Expr = builder.bucket(query.over_time.interval, builder.dialect.from_epoch_micros(exp.column("st")))
    else:
        ob = num(0)
    columns.append(exp.alias_(ob, "ob"))
    times = [exp.column(f"t{k}") for k in range(1, len(query.steps) + 1)]
    for k in range(2, len(query.steps) + 1):
        done = exp.Greatest(this=times[0].copy(), expressions=[x.copy() for x in times[1:k]])
        rest = [x.copy() for x in times[1 : k - 1]]
        before = exp.Greatest(this=times[0].copy(), expressions=rest) if rest else times[0].copy()
        columns.append(exp.alias_(_when(_reached(k), exp.Sub(this=done, expression=before)), f"d{k}"))
    return columns


def _aggregates(query: FunnelQuery, builder: QueryBuilder) -> list[exp.Expr]:
    out: list[exp.Expr] = []
    for k in range(1, len(query.steps) + 1):
        out.append(
            exp.alias_(exp.Sum(this=exp.Case(ifs=[exp.If(this=_reached(k), true=num(1))], default=num(0))), f"c{k}")
        )
        if k > 1:
            duration = exp.column(f"d{k}")
            out.append(exp.alias_(exp.Sum(this=duration.copy()), f"sum{k}"))
            as_double = exp.cast(duration.copy(), "DOUBLE")
            out.append(exp.alias_(builder.dialect.quantile(as_double, 0.5), f"med{k}"))
    return out


def _statement(query: FunnelQuery, builder: QueryBuilder, span: DateSpan, top: list[str]) -> exp.Select:
    breakdown = query.breakdown
    events = funnel_events(query, builder, span, with_person=breakdown is not None and breakdown.type == "person")
    value = value_index(builder, breakdown, top) if breakdown else num(0)
    persons = exp.select(*_person_columns(query, builder)).from_(PATHS)
    # Group per breakdown value and per period only when asked: each set repeats the aggregates (quantiles).
    sets: list[exp.Expr] = [exp.Tuple(expressions=[])]
    flags: list[exp.Expr] = []
    for name, flag, wanted in (("bv", "gb", breakdown is not None), ("ob", "go", query.over_time is not None)):
        if wanted:
            sets.append(exp.Tuple(expressions=[exp.column(name)]))
            flags += [exp.alias_(exp.func("grouping", exp.column(name)), flag), exp.column(name)]
        else:
            flags += [exp.alias_(num(1), flag), exp.alias_(num(0), name)]
    grouped = exp.select(*flags, *_aggregates(query, builder)).from_(persons.subquery("pr"))
    if len(sets) > 1:
        grouped = grouped.group_by(exp.GroupingSets(expressions=sets))
    return cte_query([("ev", events), (PATHS, person_paths(query, builder, "ev", value))], grouped)


def _top_values(query: FunnelQuery, builder: QueryBuilder, span: DateSpan, fetch: Fetch) -> list[str]:
    """The breakdown's top values among the events that match a step."""
    assert query.breakdown is not None
    events = funnel_events(query, builder, span, with_person=query.breakdown.type == "person")
    matching = exp.or_(*[exp.EQ(this=exp.column(f"s{k}"), expression=num(1)) for k in range(1, len(query.steps) + 1)])
    statement = cte_query(
        [("ev", events), ("sev", exp.select("*").from_("ev").where(matching))],
        builder.top_values(query.breakdown, "sev"),
    )
    return [str(row["bv"]) for row in fetch.rows(statement)]


# -- results -------------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _steps(query: FunnelQuery, row: dict[str, Any] | None) -> list[FunnelStepResult]:
    out: list[FunnelStepResult] = []
    counts = [int(row[f"c{k}"] or 0) if row else 0 for k in range(1, len(query.steps) + 1)]
    for k, step in enumerate(query.steps, 1):
        count = counts[k - 1]
        median = mean = None
        if row and k > 1 and count:
            median_micros = _number(row[f"med{k}"])
            median = None if median_micros is None else median_micros / 1e6
            mean = int(row[f"sum{k}"]) / count / 1e6
        out.append(
            FunnelStepResult(
                event=step.event,
                label=step.label or step.event,
                count=count,
                conversion_from_first=ratio(count, counts[0]),
                conversion_from_previous=ratio(count, counts[k - 2]) if k > 1 else ratio(count, counts[0]),
                median_seconds_to_convert=median,
                mean_seconds_to_convert=mean,
            )
        )
    return out


def _value_name(index: int, top: list[str]) -> str | None:
    if index == 0:
        return None
    return top[index - 1] if index <= len(top) else OTHER_VALUE


def _breakdown_order(value: str | None) -> tuple[int, str]:
    if value is None:
        return (2, "")
    return (1, "") if value == OTHER_VALUE else (0, value)


def compute_funnel(query: FunnelQuery, builder: QueryBuilder, fetch: Fetch) -> FunnelResult:
    """Run a funnel query."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    top = _top_values(query, builder, span, fetch) if query.breakdown else []
    rows = fetch.rows(_statement(query, builder, span, top))
    total = next((r for r in rows if r["gb"] and r["go"]), None)
    breakdowns = None
    if query.breakdown is not None:
        per_value = {_value_name(int(r["bv"] or 0), top): r for r in rows if not r["gb"] and r["go"]}
        breakdowns = [
            FunnelBreakdown(breakdown_value=value, steps=_steps(query, per_value[value]))
            for value in sorted(per_value, key=_breakdown_order)
        ]
    over_time = None
    if query.over_time is not None:
        per_period = {label_of(r["ob"]): r for r in rows if r["gb"] and not r["go"]}
        last = f"c{len(query.steps)}"
        over_time = []
        for date in bucket_labels(builder.ctx, span, query.over_time.interval):
            row = per_period.get(date)
            entered, converted = (int(row["c1"] or 0), int(row[last] or 0)) if row else (0, 0)
            over_time.append(
                FunnelPeriod(date=date, entered=entered, converted=converted, conversion=ratio(converted, entered))
            )
    return FunnelResult(steps=_steps(query, total), breakdowns=breakdowns, over_time=over_time)


FUNNEL = Analysis(FunnelQuery, FunnelResult, compute_funnel)
ANALYSES: dict[str, Analysis[Any, Any]] = {"funnel": FUNNEL, "funnel_persons": FUNNEL_PERSONS}
