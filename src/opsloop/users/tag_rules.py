"""Rule tags: a small typed language computing a tag's value per person from behaviour.

A rule aggregates one event over the last `within_days` local days per person, then turns the aggregate into
a value: by `thresholds` (the first whose `min` the aggregate reaches), by `quantiles` (equal shares of the
persons, lowest first, ties sharing a rank) or, with `aggregate` `most_frequent`, the property value the person
had most often (ties: the smallest value). Compiled with the analytics builder, so it runs on both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import ANY_EVENT, Model, PropertyFilter, check_name


class Threshold(Model):
    """A tag value given when the aggregate is at least `min`."""

    value: str = Field(min_length=1, max_length=400)
    min: float


class TagRule(Model):
    """How a rule tag's value is computed (docs/segments.md, "Rule tags")."""

    event: str = Field(description=f"the event aggregated, or `{ANY_EVENT}`")
    aggregate: Literal["count", "sum", "most_frequent"] = Field("count", description="per person, in the window")
    property: str | None = Field(None, description="`sum`: the amount property; `most_frequent`: the property")
    within_days: int = Field(90, ge=1, le=3660, description="the last N local days, today included")
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20, description="event properties only")
    thresholds: list[Threshold] = Field(default_factory=list, max_length=20, description="value by minimum")
    quantiles: list[str] = Field(default_factory=list, max_length=20, description="values, lowest share first")

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return check_name(value, "event")

    @model_validator(mode="after")
    def _consistent(self) -> TagRule:
        if self.aggregate in ("sum", "most_frequent") and not self.property:
            raise ValueError(f"property: `{self.aggregate}` needs a property")
        if self.aggregate == "count" and self.property:
            raise ValueError("property: `count` takes no property")
        if self.property is not None:
            check_name(self.property, "property")
        if any(f.type != "event" for f in self.filters):
            raise ValueError("filters: a rule's filters are on event properties (`type` `event`)")
        if self.aggregate == "most_frequent":
            if self.thresholds or self.quantiles:
                raise ValueError("thresholds: `most_frequent` takes no thresholds or quantiles")
        elif bool(self.thresholds) == bool(self.quantiles):
            raise ValueError("thresholds: give `thresholds` or `quantiles` (one of them)")
        if len(set(self.quantiles)) != len(self.quantiles) or any(not q or len(q) > 400 for q in self.quantiles):
            raise ValueError("quantiles: distinct values of 1 to 400 characters")
        return self


def rule_values(rule: TagRule, builder: QueryBuilder) -> exp.Select:
    """`person_id`, `value` (text) of every person the rule gives a value."""
    ctx = builder.ctx
    today = ctx.local_today()
    start = ctx.local_midnight(today - dt.timedelta(days=rule.within_days - 1))
    end = ctx.local_midnight(today + dt.timedelta(days=1))
    events = builder.events(start, end, events=[rule.event], filters=rule.filters).subquery("ev")
    person = col(PERSON)
    if rule.aggregate == "most_frequent":
        assert rule.property is not None
        text = builder.prop(rule.property)
        counted = (
            exp.select(person, exp.alias_(text, "v"), exp.alias_(exp.Count(this=exp.Star()), "n"))
            .from_(events)
            .where(exp.Not(this=exp.Is(this=text.copy(), expression=exp.Null())))
            .group_by(person.copy(), text.copy())
        )
        order = exp.Order(expressions=[exp.Ordered(this=exp.column("n"), desc=True), exp.Ordered(this=exp.column("v"))])
        ranked = exp.select(
            person.copy(),
            "v",
            exp.alias_(exp.Window(this=exp.RowNumber(), partition_by=[person.copy()], order=order), "rn"),
        ).from_(counted.subquery("c"))
        return (
            exp.select(person.copy(), exp.alias_(exp.column("v"), "value"))
            .from_(ranked.subquery("r"))
            .where(exp.EQ(this=exp.column("rn"), expression=num(1)))
        )
    if rule.aggregate == "sum":
        assert rule.property is not None
        amount = builder.number(builder.prop(rule.property))
        total: exp.Expr = exp.func("coalesce", exp.Sum(this=amount), exp.cast(num(0), "DOUBLE"))
    else:
        total = exp.cast(exp.Count(this=exp.Star()), "DOUBLE")
    totals = exp.select(person, exp.alias_(total, "a")).from_(events).group_by(person.copy())
    a = exp.column("a")
    if rule.thresholds:
        ordered = sorted(rule.thresholds, key=lambda t: -t.min)
        value = exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=a.copy(), expression=builder.value(float(t.min))), true=builder.value(t.value))
                for t in ordered
            ]
        )
        chosen = exp.select(person.copy(), exp.alias_(value, "value")).from_(totals.subquery("t"))
        return (
            exp.select(person.copy(), "value")
            .from_(chosen.subquery("c"))
            .where(exp.Not(this=exp.Is(this=exp.column("value"), expression=exp.Null())))
        )
    # quantiles: the place (rank, ties share the lowest) among n persons -> share floor(k (place - 1) / n).
    k = len(rule.quantiles)
    place = exp.Window(this=exp.Anonymous(this="rank"), order=exp.Order(expressions=[exp.Ordered(this=a.copy())]))
    places = exp.select(
        person.copy(), exp.alias_(place, "pl"), exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "n")
    ).from_(totals.subquery("t"))
    scaled = exp.Mul(this=exp.paren(exp.Sub(this=exp.column("pl"), expression=num(1))), expression=num(k))
    share = builder.dialect.int_div(scaled, exp.column("n"))
    value = exp.Case(
        ifs=[
            exp.If(this=exp.EQ(this=share.copy(), expression=num(i)), true=builder.value(q))
            for i, q in enumerate(rule.quantiles)
        ]
    )
    return exp.select(person.copy(), exp.alias_(value, "value")).from_(places.subquery("p"))
