"""User lifecycle stages (new, active, dormant, churned, resurrected) per person, as of a local day.

The exact definitions are in docs/segments.md ("Lifecycle stages"); in short, with thresholds in days
`new_days` <= `active_days` < `churn_days`, for a person's events up to the end of day D:

- new: the first event is within the last `new_days` days (D included);
- active: not new, an event within the last `active_days` days, and an event in the `active_days` days before
  those (or first seen inside them);
- resurrected: not new, an event within the last `active_days` days, none in the `active_days` days before,
  first seen before that;
- dormant: no event within the last `active_days` days, one within the last `churn_days` days;
- churned: the last event is more than `churn_days` days ago.
Persons without any event up to D have no stage.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, TIMESTAMP, QueryBuilder, col
from opsloop.analytics.common import Model
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext, period_start
from opsloop.store.events import EventStore

Stage = Literal["new", "active", "resurrected", "dormant", "churned"]
STAGES: tuple[Stage, ...] = ("new", "active", "resurrected", "dormant", "churned")
#: The first instant stage computations read events from.
_HISTORY_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Most points of a stage-count series.
MAX_POINTS = 120


class LifecycleThresholds(Model):
    """The day counts that separate the stages (configurable per project)."""

    new_days: int = Field(7, ge=1, le=3660, description="first seen within this many days: new")
    active_days: int = Field(30, ge=1, le=3660, description="seen within this many days: active or resurrected")
    churn_days: int = Field(90, ge=2, le=3660, description="not seen for more than this many days: churned")

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleThresholds:
        if self.new_days > self.active_days:
            raise ValueError("new_days must be at most active_days")
        if self.active_days >= self.churn_days:
            raise ValueError("active_days must be below churn_days")
        return self


def _since(ctx: ProjectContext, day: dt.date, days: int) -> dt.datetime:
    """The start of the last `days` local days ending with `day`."""
    return ctx.local_midnight(day - dt.timedelta(days=days - 1))


def person_stages(thresholds: LifecycleThresholds, builder: QueryBuilder, as_of: dt.date | None = None) -> exp.Select:
    """`person_id`, `stage` of every person with an event up to the end of `as_of` (default: today)."""
    ctx = builder.ctx
    day = as_of or ctx.local_today()
    end = ctx.local_midnight(day + dt.timedelta(days=1))
    recent = _since(ctx, day, thresholds.active_days)
    previous = _since(ctx, day, 2 * thresholds.active_days)
    ts = col(TIMESTAMP)
    before_recent = exp.and_(
        exp.GTE(this=ts, expression=builder.value(previous)), exp.LT(this=ts.copy(), expression=builder.value(recent))
    )
    per_person = (
        exp.select(
            col(PERSON),
            exp.alias_(exp.Min(this=ts.copy()), "fs"),
            exp.alias_(exp.Max(this=ts.copy()), "ls"),
            exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=before_recent)), "pv"),
        )
        .from_(builder.events(_HISTORY_START, end).subquery("ev"))
        .group_by(col(PERSON))
    )
    fs, ls, pv = exp.column("fs"), exp.column("ls"), exp.column("pv")
    seen_recently = exp.GTE(this=ls.copy(), expression=builder.value(recent))
    stage = exp.Case(
        ifs=[
            exp.If(
                this=exp.GTE(this=fs.copy(), expression=builder.value(_since(ctx, day, thresholds.new_days))),
                true=exp.Literal.string("new"),
            ),
            exp.If(
                this=exp.and_(
                    seen_recently,
                    exp.or_(
                        exp.GT(this=pv.copy(), expression=exp.Literal.number(0)),
                        exp.GTE(this=fs.copy(), expression=builder.value(previous)),
                    ),
                ),
                true=exp.Literal.string("active"),
            ),
            exp.If(this=seen_recently.copy(), true=exp.Literal.string("resurrected")),
            exp.If(
                this=exp.GTE(this=ls.copy(), expression=builder.value(_since(ctx, day, thresholds.churn_days))),
                true=exp.Literal.string("dormant"),
            ),
        ],
        default=exp.Literal.string("churned"),
    )
    return exp.select(col(PERSON), exp.alias_(stage, "stage")).from_(per_person.subquery("pp"))


class StageCount(Model):
    """The number of persons in each stage as of one day."""

    day: dt.date
    counts: dict[str, int]


def stage_counts(
    thresholds: LifecycleThresholds,
    ctx: ProjectContext,
    store: EventStore,
    date_from: dt.date,
    date_to: dt.date,
    interval: Literal["day", "week"] = "day",
) -> list[StageCount]:
    """Stage counts as of the last day of each day / week bucket in the range (the current bucket: today)."""
    if date_to < date_from:
        raise ValueError(f"date_to ({date_to}) is before date_from ({date_from})")
    days: list[dt.date] = []
    day = period_start(date_from, interval, ctx.week_start)
    step = dt.timedelta(days=1 if interval == "day" else 7)
    while day <= date_to:
        days.append(min(day + step - dt.timedelta(days=1), date_to, ctx.local_today()))
        day += step
    if len(days) > MAX_POINTS:
        raise ValueError(f"date_from: at most {MAX_POINTS} {interval}s at a time")
    points: list[StageCount] = []
    for as_of in days:
        builder = QueryBuilder(store.dialect, ctx)
        stages = person_stages(thresholds, builder, as_of)
        grouped = (
            exp.select("stage", exp.alias_(exp.Count(this=exp.Star()), "n"))
            .from_(stages.subquery("st"))
            .group_by("stage")
        )
        found = {str(r["stage"]): int(r["n"]) for r in Fetch(store, builder, None).rows(grouped)}
        points.append(StageCount(day=as_of, counts={s: found.get(s, 0) for s in STAGES}))
    return points


def stage_of(thresholds: LifecycleThresholds, ctx: ProjectContext, store: EventStore, person_id: str) -> Stage | None:
    """A person's current stage (None when they have no events): what the person page shows."""
    builder = QueryBuilder(store.dialect, ctx)
    stages = person_stages(thresholds, builder)
    one = (
        exp.select("stage")
        .from_(stages.subquery("st"))
        .where(exp.EQ(this=builder.dialect.as_text(col(PERSON)), expression=builder.value(person_id)))
    )
    rows = Fetch(store, builder, None).rows(one)
    return rows[0]["stage"] if rows else None  # type: ignore[no-any-return]
