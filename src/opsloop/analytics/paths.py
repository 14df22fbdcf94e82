"""Paths: the sequences of events persons follow from (or to) an event, as nodes and links for a Sankey."""

from __future__ import annotations

import datetime as dt
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


def _case(condition: exp.Expr, then: exp.Expression, default: exp.Expression | None = None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=default)


def _path_events(
    query: PathsQuery, builder: QueryBuilder, *, resolve_persons: bool = True, filtered: bool = True
) -> exp.Select:
    """The events paths are made of: the range's events, only `include_events` and none of `exclude_events`
    (and, when `filtered`, only those the query's filters keep)."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    events = builder.events(
        span.start,
        span.end,
        events=query.include_events or [ANY_EVENT],
        filters=query.filters if filtered else (),
        resolve_persons=resolve_persons,
    )
    if query.exclude_events:
        excluded = builder.event_is(query.exclude_events, "e")
        assert excluded is not None
        events = events.where(exp.Not(this=exp.paren(excluded)))
    return events


def _anchored_paths(
    query: PathsQuery,
    builder: QueryBuilder,
    sequences: exp.Select,
    anchor: exp.Expression | None,
    carry: tuple[str, ...] = (),
    keep: exp.Expr | None = None,
) -> exp.Select:
    """From rows with `seq` (a person's events in order) and the `carry` columns: `path`, the `steps` events
    from the first `anchor` on (or up to it, for `end_event`; from the first event when there is no anchor),
    for persons whose sequence has the anchor (or who pass `keep`). Repeats are dropped first when asked."""
    dialect = builder.dialect
    seq, steps, at = col("seq"), num(query.steps), col("at")
    carried = [col(c) for c in carry]
    if query.collapse_repeats:
        sequences = exp.select(exp.alias_(dialect.drop_repeats(seq.copy()), "seq"), *carried).from_(
            sequences.subquery("q")
        )
    # `at`: the position of the start (or end) event's first occurrence; 0 when the person has none.
    position = dialect.list_position(seq.copy(), anchor) if anchor is not None else num(1)
    anchored = exp.select(exp.alias_(position, "at"), seq.copy(), *(c.copy() for c in carried)).from_(
        sequences.subquery("a")
    )
    if query.end_event is not None:
        # The last `steps` events up to `at`: from at - steps + 1 (or the first event), min(at, steps) long.
        longer = exp.GT(this=at.copy(), expression=steps.copy())
        first = _case(longer, exp.Add(this=exp.Sub(this=at.copy(), expression=steps.copy()), expression=num(1)), num(1))
        path = dialect.list_slice(seq.copy(), first, _case(longer.copy(), steps.copy(), at.copy()))
    else:
        path = dialect.list_slice(seq.copy(), at.copy(), steps.copy())
    found: exp.Expr = exp.GT(this=at.copy(), expression=num(0))
    return (
        exp.select(exp.alias_(path, "path"), *(c.copy() for c in carried))
        .from_(anchored.subquery("b"))
        .where(exp.or_(found, keep) if keep is not None else found)
    )


def _person_paths(query: PathsQuery, builder: QueryBuilder, persons: list[str] | None = None) -> exp.Select:
    """One row per person with a path (only `persons`, ids as text, when given): `path`, the list of its
    events from its first step on, from each person's whole sequence of events."""
    dialect = builder.dialect
    events = _path_events(query, builder)
    if persons is not None:
        member = dialect.array_contains(builder.value(persons), dialect.as_text(col(PERSON)))
        events = exp.select("*").from_(events.subquery("ev0")).where(member)
    # One list per person (sorted there, not by a window over all rows): events in time order, at the same
    # instant by name.
    sequence = dialect.sorted_values(col(EVENT), col(TIMESTAMP))
    grouped = exp.select(exp.alias_(sequence, "seq")).from_(events.subquery("ev")).group_by(col(PERSON))
    anchor = query.start_event or query.end_event
    return _anchored_paths(query, builder, grouped, builder.value(anchor) if anchor is not None else None)


def _event_names(query: PathsQuery, builder: QueryBuilder, fetch: Fetch) -> list[str]:
    """The names of the events paths can be made of in the range, in code-point order (the order events at
    the same instant take)."""
    events = _path_events(query, builder, resolve_persons=False, filtered=False)
    names = exp.select(col(EVENT)).from_(events.subquery("ev")).distinct()
    return sorted(str(row[EVENT]) for row in fetch.rows(names))


#: Largest key `_ranked_paths` builds: microseconds into the range times the number of ranks (with room).
_MAX_KEY = 2**62


def _ranked_paths(query: PathsQuery, builder: QueryBuilder, names: list[str]) -> exp.Select | None:
    """One row per person with a path, from their whole sequence sorted as integers
    (`Dialect.sorts_integer_lists`): each event is the key `micros into the range × (n + 1) + rank`, where
    `rank` is the event's position among the range's `names` (n of them), so sorting keys orders events
    by time and, at the same instant, by name. Without person filters the events are keyed per stored
    person and their lists joined per person after identity merges (`resolve_later`).

    Columns `path`, `exact` and `pid` (the person as text), as from `_windowed_paths`: a person with an
    event not among `names` (stored after they were read) has rank n, and `exact` false so that their path
    comes from `_person_paths`. None when the range is too long for the keys."""
    dialect = builder.dialect
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    width = len(names) + 1
    micros = (span.end - span.start) // dt.timedelta(microseconds=1)
    if micros * width >= _MAX_KEY:
        return None
    late = builder.resolves_late(query.filters)
    events = _path_events(query, builder, resolve_persons=not late)
    listed = builder.value(names)
    start = dialect.epoch_micros(builder.value(span.start))
    offset = exp.Sub(this=dialect.epoch_micros(col(TIMESTAMP)), expression=start)
    key = exp.Add(
        this=exp.Mul(this=exp.paren(offset), expression=num(width)),
        expression=dialect.rank_of(col(EVENT), listed, width - 1),
    )
    keys = exp.select(col(PERSON), exp.alias_(dialect.collect(key), "keys")).from_(events.subquery("ev"))
    keys = keys.group_by(col(PERSON))
    if late:
        resolved = builder.resolve_later(keys, ["keys"])
        keys = exp.select(col(PERSON), exp.alias_(dialect.concat_lists(col("keys")), "keys"))
        keys = keys.from_(resolved.subquery("r")).group_by(col(PERSON))
    ranks = dialect.map_list(dialect.sort_list(col("keys")), lambda k: exp.Mod(this=k, expression=num(width)))
    sequences = exp.select(
        exp.alias_(ranks, "seq"),
        exp.alias_(dialect.as_text(col(PERSON)), "pid"),
        exp.alias_(exp.Not(this=dialect.array_contains(col("seq"), num(width - 1))), "exact"),
    ).from_(keys.subquery("k"))
    anchor = query.start_event or query.end_event
    rank = (names.index(anchor) if anchor in names else -1) if anchor is not None else None
    paths = _anchored_paths(
        query,
        builder,
        sequences,
        num(rank) if rank is not None else None,
        ("pid", "exact"),
        keep=exp.Not(this=col("exact")),
    )
    named = dialect.map_list(
        col("path"), lambda r: dialect.list_item(listed.copy(), exp.Add(this=r, expression=num(1)))
    )
    return exp.select(exp.alias_(named, "path"), "exact", "pid").from_(paths.subquery("r"))


def window_size(query: PathsQuery) -> int:
    """Events per person the windowed statement keeps. With repeats collapsed: room for runs of eight of an
    event on average before a person needs their whole sequence (on the benchmark's 10M events, 8 per step
    left no person unsettled where 4 left one, whose whole-sequence statement cost more than the larger
    windows). Without: twice the steps, so that a tie at the cut (which drops that instant) rarely matters."""
    return 8 * query.steps + 1 if query.collapse_repeats else 2 * query.steps + 1


def _windowed_paths(query: PathsQuery, builder: QueryBuilder) -> exp.Select:
    """One row per person with a path, from only the `window_size` events nearest their anchor (the first
    `start_event`, the first `end_event`, or the start of the range), kept per person by one aggregate
    (`Dialect.top_values`) instead of sorting every person's whole sequence.

    Columns `path`, `exact` and `pid` (the person as text). The path is exact when the window holds all the
    person's events on that side of the anchor, or enough of them for `steps` steps after collapsing
    repeats; otherwise (a long run of one event) `exact` is false and the person's path is computed from
    their whole sequence by `_person_paths` (the caller does that)."""
    dialect = builder.dialect
    k, steps = window_size(query), query.steps
    events = _path_events(query, builder)
    ts, event, person = col(TIMESTAMP), col(EVENT), col(PERSON)
    last = query.end_event is not None
    anchor = query.start_event or query.end_event
    source: exp.Select = exp.select("*").from_(events.subquery("ev"))
    if anchor is not None:
        # The anchor: the person's first such event. Events at the same instant count by name, so the window
        # is every event from (t0, start_event) on, or up to (t0, end_event).
        named = builder.value(anchor)
        first = (
            exp.select(exp.alias_(col(PERSON), "aid"), exp.alias_(exp.Min(this=ts.copy()), "t0"))
            .from_(events.copy().subquery("ev"))
            .where(exp.EQ(this=event.copy(), expression=named))
            .group_by(col(PERSON))
        )
        later = exp.GT if not last else exp.LT
        same_or_later = exp.GTE if not last else exp.LTE
        side = exp.or_(
            later(this=col(TIMESTAMP, "ev"), expression=col("t0", "a")),
            exp.and_(
                exp.EQ(this=col(TIMESTAMP, "ev"), expression=col("t0", "a")),
                same_or_later(this=col(EVENT, "ev"), expression=named.copy()),
            ),
        )
        source = (
            exp.select(col(PERSON, "ev"), col(EVENT, "ev"), col(TIMESTAMP, "ev"), col("t0", "a"))
            .from_(events.subquery("ev"))
            .join(first.subquery("a"), on=exp.EQ(this=col("aid", "a"), expression=col(PERSON, "ev")))
            .where(side)
        )
    windows = (
        exp.select(
            exp.alias_(dialect.as_text(person.copy()), "pid"),
            exp.alias_(dialect.top_values(event.copy(), ts.copy(), k, largest=last), "raw"),
            exp.alias_(dialect.top_values(ts.copy(), ts.copy(), k, largest=last), "tss"),
            exp.alias_(exp.Count(this=exp.Star()), "n"),
        )
        .from_(source.subquery("w"))
        .group_by(person.copy())
    )
    raw, tss, n = col("raw"), col("tss"), col("n")
    seq = col("seq")
    ordered = exp.select("pid", "n", "tss", exp.alias_(dialect.sort_by_keys(raw.copy(), tss.copy()), "seq"))
    if last:
        # Copies of the end event at its instant sort last; the path ends at the first of them.
        assert anchor is not None
        copies = exp.and_(exp.EQ(this=ts.copy(), expression=col("t0")), exp.EQ(this=event.copy(), expression=named))
        windows = windows.select(exp.alias_(exp.Count(this=_case(copies, num(1))), "copies"))
        ordered = ordered.select("copies")
        through_first = exp.Add(
            this=exp.Sub(this=dialect.list_length(seq.copy()), expression=col("copies")), expression=num(1)
        )
        ordered = exp.select(
            "pid", "n", "tss", exp.alias_(dialect.list_slice(seq.copy(), num(1), through_first), "seq")
        ).from_(ordered.from_(windows.subquery("w1")).subquery("w1b"))
    else:
        ordered = ordered.from_(windows.subquery("w1"))
    # A full window may have cut through events of one instant: keep only those of other instants.
    full = exp.GT(this=n.copy(), expression=num(k))
    cut = dialect.list_item(tss.copy(), num(1) if last else dialect.list_length(tss.copy()))
    kept = dialect.filter_by_keys(
        seq.copy(),
        tss.copy(),
        (lambda t: exp.GT(this=t, expression=cut.copy()))
        if last
        else (lambda t: exp.LT(this=t, expression=cut.copy())),
    )
    trimmed = exp.select("pid", "n", exp.alias_(_case(full, kept, seq.copy()), "seq")).from_(ordered.subquery("w2"))
    if query.collapse_repeats:
        trimmed = exp.select("pid", "n", exp.alias_(dialect.drop_repeats(seq.copy()), "seq")).from_(
            trimmed.subquery("w3")
        )
    length = dialect.list_length(seq.copy())
    if last:
        longer = exp.GT(this=length.copy(), expression=num(steps))
        first_kept = _case(
            longer, exp.Add(this=exp.Sub(this=length.copy(), expression=num(steps)), expression=num(1)), num(1)
        )
        path = dialect.list_slice(seq.copy(), first_kept, num(steps))
    else:
        path = dialect.list_slice(seq.copy(), num(1), num(steps))
    exact = exp.or_(exp.LTE(this=n.copy(), expression=num(k)), exp.GTE(this=length.copy(), expression=num(steps)))
    return exp.select(exp.alias_(path, "path"), exp.alias_(exact, "exact"), "pid").from_(trimmed.subquery("w4"))


def _transitions(query: PathsQuery, builder: QueryBuilder, paths: exp.Select, flagged: bool) -> exp.Select:
    """Rows `(step, event, source, persons)`: persons whose path has `event` at `step` and `source` at the
    step before (NULL: nothing before). From `flagged` paths (with `exact` and `pid`, from `_windowed_paths`
    or `_ranked_paths`), a person whose path is not exact gives a row of its own instead: step 0, `event`
    their id as text."""
    dialect = builder.dialect
    path: exp.Expression = col("path")
    k = col("k")
    if flagged:
        path = _case(col("exact"), path, exp.Array(expressions=[col("pid")]))
    exploded = exp.select(
        exp.alias_(path, "path"),
        exp.alias_(
            dialect.expand_range(num(1), exp.Add(this=dialect.list_length(path.copy()), expression=num(1))), "k"
        ),
        *([col("exact")] if flagged else []),
    ).from_(paths.subquery("c"))
    path = col("path")
    length = dialect.list_length(path.copy())
    step: exp.Expression = k.copy()
    if query.end_event is not None:
        # The end event is step `steps`: a shorter path starts later.
        step = exp.Add(this=k.copy(), expression=exp.Sub(this=num(query.steps), expression=length.copy()))
    if flagged:
        step = _case(col("exact"), step, num(0))
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


def node_name(step: int, event: str) -> str:
    """A node's name: `<step>_<event>`."""
    return f"{step}_{event}"


def compute_paths(query: PathsQuery, builder: QueryBuilder, fetch: Fetch) -> PathsResult:
    """Run a paths query: every transition's persons from the windowed statement where the engine keeps a
    group's top values, else from whole sequences sorted as integers where the engine sorts those fast,
    else from whole sequences of (time, name) pairs; the few persons the first two cannot settle get
    theirs from whole sequences. The top links, nodes and drop-offs follow in `_result`."""
    counts: dict[tuple[int, str, str | None], int] = {}
    unsettled: list[str] = []

    def add(statement: exp.Select) -> None:
        for row in fetch.rows(statement):
            step, event = int(row["step"]), str(row["event"])
            if step == 0:
                unsettled.append(event)
                continue
            source = None if row["source"] is None else str(row["source"])
            key = (step, event, source)
            counts[key] = counts.get(key, 0) + int(row["persons"])

    dialect = builder.dialect
    flagged: exp.Select | None = None
    if dialect.keeps_top_values:
        flagged = _windowed_paths(query, builder)
    elif dialect.sorts_integer_lists:
        names = _event_names(query, builder, fetch)
        if not names:
            return _result(query, counts)
        flagged = _ranked_paths(query, builder, names)
    if flagged is not None:
        add(_transitions(query, builder, flagged, flagged=True))
        if unsettled:
            add(_transitions(query, builder, _person_paths(query, builder, unsettled), flagged=False))
    else:
        add(_transitions(query, builder, _person_paths(query, builder), flagged=False))
    return _result(query, counts)


def _result(query: PathsQuery, counts: dict[tuple[int, str, str | None], int]) -> PathsResult:
    """The top links, their nodes and the drop-offs from persons per (step, event, event at the step before)."""
    node_persons: dict[tuple[int, str], int] = {}
    at_step: dict[int, int] = {}
    into: dict[int, int] = {}
    for (step, event, source), persons in counts.items():
        node_persons[(step, event)] = node_persons.get((step, event), 0) + persons
        at_step[step] = at_step.get(step, 0) + persons
        if source is not None:
            into[step] = into.get(step, 0) + persons
    top = sorted(
        ((step, source, event, persons) for (step, event, source), persons in counts.items() if source is not None),
        key=lambda t: (-t[3], t[0], t[1], t[2]),
    )[: query.limit]
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
