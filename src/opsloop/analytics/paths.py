"""Paths: the sequences of events persons follow from (or to) an event, as nodes and links for a Sankey."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlglot import exp

from opsloop.analytics.builder import EVENT, PERSON, TIMESTAMP, QueryBuilder, col, num
from opsloop.analytics.common import ANY_EVENT, Model, RangeQuery, check_name
from opsloop.analytics.runner import Analysis, Fetch
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import resolve_span

#: A non-null 64-bit integer (ClickHouse would otherwise render a cast as `Nullable(Int64)`).
_BIGINT = exp.DataType.build("BIGINT")
_BIGINT.set("nullable", False)
#: Most events `include_events` / `exclude_events` may list.
MAX_LISTED_EVENTS = 200


def _event_name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    check_name(value, what)
    if value == ANY_EVENT:
        raise ValueError(f"{what} must name one event, not `{ANY_EVENT}`")
    return value


class PathsQuery(RangeQuery):
    """Paths: each person's path of `steps` events from `start_event`, to `end_event`, or from their first
    event in the range; the most followed transitions between steps."""

    kind: Literal["paths"] = "paths"
    start_event: str | None = Field(None, description="paths start at each person's first such event in the range")
    end_event: str | None = Field(None, description="paths end at each person's first such event in the range")
    steps: int = Field(5, ge=2, le=10, description="path length in events, the start or end event included")
    include_events: list[str] | None = Field(
        None, min_length=1, max_length=MAX_LISTED_EVENTS, description="only these events are path steps"
    )
    exclude_events: list[str] = Field(
        default_factory=list, max_length=MAX_LISTED_EVENTS, description="these events are never path steps"
    )
    collapse_repeats: bool = Field(True, description="consecutive repeats of an event are one step")
    limit: int = Field(50, ge=1, le=500, description="how many links (transitions) to return, most persons first")

    @field_validator("start_event", "end_event")
    @classmethod
    def _anchor(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _event_name(value, str(info.field_name))

    @field_validator("include_events", "exclude_events")
    @classmethod
    def _listed(cls, values: list[str] | None, info: ValidationInfo) -> list[str] | None:
        for value in values or []:
            _event_name(value, str(info.field_name))
        return values

    @model_validator(mode="after")
    def _consistent(self) -> PathsQuery:
        if self.start_event is not None and self.end_event is not None:
            raise ValueError("give at most one of start_event and end_event")
        both = set(self.include_events or []) & set(self.exclude_events)
        if both:
            raise ValueError(f"exclude_events: {sorted(both)[0]!r} is also in include_events")
        anchor = self.start_event or self.end_event
        field = "start_event" if self.start_event is not None else "end_event"
        if anchor is not None and anchor in self.exclude_events:
            raise ValueError(f"{field}: {anchor!r} is in exclude_events")
        if anchor is not None and self.include_events is not None and anchor not in self.include_events:
            raise ValueError(f"{field}: {anchor!r} is not in include_events")
        return self


class PathNode(Model):
    """One event at one step, and the persons whose path has it there."""

    name: str = Field(description="`<step>_<event>`, e.g. `1_pageview`")
    step: int
    event: str
    persons: int


class PathLink(Model):
    """Persons whose path goes from one node to the next (steps i and i + 1)."""

    source: str
    target: str
    persons: int


class PathDropoff(Model):
    """Persons whose path stops short at a step: no further event (or, for `end_event`, no earlier one)."""

    step: int
    persons: int


class PathsResult(TableResult):
    """`links`: the top transitions; `nodes`: the nodes they touch; `dropoffs`: per step; `persons`: paths."""

    nodes: list[PathNode]
    links: list[PathLink]
    dropoffs: list[PathDropoff]
    persons: int = Field(description="persons with a path (every path has at least its first step)")

    def rows(self) -> list[dict[str, Any]]:
        """One row per link: source, target, persons."""
        return [link.model_dump() for link in self.links]


# -- SQL -----------------------------------------------------------------------------------------------------


def _bigint(value: exp.Expression) -> exp.Expression:
    return exp.cast(value, _BIGINT)


def _case(condition: exp.Expression, then: exp.Expression, default: exp.Expression | None = None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=default)


def _person_paths(query: PathsQuery, builder: QueryBuilder) -> exp.Select:
    """One row per person with a path: `path`, the list of its events from its first step on."""
    dialect = builder.dialect
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    events = builder.events(span.start, span.end, events=query.include_events or [ANY_EVENT], filters=query.filters)
    excluded = builder.event_is(query.exclude_events, "e") if query.exclude_events else None
    if excluded is not None:
        events = events.where(exp.Not(this=exp.paren(excluded)))
    # One list per person (sorted there, not by a window over all rows): events in time order, at the same
    # instant by name; repeats dropped.
    seq = col("seq")
    sequence = dialect.sorted_values(col(EVENT), col(TIMESTAMP))
    persons = exp.select(exp.alias_(sequence, "seq")).from_(events.subquery("ev")).group_by(col(PERSON))
    if query.collapse_repeats:
        persons = exp.select(exp.alias_(dialect.drop_repeats(seq.copy()), "seq")).from_(persons.subquery("q"))
    # `at`: the position of the start (or end) event's first occurrence; 0 when the person has none.
    steps, at = num(query.steps), col("at")
    anchor = query.start_event or query.end_event
    position = dialect.list_position(seq.copy(), builder.value(anchor)) if anchor is not None else num(1)
    anchored = exp.select(exp.alias_(position, "at"), seq.copy()).from_(persons.subquery("a"))
    if query.end_event is not None:
        # The last `steps` events up to `at`: from at - steps + 1 (or the first event), min(at, steps) long.
        longer = exp.GT(this=at.copy(), expression=steps.copy())
        first = _case(longer, exp.Add(this=exp.Sub(this=at.copy(), expression=steps.copy()), expression=num(1)), num(1))
        path = dialect.list_slice(seq.copy(), first, _case(longer.copy(), steps.copy(), at.copy()))
    else:
        path = dialect.list_slice(seq.copy(), at.copy(), steps.copy())
    return (
        exp.select(exp.alias_(path, "path"))
        .from_(anchored.subquery("b"))
        .where(exp.GT(this=at.copy(), expression=num(0)))
    )


def _transitions(query: PathsQuery, builder: QueryBuilder) -> exp.Select:
    """Rows `(step, event, source, persons)`: persons whose path has `event` at `step` and `source` at the
    step before (NULL: nothing before)."""
    dialect = builder.dialect
    path, k = col("path"), col("k")
    length = dialect.list_length(path.copy())
    exploded = exp.select(
        path.copy(), exp.alias_(dialect.expand_range(num(1), exp.Add(this=length, expression=num(1))), "k")
    ).from_(_person_paths(query, builder).subquery("c"))
    step: exp.Expression = k.copy()
    if query.end_event is not None:
        # The end event is step `steps`: a shorter path starts later.
        step = exp.Add(this=k.copy(), expression=exp.Sub(this=num(query.steps), expression=length.copy()))
    previous = dialect.list_item(path.copy(), exp.Sub(this=k.copy(), expression=num(1)))
    # One path per person and one event per step of it: counting rows counts distinct persons.
    return (
        exp.select(
            exp.alias_(_bigint(step), "step"),
            exp.alias_(dialect.list_item(path.copy(), k.copy()), "event"),
            exp.alias_(_case(exp.GT(this=k.copy(), expression=num(1)), previous), "source"),
            exp.alias_(_bigint(exp.Count(this=exp.Star())), "persons"),
        )
        .from_(exploded.subquery("p"))
        .group_by("step", "event", "source")
    )


def _paths_statement(query: PathsQuery, builder: QueryBuilder) -> exp.Select:
    """The transitions with `node_persons` (persons at the node), `at_step` and `into_step` (persons at the
    step, and those of them with a step before), keeping the `limit` top links (`link_rank`, ties by step,
    source, target) and one row per node (`node_rank` = 1). Every part reads the transitions once (ClickHouse
    would compute a CTE read twice twice)."""
    persons, is_link = col("persons"), exp.Not(this=exp.Is(this=col("source"), expression=exp.Null()))

    def total(value: exp.Expression, *partition: str) -> exp.Expression:
        return _bigint(exp.Window(this=exp.Sum(this=value), partition_by=[col(p) for p in partition]))

    link_order = [
        exp.Ordered(this=exp.Is(this=col("source"), expression=exp.Null())),
        exp.Ordered(this=persons.copy(), desc=True),
        *[exp.Ordered(this=col(c)) for c in ("step", "source", "event")],
    ]
    ranked = exp.select(
        "step",
        "event",
        "source",
        "persons",
        exp.alias_(total(persons.copy(), "step", "event"), "node_persons"),
        exp.alias_(total(persons.copy(), "step"), "at_step"),
        exp.alias_(total(_case(is_link, persons.copy(), num(0)), "step"), "into_step"),
        exp.alias_(exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=link_order)), "link_rank"),
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[col("step"), col("event")],
                order=exp.Order(expressions=[exp.Ordered(this=col("source"))]),
            ),
            "node_rank",
        ),
    ).from_(_transitions(query, builder).subquery("g"))
    top = exp.and_(is_link.copy(), exp.LTE(this=col("link_rank"), expression=num(query.limit)))
    return (
        exp.select("*")
        .from_(ranked.subquery("r"))
        .where(exp.or_(top, exp.EQ(this=col("node_rank"), expression=num(1))))
    )


def node_name(step: int, event: str) -> str:
    """A node's name: `<step>_<event>`."""
    return f"{step}_{event}"


def compute_paths(query: PathsQuery, builder: QueryBuilder, fetch: Fetch) -> PathsResult:
    """Run a paths query."""
    node_persons: dict[tuple[int, str], int] = {}
    at_step: dict[int, int] = {}
    into: dict[int, int] = {}
    top: list[tuple[int, str, str, int]] = []
    for row in fetch.rows(_paths_statement(query, builder)):
        step, event = int(row["step"]), str(row["event"])
        node_persons[(step, event)] = int(row["node_persons"])
        at_step[step], into[step] = int(row["at_step"]), int(row["into_step"])
        if row["source"] is not None and int(row["link_rank"]) <= query.limit:
            top.append((step, str(row["source"]), event, int(row["persons"])))
    top.sort(key=lambda t: (-t[3], t[0], t[1], t[2]))
    links = [
        PathLink(source=node_name(step - 1, source), target=node_name(step, target), persons=persons)
        for step, source, target, persons in top
    ]
    touched = {(step - 1, source) for step, source, _, _ in top} | {(step, target) for step, _, target, _ in top}
    nodes = [
        PathNode(name=node_name(step, event), step=step, event=event, persons=node_persons[(step, event)])
        for step, event in sorted(touched, key=lambda n: (n[0], -node_persons[n], n[1]))
    ]
    n = query.steps
    if query.end_event is not None:
        # Traced back from the end event: a path stops short at step k when it has no event before it.
        dropoffs = [PathDropoff(step=k, persons=at_step.get(k, 0) - into.get(k, 0)) for k in range(2, n + 1)]
        persons = at_step.get(n, 0)
    else:
        dropoffs = [PathDropoff(step=k, persons=at_step.get(k, 0) - into.get(k + 1, 0)) for k in range(1, n)]
        persons = at_step.get(1, 0)
    return PathsResult(nodes=nodes, links=links, dropoffs=dropoffs, persons=persons)


ANALYSES: dict[str, Analysis[Any, Any]] = {"paths": Analysis(PathsQuery, PathsResult, compute_paths)}
