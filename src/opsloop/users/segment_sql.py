"""Segment definitions as SQL: the members of a segment as one `SELECT person_id` statement.

Built with the analytics `QueryBuilder`, so values are parameters, property names go through the dialect's
JSON accessors and persons are resolved through identity merges. Every behavioural condition is a filtered
count in ONE scan of the events (grouped by person); the persons replica is joined to those counts and the
tree becomes one boolean expression over a person's properties and counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlglot import exp

from opsloop.analytics.builder import PERSON, TIMESTAMP, QueryBuilder, col, num
from opsloop.analytics.common import ANY_EVENT
from opsloop.users.definitions import (
    HISTORY_START,
    AgeCondition,
    Condition,
    EventCondition,
    Group,
    LifecycleCondition,
    PersonCondition,
    RfmSegmentCondition,
    SeenCondition,
    SegmentCondition,
    TagCondition,
    walk,
)
from opsloop.users.lifecycle import LifecycleThresholds, person_stages
from opsloop.users.rfm_movement import rfm_members

#: Aliases: `p` the persons replica, `b` the per-person behaviour counts.
_PERSONS = "p"
_BEHAVIOUR = "b"


def _project(builder: QueryBuilder) -> exp.Expr:
    return exp.EQ(this=exp.column("project_id"), expression=num(builder.ctx.project_id))


def _persons(builder: QueryBuilder) -> exp.Select:
    """The project's live persons (merged-away persons are deleted in the replica)."""
    return (
        exp.select("id", "properties")
        .from_(builder.dialect.replica_table("persons"))
        .where(_project(builder))
        .where(exp.Not(this=exp.column("is_deleted")))
    )


def _today_end(builder: QueryBuilder) -> dt.datetime:
    ctx = builder.ctx
    return ctx.local_midnight(ctx.local_today() + dt.timedelta(days=1))


def _behaviour(conditions: Sequence[EventCondition | SeenCondition], builder: QueryBuilder) -> exp.Select:
    """Per person: `n<i>`, the matching events of the i-th event condition in its window, and `fs` / `ls`,
    the first and last event up to the end of today; one scan over the union of the windows."""
    windows = [c.bounds(builder.ctx) for c in conditions]
    seen = any(isinstance(c, SeenCondition) for c in conditions)
    today_end = _today_end(builder)
    start = HISTORY_START if seen else min(w[0] for w in windows)
    end = max([w[1] for w in windows] + ([today_end] if seen else []))
    events = [ANY_EVENT] if seen else [c.event for c in conditions if isinstance(c, EventCondition)]
    columns: list[exp.Expr] = [col(PERSON)]
    for i, condition in enumerate(c for c in conditions if isinstance(c, EventCondition)):
        low, high = condition.bounds(builder.ctx)
        parts = [builder.event_is([condition.event]), builder.between(low, high)]
        parts += [builder.matches(f) for f in condition.filters]
        where = exp.Where(this=exp.and_(*[p for p in parts if p is not None]))
        columns.append(exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=where), f"n{i}"))
    if seen:
        before = exp.Where(this=exp.LT(this=col(TIMESTAMP), expression=builder.value(today_end)))
        columns.append(exp.alias_(exp.Filter(this=exp.Min(this=col(TIMESTAMP)), expression=before), "fs"))
        columns.append(exp.alias_(exp.Filter(this=exp.Max(this=col(TIMESTAMP)), expression=before.copy()), "ls"))
    relation = builder.events(start, end, events=events)
    return exp.select(*columns).from_(relation.subquery("ev")).group_by(col(PERSON))


class _Compiler:
    """Turns one definition's conditions into a boolean expression over `p` and `b`."""

    def __init__(self, builder: QueryBuilder, behaviour: Sequence[EventCondition | SeenCondition]) -> None:
        self.builder = builder
        self.counts = {id(c): f"n{i}" for i, c in enumerate(c for c in behaviour if isinstance(c, EventCondition))}

    def condition(self, condition: Condition) -> exp.Expr:
        """A condition as a two-valued boolean (never NULL, so that `negate` turns it around exactly)."""
        if isinstance(condition, Group):
            parts = [self.condition(c) for c in condition.conditions]
            joined = exp.and_(*parts) if condition.operator == "and" else exp.or_(*parts)
            return exp.Not(this=exp.paren(joined)) if condition.negate else exp.paren(joined)
        return exp.func("coalesce", self._leaf(condition), exp.false())

    def _leaf(self, condition: Condition) -> exp.Expr:
        builder = self.builder
        properties = col("properties", _PERSONS)
        if isinstance(condition, PersonCondition):
            if condition.op != "between":
                return builder.matches(condition.as_filter(), properties)
            assert isinstance(condition.value, list)
            low, high = condition.value
            number = builder.number(builder.prop(condition.property, "person", properties))
            return exp.and_(
                exp.GTE(this=number, expression=builder.value(float(low))),
                exp.LTE(this=number.copy(), expression=builder.value(float(high))),
            )
        if isinstance(condition, AgeCondition):
            return self._age(condition)
        if isinstance(condition, EventCondition):
            times = exp.func("coalesce", col(self.counts[id(condition)], _BEHAVIOUR), num(0))
            if not condition.did:
                return exp.EQ(this=times, expression=num(0))
            compare = {"gte": exp.GTE, "lte": exp.LTE, "eq": exp.EQ}[condition.count_op]
            return compare(this=times, expression=num(condition.count))
        if isinstance(condition, SeenCondition):
            since, until = condition.bounds(builder.ctx)
            moment = col("fs" if condition.type == "first_seen" else "ls", _BEHAVIOUR)
            return exp.and_(
                exp.GTE(this=moment, expression=builder.value(since)),
                exp.LT(this=moment.copy(), expression=builder.value(until)),
            )
        if isinstance(condition, TagCondition):
            return self._tag(condition)
        if isinstance(condition, LifecycleCondition):
            thresholds = condition.thresholds or project_thresholds(builder)
            stages = person_stages(thresholds, builder)
            chosen = exp.select(col(PERSON)).from_(stages.subquery("st"))
            chosen = chosen.where(
                exp.In(this=exp.column("stage"), expressions=[builder.value(s) for s in condition.stages])
            )
            return exp.In(this=col("id", _PERSONS), query=chosen.subquery())
        if isinstance(condition, RfmSegmentCondition):
            buyers = rfm_members(condition.rfm, condition.segments, condition.cells, builder)
            return exp.In(this=col("id", _PERSONS), query=buyers.subquery())
        assert isinstance(condition, SegmentCondition)
        member = in_saved_segment(builder, condition.segment_id, col("id", _PERSONS))
        return member if condition.member else exp.Not(this=member)

    def _tag(self, condition: TagCondition) -> exp.Expr:
        builder = self.builder
        text = builder.tag_text(condition.tag, col("id", _PERSONS))
        if condition.op in ("is_set", "is_not_set"):
            unset = exp.Is(this=text, expression=exp.Null())
            return unset if condition.op == "is_not_set" else exp.Not(this=unset)
        values = condition.value if isinstance(condition.value, list) else [condition.value]
        matched = exp.In(this=text, expressions=[builder.value(v) for v in values])
        return exp.func("coalesce", exp.Not(this=exp.paren(matched)), exp.true()) if condition.op == "neq" else matched

    def _age(self, condition: AgeCondition) -> exp.Expr:
        builder = self.builder
        number = builder.number(builder.prop(condition.property, "person", col("properties", _PERSONS)))
        parts: list[exp.Expr] = []
        if condition.source == "age":
            if condition.min is not None:
                parts.append(exp.GTE(this=number.copy(), expression=builder.value(float(condition.min))))
            if condition.max is not None:
                parts.append(exp.LTE(this=number.copy(), expression=builder.value(float(condition.max))))
            return exp.and_(*parts)
        # age = this year - birth year, so min <= age <= max is year - max <= birth year <= year - min.
        year = builder.ctx.local_today().year
        if condition.min is not None:
            parts.append(exp.LTE(this=number.copy(), expression=builder.value(float(year - condition.min))))
        if condition.max is not None:
            parts.append(exp.GTE(this=number.copy(), expression=builder.value(float(year - condition.max))))
        return exp.and_(*parts)


def project_thresholds(builder: QueryBuilder) -> LifecycleThresholds:
    """The project's lifecycle thresholds, as its segment source knows them (the defaults otherwise)."""
    found = getattr(builder.ctx.segments, "lifecycle", None)
    return found if isinstance(found, LifecycleThresholds) else LifecycleThresholds()


def in_saved_segment(builder: QueryBuilder, segment_id: int, person: exp.Expression) -> exp.Expr:
    """`person IN (members of a saved segment)`, through the project's segment source."""
    source = builder.ctx.segments
    if source is None:
        raise ValueError("this definition refers to saved segments, but none are available here")
    return exp.In(this=person, query=source.membership(segment_id, builder).subquery())


def definition_members(definition: Group, builder: QueryBuilder) -> exp.Select:
    """`SELECT person_id` of the persons a definition selects (one row each)."""
    behaviour = [c for c in walk(definition) if isinstance(c, EventCondition | SeenCondition)]
    compiler = _Compiler(builder, behaviour)
    select = exp.select(exp.alias_(col("id", _PERSONS), PERSON, quoted=True)).from_(
        _persons(builder).subquery(_PERSONS)
    )
    if behaviour:
        select = select.join(
            _behaviour(behaviour, builder).subquery(_BEHAVIOUR),
            on=exp.EQ(this=col(PERSON, _BEHAVIOUR), expression=col("id", _PERSONS)),
            join_type="left",
        )
    return select.where(compiler.condition(definition))


def static_members(distinct_ids: Sequence[str], person_ids: Sequence[str], builder: QueryBuilder) -> exp.Select:
    """`SELECT person_id` of the live persons named by a static list: by any of their distinct ids (after
    merges) or by person id."""
    parts: list[exp.Expr] = []
    if distinct_ids:
        owners = (
            exp.select(PERSON)
            .from_(builder.dialect.replica_table("person_distinct_ids"))
            .where(_project(builder))
            .where(exp.Not(this=exp.column("is_deleted")))
            .where(builder.dialect.array_contains(builder.value(list(distinct_ids)), exp.column("distinct_id")))
        )
        parts.append(exp.In(this=col("id", _PERSONS), query=owners.subquery()))
    if person_ids:
        as_text = builder.dialect.as_text(col("id", _PERSONS))
        parts.append(builder.dialect.array_contains(builder.value(list(person_ids)), as_text))
    select = exp.select(exp.alias_(col("id", _PERSONS), PERSON, quoted=True)).from_(
        _persons(builder).subquery(_PERSONS)
    )
    return select.where(exp.or_(*parts) if parts else exp.false())


def count_members(members: exp.Select) -> exp.Select:
    """`SELECT count(*) AS n` over a members statement."""
    return exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(members.subquery("m"))


def member_ids(members: exp.Select, builder: QueryBuilder) -> exp.Select:
    """The members' person ids as text, in order."""
    as_text = exp.alias_(builder.dialect.as_text(col(PERSON)), PERSON, quoted=True)
    return exp.select(as_text).from_(members.subquery("m")).order_by(exp.Ordered(this=exp.column(PERSON)))
