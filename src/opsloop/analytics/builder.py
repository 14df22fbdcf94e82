"""The one query builder every analysis uses: events of a project in a range, filters, buckets, breakdowns.

Everything here returns sqlglot expressions; the dialect renders them for its engine. User values (filter
values) become named parameters; property names are written as string literals by sqlglot, which quotes
them, so no user text is ever pasted into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from sqlglot import exp

from opsloop.analytics.common import (
    ANY_EVENT,
    OTHER_VALUE,
    Breakdown,
    Interval,
    PropertyFilter,
    PropertyType,
)
from opsloop.analytics.timeframe import DateSpan, ProjectContext
from opsloop.store.dialects import Dialect
from opsloop.store.relations import project_overrides
from opsloop.store.zones import whole_hours

#: Column names of the `ev` relation that `events()` builds.
PERSON = "person_id"
TIMESTAMP = "timestamp"
EVENT = "event"
PROPERTIES = "properties"
PERSON_PROPERTIES = "person_properties"
#: Stands for a local time bucket until rendering (see `QueryBuilder.bucket`).
_BUCKET_MARKER = "OPSLOOP_LOCAL_BUCKET"
#: Where a property lives in the `ev` relation, by filter / breakdown type.
_PROPERTY_COLUMNS: dict[str, str] = {"event": PROPERTIES, "person": PERSON_PROPERTIES}


def col(name: str, table: str | None = None) -> exp.Column:
    """A column reference, quoted (names like `timestamp` or `event` are keywords somewhere)."""
    return exp.column(name, table, quoted=True)


def num(value: float) -> exp.Literal | exp.Neg:
    """A numeric literal from a value opsloop computed (never from user text)."""
    return exp.Literal.number(value)


class SegmentSource(Protocol):
    """The saved segments of a project, as filters and breakdowns of type `segment` read them."""

    def membership(self, segment_id: int, builder: QueryBuilder) -> exp.Select:
        """`SELECT person_id` of the segment's current members (one row each), built with `builder`."""
        ...

    def label(self, segment_id: int) -> str:
        """The segment's name: its breakdown value."""
        ...

    def tag_values(self, tag: str) -> dict[str, list[str]]:
        """A person tag's values: value -> the ids of the persons holding it."""
        ...


class QueryBuilder:
    """Builds the SQL of one analysis for one engine, collecting the named parameters it binds."""

    def __init__(self, dialect: Dialect, ctx: ProjectContext) -> None:
        self.dialect = dialect
        self.ctx = ctx
        self.params: dict[str, Any] = {}
        #: The UTC stretch the statements' `events()` relations cover (lets the dialect convert times fast).
        self.scanned: tuple[dt.datetime, dt.datetime] | None = None
        #: Resolve persons through identity merges in every `events()` relation, whatever the caller asks
        #: (set when a segment filter or breakdown reads the person of rows outside `events()`).
        self.always_resolve_persons = False
        #: An `events()` relation was read from the hourly rollup (see `event_count`).
        self.rolled_up = False

    # -- values and properties -------------------------------------------------------------------------

    def value(self, value: Any) -> exp.Expression:
        """A user-supplied (or computed) value as a named parameter."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return self.dialect.param(name, value)

    def prop(
        self, key: str, kind: PropertyType | Literal["tag"] = "event", document: exp.Expression | None = None
    ) -> exp.Expression:
        """A property of the event or of its person (from the `ev` relation, or from `document`), as text
        (NULL when missing); kind `tag`: the value of the person tag `key` (see `tag_text`)."""
        if kind == "tag":
            return self.tag_text(key, self._joined_person() if document is not None else col(PERSON))
        return self.dialect.json_text(document if document is not None else col(_PROPERTY_COLUMNS[kind]), key)

    def number(self, text: exp.Expression) -> exp.Expression:
        """Text as a number (NULL when it is not one)."""
        return self.dialect.to_number(text)

    def matches(self, rule: PropertyFilter, document: exp.Expression | None = None) -> exp.Expr:
        """The condition a property filter stands for (documented in docs/metrics.md, "Filters"), on the
        `ev` relation or on the properties in `document`."""
        if rule.type == "segment":
            assert rule.segment_id is not None
            member = self.in_segment(rule.segment_id, document is not None)
            return member if rule.op == "eq" else exp.Not(this=member)
        text = self.prop(rule.property, rule.type, document)
        if rule.op == "is_set":
            return exp.Not(this=exp.Is(this=text, expression=exp.Null()))
        if rule.op == "is_not_set":
            return exp.Is(this=text, expression=exp.Null())
        if rule.op == "in":
            assert isinstance(rule.value, list)
            return exp.or_(*[self._equals(text, v) for v in rule.value])
        assert rule.value is not None and not isinstance(rule.value, list)
        if rule.op == "eq":
            return self._equals(text, rule.value)
        if rule.op == "neq":
            # An event without the property is "not equal" too.
            return exp.func("coalesce", exp.Not(this=exp.paren(self._equals(text, rule.value))), exp.true())
        if rule.op == "contains":
            return self.dialect.contains_text(text, self.value(str(rule.value)))
        compare = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}[rule.op]
        return compare(this=self.number(text), expression=self.value(float(rule.value)))

    def in_segment(self, segment_id: int, in_join: bool = False) -> exp.Expression:
        """Whether the row's person is a member of a saved segment: of the `ev` relation, or (`in_join`) of
        the events join inside `events()`."""
        source = self.ctx.segments
        if source is None:
            from opsloop.query.registry import QueryInvalid

            raise QueryInvalid("segment filters and breakdowns need the project's saved segments")
        person = self._joined_person() if in_join else col(PERSON)
        return exp.In(this=person, query=source.membership(segment_id, self).subquery())

    def breakdown_text(self, breakdown: Breakdown, document: exp.Expression | None = None) -> exp.Expression:
        """A row's raw breakdown value as text: the property, or (type `segment`) the name of the first of
        the segments the row's person is a member of (NULL for none)."""
        if breakdown.type != "segment":
            return self.prop(breakdown.property, breakdown.type, document)
        source = self.ctx.segments
        labels = [source.label(s) if source is not None else str(s) for s in breakdown.segment_ids]
        return exp.Case(
            ifs=[
                exp.If(this=self.in_segment(segment_id, document is not None), true=self.value(label))
                for segment_id, label in zip(breakdown.segment_ids, labels, strict=True)
            ]
        )

    def tag_text(self, tag: str, person: exp.Expression) -> exp.Expression:
        """The value of a person tag for `person` (NULL when the person has none): the tag's values come
        from the project's segment source as parameter lists of person ids, one per value."""
        source = self.ctx.segments
        if source is None:
            from opsloop.query.registry import QueryInvalid

            raise QueryInvalid("tag filters and breakdowns need the project's tags")
        values = source.tag_values(tag)
        if not values:  # a CASE that never holds: a NULL of the text type on both engines
            return exp.Case(ifs=[exp.If(this=exp.false(), true=self.value(""))])
        as_text = self.dialect.as_text(person)
        return exp.Case(
            ifs=[
                exp.If(this=self.dialect.array_contains(self.value(ids), as_text.copy()), true=self.value(value))
                for value, ids in sorted(values.items())
            ]
        )

    @staticmethod
    def _joined_person() -> exp.Expression:
        """The person of a row of the events join in `events()`, after identity merges."""
        return exp.Coalesce(this=col(PERSON, "o"), expressions=[col(PERSON, "e")])

    def _equals(self, text: exp.Expression, value: str | int | float | bool) -> exp.Expr:
        if isinstance(value, bool):
            return exp.EQ(this=text, expression=exp.Literal.string("true" if value else "false"))
        if isinstance(value, int | float):
            return exp.EQ(this=self.number(text), expression=self.value(float(value)))
        return exp.EQ(this=text, expression=self.value(value))

    def event_is(self, names: Sequence[str], table: str | None = None) -> exp.Expression | None:
        """`event IN (...)`, or None when any event will do."""
        if ANY_EVENT in names:
            return None
        unique = sorted(set(names))
        column = col(EVENT, table)
        if len(unique) == 1:
            return exp.EQ(this=column, expression=self.value(unique[0]))
        return exp.In(this=column, expressions=[self.value(n) for n in unique])

    # -- time --------------------------------------------------------------------------------------------

    def bucket(self, interval: Interval, column: exp.Expression | None = None) -> exp.Expression:
        """The local bucket of the event time (see `Dialect.local_bucket`).

        A marker until `render`, which knows the whole stretch of time the statement scans and lets the
        dialect convert timestamps inside it with precomputed offsets."""
        ts = column if column is not None else col(TIMESTAMP)
        return exp.Anonymous(this=_BUCKET_MARKER, expressions=[ts, exp.Literal.string(interval)])

    def _local_bucket(self, node: exp.Expression) -> exp.Expression:
        if not (isinstance(node, exp.Anonymous) and node.name == _BUCKET_MARKER):
            return node
        ts, interval = node.expressions
        return self.dialect.local_bucket(ts, interval.name, self.ctx.timezone, self.ctx.week_start, self.scanned)

    def between(self, start: dt.datetime, end: dt.datetime, table: str | None = None) -> exp.Expr:
        """`start <= timestamp < end` (UTC instants)."""
        ts = col(TIMESTAMP, table)
        return exp.and_(exp.GTE(this=ts, expression=self.value(start)), exp.LT(this=ts, expression=self.value(end)))

    # -- the events relation -----------------------------------------------------------------------------

    def events(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        events: Sequence[str] = (ANY_EVENT,),
        filters: Sequence[PropertyFilter] = (),
        with_person: bool = False,
        extra: Sequence[exp.Expression] = (),
        resolve_persons: bool = True,
        hourly: bool = False,
    ) -> exp.Select:
        """The project's events in `[start, end)`, with the person each belongs to after identity merges.

        Columns: `person_id`, `event`, `timestamp`, `properties` and, when `with_person` (or a person
        filter needs it), `person_properties`: the current properties of that person. An analysis that
        never looks at persons (counting events, summing a property) passes `resolve_persons=False` to
        skip the identity join; `person_id` is then the person at ingestion and must not be used.

        `hourly`: the caller reads `timestamp` only through `bucket()` and compares it only with local
        midnights, reads no `properties`, and counts events with `event_count()`. The rows may then be
        the hourly rollup's (`hour_rows`): the same answers from fewer rows (1.8M for the benchmark's 10M
        events).
        """
        project = self.ctx.project_id
        if self.scanned is None:
            self.scanned = (start, end)
        else:
            self.scanned = (min(self.scanned[0], start), max(self.scanned[1], end))
        need_person = with_person or any(f.type == "person" for f in filters)
        resolve_persons = resolve_persons or need_person or self.always_resolve_persons
        if hourly and not need_person and self.reads_hours(start, end, filters):
            return self.hour_rows(start, end, events=events, extra=extra, resolve_persons=resolve_persons)
        person = self._joined_person() if resolve_persons else col(PERSON, "e")
        columns: list[exp.Expr] = [
            exp.alias_(person, PERSON, quoted=True),
            # Aliased: ClickHouse would otherwise name a column `e.properties` when a join has another.
            exp.alias_(col(EVENT, "e"), EVENT, quoted=True),
            exp.alias_(col(TIMESTAMP, "e"), TIMESTAMP, quoted=True),
            exp.alias_(col(PROPERTIES, "e"), PROPERTIES, quoted=True),
        ]
        select = exp.select(*columns).from_(exp.to_table("events").as_("e"))
        if resolve_persons:
            select = self._with_overrides(select)
        if need_person:
            persons = (
                exp.select("id", PROPERTIES)
                .from_(self.dialect.replica_table("persons"))
                .where(exp.EQ(this=exp.column("project_id"), expression=num(project)))
                .where(exp.Not(this=exp.column("is_deleted")))
            )
            select = select.join(
                persons.subquery("pp"), on=exp.EQ(this=col("id", "pp"), expression=person.copy()), join_type="left"
            )
            select = select.select(exp.alias_(col(PROPERTIES, "pp"), PERSON_PROPERTIES, quoted=True))
        conditions: list[exp.Expr] = [
            exp.EQ(this=col("project_id", "e"), expression=num(project)),
            self.between(start, end, "e"),
        ]
        named = self.event_is(events, "e")
        if named is not None:
            conditions.append(named)
        for rule in filters:
            document = col(PROPERTIES, "e" if rule.type == "event" else "pp")
            conditions.append(self.matches(rule, document))
        if extra:
            select = select.select(*extra)
        return select.where(exp.and_(*conditions))

    def reads_hours(self, start: dt.datetime, end: dt.datetime, filters: Sequence[PropertyFilter]) -> bool:
        """Whether `events(start, end, filters=filters, hourly=True)` reads the hourly rollup: the store
        keeps it, no filter applies, and every local day, week, month and hour of `[start, end)` starts on
        a UTC hour (a whole-hour offset throughout)."""
        return self.dialect.hour_rollup and not filters and whole_hours(self.ctx.timezone, start, end)

    def hour_rows(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        events: Sequence[str],
        extra: Sequence[exp.Expression] = (),
        resolve_persons: bool = False,
    ) -> exp.Select:
        """Rows of the hourly rollup (`event_hours`) in `[start, end)`: `person_id`, `event`, `timestamp`
        (the start of a UTC hour) and `event_count` (that person's events of that name in that hour).
        `person_id` is the person as stored, or (`resolve_persons`) the person after identity merges.
        Exact for an `events(hourly=True)` reader: an hour lies wholly in one local day (week, month, hour)
        when the offset is a whole number of hours, and `start` and `end` are hours' starts."""
        self.rolled_up = True
        person = self._joined_person() if resolve_persons else col(PERSON, "e")
        columns = [person, *(col(c, "e") for c in (EVENT, TIMESTAMP, "event_count"))]
        conditions: list[exp.Expr] = [
            exp.EQ(this=col("project_id", "e"), expression=num(self.ctx.project_id)),
            self.between(start, end, "e"),
        ]
        named = self.event_is(events, "e")
        if named is not None:
            conditions.append(named)
        names = (PERSON, EVENT, TIMESTAMP, "event_count")
        select = exp.select(*(exp.alias_(c, name, quoted=True) for c, name in zip(columns, names, strict=True)))
        source = self.dialect.hour_rows_source()
        select = select.select(*extra).from_(source.subquery("e") if isinstance(source, exp.Query) else source.as_("e"))
        if resolve_persons:
            select = self._with_overrides(select)
        return select.where(exp.and_(*conditions))

    def _with_overrides(self, select: exp.Select) -> exp.Select:
        """`select` (rows `e` with a stored `person_id`) joined to the merge overrides as `o`, which
        `_joined_person` reads. Keyed by the stored person: a few rows (one per merged-away person) against
        the distinct-id map's one per id (chdb trends at 10M: 0.22 s against 0.31 s)."""
        return select.join(
            self.overrides().subquery("o"),
            on=exp.EQ(this=col("old_person_id", "o"), expression=col(PERSON, "e")),
            join_type="left",
        )

    def event_count(self) -> exp.Expression:
        """The number of events among a group of `events(hourly=True)` rows: `COUNT(*)`, or the sum of
        `event_count` when those rows are the hourly rollup's."""
        if self.rolled_up:
            return exp.Sum(this=exp.column("event_count"))
        return exp.Count(this=exp.Star())

    def resolves_late(self, filters: Sequence[PropertyFilter]) -> bool:
        """Whether an analysis with these filters may read `events(..., resolve_persons=False)`, aggregate
        per stored person and then resolve its per-person rows with `resolve_later`: no filter reads a
        person. (Joining tens of millions of events to the merge overrides costs a good part of scanning
        them; resolving a row per person costs next to nothing.)"""
        return not self.always_resolve_persons and all(f.type == "event" for f in filters)

    def overrides(self) -> exp.Select:
        """The project's identity merges (`relations.project_overrides`)."""
        return project_overrides(self.ctx.project_id, self.dialect)

    def resolve_values_later(self, rows: exp.Select, value: str) -> tuple[exp.Select, bool]:
        """`rows` (`person_id` as stored, `value`) resolved through identity merges (`resolve_later`), for
        `Dialect.previous_values`: one row per stored person with the list of its distinct values where the
        engine collects those cheaply from raw rows (`listed`, True), else the distinct (person, value) rows."""
        if self.dialect.collects_distinct_cheaply:
            lists = exp.select(col(PERSON), exp.alias_(self.dialect.collect_distinct(exp.column(value)), value))
            return self.resolve_later(lists.from_(rows.subquery("v")).group_by(col(PERSON)), [value]), True
        return self.resolve_later(rows.distinct(), [value]), False

    def resolve_later(self, source: exp.Select | str, columns: Sequence[str]) -> exp.Select:
        """Rows of `source` (a statement, or a CTE's name), whose `person_id` is the person an event was
        stored with, with `person_id` the person it belongs to now and `columns` carried along. Exact because
        a merge moves every distinct id of a person: all events stored with one person belong to one person
        now (`person_overrides`)."""
        person = exp.func("coalesce", col(PERSON, "o"), col(PERSON, "s"))
        return (
            exp.select(exp.alias_(person, PERSON, quoted=True), *(col(c, "s") for c in columns))
            .from_(exp.to_table(source).as_("s") if isinstance(source, str) else source.subquery("s"))
            .join(
                self.overrides().subquery("o"),
                on=exp.EQ(this=col("old_person_id", "o"), expression=col(PERSON, "s")),
                join_type="left",
            )
        )

    # -- breakdowns --------------------------------------------------------------------------------------

    def breakdown_value(self, breakdown: Breakdown, top_cte: str) -> exp.Expression:
        """The breakdown value of an `ev` row: the property text when among the top values, `$other` for
        any other value, NULL when the property is not set."""
        text = self.breakdown_text(breakdown)
        in_top = exp.In(this=text.copy(), query=exp.select("bv").from_(top_cte).subquery())
        return exp.Case(
            ifs=[
                exp.If(this=exp.Is(this=text.copy(), expression=exp.Null()), true=exp.Null()),
                exp.If(this=in_top, true=text.copy()),
            ],
            default=self.value(OTHER_VALUE),
        )

    def top_values(self, breakdown: Breakdown, source: str) -> exp.Select:
        """The `limit` most frequent values of the breakdown property among `source`'s rows (ties by value)."""
        text = self.breakdown_text(breakdown)
        return (
            exp.select(exp.alias_(text, "bv"))
            .from_(source)
            .where(exp.Not(this=exp.Is(this=text.copy(), expression=exp.Null())))
            .group_by(text.copy())
            .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True), exp.Ordered(this=text.copy()))
            .limit(breakdown.limit)
        )

    # -- rendering ---------------------------------------------------------------------------------------

    def render(self, statement: exp.Expression) -> tuple[str, dict[str, Any]]:
        """The statement's SQL for this engine and the parameters it uses."""
        used = {p.name for p in statement.find_all(exp.Placeholder)}
        statement = statement.transform(self._local_bucket)
        return self.dialect.render(statement), {k: v for k, v in self.params.items() if k in used}

    def span_columns(self, span: DateSpan) -> tuple[exp.Expression, exp.Expression]:
        """The UTC bounds of a span as parameters."""
        return self.value(span.start), self.value(span.end)
