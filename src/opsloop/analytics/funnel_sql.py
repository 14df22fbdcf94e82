"""Funnel queries' shared part: the funnel definition and the SQL giving each person's chosen attempt.

The definition (docs/metrics.md, "Funnels") is computed with window functions over each person's events in
*sequence order* (time, then the steps each event matches, then exclusions, then breakdown value). Events are
keyed `time * 128 + breakdown index` (one BIGINT), and every window carries only such keys:

- ordered: `l{k}` of an event is the key of step 1 of the attempt it completes step k for: the running `max`
  of `l{k-1}` over the earlier events (the latest-starting attempt, the best one for the window), when the
  event is at most `window` after it; exclusions cut that running maximum into segments; strict: `l{k-1}` of
  the event just before;
- unordered: each event matching a step, inside the range, anchors an attempt; step k is the earliest event
  matching it from the anchor's instant on, when inside the window.

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
    EventName,
    Model,
    PropertyFilter,
    PropertyType,
    RangeQuery,
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
    conditions = [c for c in [builder.event_is([part.event], "e")] if c is not None]
    conditions += [builder.matches(f, col(PROPERTIES, "e" if f.type == "event" else "pp")) for f in part.filters]
    return exp.and_(*conditions) if conditions else exp.true()


def _flag(condition: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=num(1))], default=num(0))


def value_index(builder: QueryBuilder, prop: str, kind: PropertyType, top: list[str]) -> exp.Expr:
    """The breakdown value of an events row as an index: 0 unset, 1..N the top values in order, N+1 any other."""
    text = builder.prop(prop, kind)
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

#: Events are keyed `time * 128 + breakdown index` (the index is at most 101), so one BIGINT orders them by
#: time, then value, and the latest-starting attempt is a plain `max`.
KEY_SCALE = 128


def _bits(names: list[str]) -> exp.Expr:
    """`sum(name_i * 2^(i-1))`: the set of steps (or exclusions) an event matches, as a number."""
    total: exp.Expr = num(0)
    for i, name in enumerate(names):
        total = exp.Add(this=total, expression=exp.Mul(this=exp.column(name), expression=num(2**i)))
    return exp.paren(total)


def _sequence() -> exp.Order:
    return exp.Order(expressions=[exp.Ordered(this=exp.column(c)) for c in ("t", "m", "xm", "v")])


def _over(
    func: exp.Expr, partition: list[str], order: exp.Order | None, spec: exp.WindowSpec | None = None
) -> exp.Window:
    return exp.Window(this=func, partition_by=[exp.column(p) for p in partition], order=order, spec=spec)


def _layer(source: exp.Select, *columns: exp.Expr) -> exp.Select:
    """`SELECT *, columns FROM (source)`."""
    return exp.select(exp.Star(), *columns).from_(source.subquery())


def _is(name: str) -> exp.Expr:
    return exp.EQ(this=exp.column(name), expression=num(1))


def _set(name: str) -> exp.Expr:
    return exp.Not(this=exp.Is(this=exp.column(name), expression=exp.Null()))


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


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
    layer = _layer(base, exp.alias_(key, "tk"))
    if query.order == "unordered":
        layer = _unordered(query, layer)
    else:
        layer = _ordered(query, builder, layer, kills, monotone=isinstance(value, exp.Literal))
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
        # Step 1 of the chosen attempt is its start (that row itself may have been dropped on the way).
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


def _ordered(
    query: FunnelDefinition, builder: QueryBuilder, layer: exp.Select, kills: dict[int, list[int]], monotone: bool
) -> exp.Select:
    """Adds `l{k}` (the key of step 1 of the latest-starting attempt this event completes step k of; NULL
    when none) and `y{k}` (this event's key where `l{k}` is set), ordered and strict.

    Ordered funnels drop the rows that can no longer change anything as they go: the window for step k
    reads only `l{k-1}`, so it needs the rows where that is set and the rows matching step k or later; the
    result needs the rows where some `l{j}` (j >= 2) is set and the latest step-1 row of each person (and
    exclusion segment: `p1`). After step 2 that is usually a small part of the events. `monotone`: the
    breakdown index is a constant, so step-1 keys never decrease along the sequence."""
    n = len(query.steps)
    d = builder.dialect
    strict = query.order == "strict"
    tk = exp.column("tk")
    segments = []
    if not strict:
        for level in kills:
            spec = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
            running = _over(exp.Sum(this=exp.column(f"k{level}")), [PERSON], _sequence(), spec)
            segments.append(exp.alias_(running, f"g{level}"))
    layer = _layer(layer, exp.alias_(_when(_is("s1"), tk.copy()), "l1"), *segments)
    if not strict:
        # Exclusion events matching no step have done their part (the segments `g`).
        layer = _keep(layer, exp.GT(this=exp.column("m"), expression=num(0)))
    before = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=num(1), end_side="PRECEDING")
    whole = exp.WindowSpec(
        kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="UNBOUNDED", end_side="FOLLOWING"
    )
    for k in range(2, n + 1):
        previous = exp.column(f"l{k - 1}")
        extra: list[exp.Expr] = []
        if strict:
            prior = _over(d.previous_row(previous), [PERSON], _sequence())
        else:
            partition = [PERSON] + ([f"g{k - 1}"] if k - 1 in kills else [])
            if k == 2 and monotone:
                # The running maximum of never-decreasing keys is the latest one (a cheaper window).
                prior = _over(d.last_non_null(previous), partition, _sequence(), before.copy())
            else:
                # Rows equal in sequence order are taken in the order of `l{k-1}` (which grows along the
                # sequence), so that every window reads the events in one and the same order.
                tie = exp.Ordered(this=previous.copy(), nulls_first=True)
                order = exp.Order(expressions=[*_sequence().expressions, tie])
                prior = _over(exp.Max(this=previous), partition, order, before.copy())
            if k == 2:
                latest = _over(exp.Max(this=previous.copy()), partition, _sequence(), whole.copy())
                extra.append(exp.alias_(latest, "p1"))
        layer = _layer(layer, exp.alias_(prior, f"q{k}"), *extra)
        q = exp.column(f"q{k}")
        # t <= start + window, with start = q // 128: the same as (t - window) * 128 <= q.
        earliest = exp.Mul(
            this=exp.paren(exp.Sub(this=exp.column("t"), expression=num(query.window_micros))),
            expression=num(KEY_SCALE),
        )
        ok = exp.and_(_is(f"s{k}"), _set(f"q{k}"), exp.LTE(this=earliest, expression=q.copy()))
        if strict and k - 1 in kills:
            ok = exp.and_(ok, exp.EQ(this=exp.column(f"k{k - 1}"), expression=num(0)))
        layer = _layer(layer, exp.alias_(_when(ok, q.copy()), f"l{k}"))
        if not strict:
            needed = [_set(f"l{j}") for j in range(2, k + 1)]
            needed.append(exp.EQ(this=exp.column("l1"), expression=exp.column("p1")))
            if k < n:
                needed.append(exp.GTE(this=exp.column("m"), expression=num(2**k)))
            layer = _keep(layer, exp.or_(*needed))
    return _layer(layer, *[exp.alias_(_when(_set(f"l{k}"), tk.copy()), f"y{k}") for k in range(1, n + 1)])


def _keep(source: exp.Select, condition: exp.Expr) -> exp.Select:
    """`SELECT * FROM (source) WHERE condition`."""
    return exp.select(exp.Star()).from_(source.subquery()).where(condition)


def _unordered(query: FunnelDefinition, layer: exp.Select) -> exp.Select:
    """Adds, for each anchor (an event matching a step, inside the range), `y{k}`: the key of the earliest
    event matching step k from the anchor's instant on, and `l{k}`: the anchor's key while steps 1..k are all
    inside the window."""
    n = len(query.steps)
    # From this instant on (ClickHouse takes no RANGE offset past 32 bits, so the window is checked after).
    ahead = exp.WindowSpec(kind="RANGE", start="CURRENT ROW", end="UNBOUNDED", end_side="FOLLOWING")
    order = exp.Order(expressions=[exp.Ordered(this=exp.column("t"))])
    firsts = [
        exp.alias_(_over(exp.Min(this=_when(_is(f"s{k}"), exp.column("tk"))), [PERSON], order, ahead), f"f{k}")
        for k in range(1, n + 1)
    ]
    layer = _layer(layer, *firsts)
    anchor = exp.and_(_is("a"), exp.GT(this=exp.column("m"), expression=num(0)))
    limit = exp.Mul(
        this=exp.paren(exp.Add(this=exp.column("t"), expression=num(query.window_micros + 1))),
        expression=num(KEY_SCALE),
    )
    columns = []
    reached: exp.Expr = anchor
    for k in range(1, n + 1):
        f = exp.column(f"f{k}")
        # f // 128 <= t + window, i.e. f < (t + window + 1) * 128.
        reached = exp.and_(reached.copy(), _set(f"f{k}"), exp.LT(this=f.copy(), expression=limit.copy()))
        columns.append(exp.alias_(_when(reached.copy(), exp.column("tk")), f"l{k}"))
        columns.append(exp.alias_(_when(reached.copy(), f.copy()), f"y{k}"))
    return _layer(layer, *columns)
