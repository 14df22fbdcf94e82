"""Funnel queries' shared part: the funnel definition and the SQL giving each person's chosen attempt.

The definition (docs/metrics.md, "Funnels") is computed with window functions over each person's events in
*sequence order* (time, then the steps each event matches, then exclusions, then breakdown value). Events are
keyed `time * 128 + breakdown index` (one BIGINT), and every window carries only such keys; the layers per
order are in `funnel_steps`.

Per person: the furthest step, the latest start among the attempts reaching it, and for each step the
earliest event completing it for that attempt (whose times give time to convert, and values attribution).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, PROPERTIES, QueryBuilder, col, num
from opsloop.analytics.common import (
    ANY_EVENT,
    MAX_RANGE_DAYS,
    Breakdown,
    EventName,
    Model,
    PropertyFilter,
    RangeQuery,
)
from opsloop.analytics.funnel_steps import (
    KEY_SCALE,
    _bits,
    _layer,
    _over,
    _set,
    _when,
    ordered_steps,
    strict_steps,
    unordered_steps,
)
from opsloop.analytics.timeframe import DateSpan

TimeUnit = Literal["second", "minute", "hour", "day", "week"]
Order = Literal["ordered", "strict", "unordered"]
UNIT_SECONDS: dict[str, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
MAX_STEPS = 20
#: Name of the per-person relation (see `person_paths`).
PATHS = "paths"


class FunnelStep(EventName):
    """One step: an event (or `$any`) and conditions on it."""

    filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="for this step only")
    label: str | None = Field(None, max_length=200, description="display name (default: the event)")


class FunnelWindow(Model):
    """The conversion window, measured from an attempt's step 1 (inclusive)."""

    value: int = Field(14, ge=1, description="how many units")
    unit: TimeUnit = Field("day", description="second, minute, hour, day or week")

    @model_validator(mode="after")
    def _not_too_long(self) -> FunnelWindow:
        if self.seconds > MAX_RANGE_DAYS * 86400:
            raise ValueError(f"the window may be at most {MAX_RANGE_DAYS} days")
        return self

    @property
    def seconds(self) -> int:
        """The window's length in seconds."""
        return self.value * UNIT_SECONDS[self.unit]


class FunnelExclusion(EventName):
    """An event that, happening between `from_step` and `to_step` of an attempt, ends that attempt."""

    filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="for this event only")
    from_step: int = Field(ge=1, description="1-based step after which the event ends an attempt")
    to_step: int = Field(ge=2, description="1-based step that the attempt can then no longer reach")

    @model_validator(mode="after")
    def _ordered(self) -> FunnelExclusion:
        if self.to_step <= self.from_step:
            raise ValueError(f"to_step ({self.to_step}) must be after from_step ({self.from_step})")
        return self


class FunnelDefinition(RangeQuery):
    """What both funnel kinds share: steps, window, order, exclusions, range and filters."""

    steps: list[FunnelStep] = Field(min_length=2, max_length=MAX_STEPS, description="2 to 20 steps")
    window: FunnelWindow = Field(FunnelWindow(value=14, unit="day"), description="conversion window (default 14 days)")
    order: Order = Field("ordered", description="ordered, strict or unordered")
    exclusions: list[FunnelExclusion] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _exclusions_fit(self) -> FunnelDefinition:
        for i, rule in enumerate(self.exclusions):
            if rule.to_step > len(self.steps):
                raise ValueError(f"exclusions[{i}].to_step ({rule.to_step}) is past the last step ({len(self.steps)})")
        if self.exclusions and self.order == "unordered":
            raise ValueError("exclusions: not available with order `unordered` (steps have no order to be between)")
        return self

    @property
    def window_micros(self) -> int:
        """The window in microseconds (timestamps are compared as UTC microseconds)."""
        return self.window.seconds * 1_000_000


# -- the events relation ------------------------------------------------------------------------------------


def _condition(builder: QueryBuilder, part: FunnelStep | FunnelExclusion) -> exp.Expr:
    """`part`'s event and filters on a row of the events join (`e`, `pp`)."""
    conditions: list[exp.Expr] = [c for c in [builder.event_is([part.event], "e")] if c is not None]
    conditions += [builder.matches(f, col(PROPERTIES, "e" if f.type == "event" else "pp")) for f in part.filters]
    return exp.and_(*conditions) if conditions else exp.true()


def _flag(condition: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=num(1))], default=num(0))


def value_index(builder: QueryBuilder, breakdown: Breakdown, top: list[str]) -> exp.Expr:
    """The breakdown value of an events row as an index: 0 unset, 1..N the top values in order, N+1 any other."""
    text = builder.breakdown_text(breakdown)
    ifs = [exp.If(this=exp.Is(this=text.copy(), expression=exp.Null()), true=num(0))]
    ifs += [
        exp.If(this=exp.EQ(this=text.copy(), expression=builder.value(v)), true=num(i + 1)) for i, v in enumerate(top)
    ]
    return exp.Case(ifs=ifs, default=num(len(top) + 1))


def funnel_events(
    query: FunnelDefinition,
    builder: QueryBuilder,
    span: DateSpan,
    with_person: bool = False,
) -> exp.Select:
    """The events a funnel reads, one row each: `person_id`, `t` (UTC microseconds), `s1..sn` (1 when the
    event matches that step; step 1 only inside the range unless unordered), `x1..` (exclusions), `a` (1
    inside the range), `properties`
    [, `person_properties`]; the range runs on to `window` after `date_to`."""
    end = span.end + dt.timedelta(seconds=query.window.seconds)
    parts: list[FunnelStep | FunnelExclusion] = [*query.steps, *query.exclusions]
    every = query.order == "strict" or any(p.event == ANY_EVENT for p in parts)
    names = [ANY_EVENT] if every else sorted({p.event for p in parts})
    with_person = with_person or any(f.type == "person" for p in parts for f in p.filters)
    # `Any`: sqlglot builds `Expr`s; the builder takes `Expression`s.
    extra: list[Any] = [exp.alias_(builder.dialect.epoch_micros(col("timestamp", "e")), "t")]
    for k, step in enumerate(query.steps, 1):
        condition = _condition(builder, step)
        if k == 1 and query.order != "unordered":
            condition = exp.and_(condition, builder.between(span.start, span.end, "e"))
        extra.append(exp.alias_(_flag(condition), f"s{k}"))
    extra.append(exp.alias_(_flag(builder.between(span.start, span.end, "e")), "a"))
    for i, rule in enumerate(query.exclusions, 1):
        extra.append(exp.alias_(_flag(_condition(builder, rule)), f"x{i}"))
    return builder.events(span.start, end, events=names, filters=query.filters, with_person=with_person, extra=extra)


# -- per-person best attempt -------------------------------------------------------------------------------


def _kill_levels(query: FunnelDefinition) -> dict[int, list[int]]:
    """Level j -> exclusions (1-based) that end attempts at level j (from_step <= j < to_step)."""
    found: dict[int, list[int]] = {}
    for i, rule in enumerate(query.exclusions, 1):
        for level in range(rule.from_step, rule.to_step):
            found.setdefault(level, []).append(i)
    return found


def person_paths(query: FunnelDefinition, builder: QueryBuilder, source: str, value: exp.Expr) -> exp.Select:
    """Per person of `source` (rows of `funnel_events`) who entered the funnel: `lv` (furthest step), `st`
    (UTC microseconds of the chosen attempt's start), and per step k <= lv `t{k}` (microseconds) and `v{k}`
    (breakdown index) of the event that completed it for that attempt."""
    n = len(query.steps)
    d = builder.dialect
    steps = [f"s{k}" for k in range(1, n + 1)]
    kills = _kill_levels(query)
    t = exp.column("t")
    key = exp.Add(this=exp.Mul(this=t.copy(), expression=num(KEY_SCALE)), expression=exp.column("v"))
    base_cols: list[exp.Expr] = [
        col(PERSON),
        t.copy(),
        exp.column("a"),
        *[exp.column(s) for s in steps],
        exp.alias_(_bits(steps), "m"),
        exp.alias_(_bits([f"x{i}" for i in range(1, len(query.exclusions) + 1)]), "xm"),
        exp.alias_(value, "v"),
    ]
    for level, rules in kills.items():
        flags = [exp.column(f"x{i}") for i in rules]
        base_cols.append(exp.alias_(exp.Greatest(this=num(0), expressions=flags), f"k{level}"))
    base = exp.select(*base_cols).from_(source)
    if query.order == "ordered":
        layer = ordered_steps(query, builder, source, value, kills)
    elif query.order == "strict":
        layer = strict_steps(query, builder, _layer(base, exp.alias_(key, "tk")), kills)
    else:
        layer = unordered_steps(query, _layer(base, exp.alias_(key, "tk")))
    # The chosen attempt: the latest start among those reaching the person's furthest step.
    whole = [_over(exp.Max(this=exp.column(f"l{k}")), [PERSON], None) for k in range(n, 0, -1)]
    layer = _layer(layer, exp.alias_(exp.func("coalesce", *whole), "sk"))
    furthest = exp.Case(ifs=[exp.If(this=_set(f"l{k}"), true=num(k)) for k in range(n, 0, -1)], default=num(0))
    chosen = [
        exp.alias_(
            exp.Min(this=_when(exp.EQ(this=exp.column(f"l{k}"), expression=exp.column("sk")), exp.column(f"y{k}"))),
            f"z{k}",
        )
        for k in range(1, n + 1)
    ]
    if query.order != "unordered":
        # Step 1 of the chosen attempt is its start (ordered funnels drop that row on the way).
        chosen[0] = exp.alias_(exp.Max(this=exp.column("sk")), "z1")
    grouped = (
        exp.select(
            col(PERSON),
            exp.alias_(exp.Max(this=furthest), "lv"),
            exp.alias_(exp.Max(this=exp.column("sk")), "sz"),
            *chosen,
        )
        .from_(layer.subquery("w"))
        .group_by(col(PERSON))
    )
    scale = num(KEY_SCALE)
    columns: list[exp.Expr] = [
        col(PERSON),
        exp.column("lv"),
        exp.alias_(d.int_div(exp.column("sz"), scale.copy()), "st"),
    ]
    for k in range(1, n + 1):
        y = exp.column(f"z{k}")
        columns.append(exp.alias_(d.int_div(y.copy(), scale.copy()), f"t{k}"))
        columns.append(exp.alias_(exp.Mod(this=y.copy(), expression=scale.copy()), f"v{k}"))
    entered = exp.GT(this=exp.column("lv"), expression=num(0))
    return exp.select(*columns).from_(grouped.subquery("g")).where(entered)
