"""Finding persons (by distinct id or a person property), a person's timeline and a project's latest events.

Every query is built with sqlglot; values typed by people are bound parameters, property keys go through the
dialect's JSON path helper, never into SQL text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from pydantic import BaseModel
from sqlglot import exp

from opsloop.store.events import EventStore
from opsloop.store.relations import project_distinct_ids, project_persons

#: Most rows one page of persons or events holds.
MAX_PAGE = 200


class PersonMatch(BaseModel):
    """A person in a search result: its id and the distinct ids that point at it (first few)."""

    person_id: str
    distinct_id: str
    distinct_id_count: int


class EventRow(BaseModel):
    """One stored event, for a timeline or the live view."""

    uuid: str
    event: str
    distinct_id: str
    timestamp: dt.datetime
    properties: dict[str, Any]


class PersonSeen(BaseModel):
    """When a person was first and last seen, and how many events they have."""

    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    event_count: int


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))


def _as_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def search_persons(
    store: EventStore,
    project_id: int,
    *,
    distinct_id: str = "",
    property_key: str = "",
    property_value: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[PersonMatch]:
    """Persons whose distinct id contains `distinct_id` (case-insensitive), and/or whose person property
    `property_key` equals `property_value` (as text); every person when both are empty. Ordered by id."""
    limit, offset = _page(limit, offset)
    dialect = store.dialect
    ids = project_distinct_ids(project_id, dialect).subquery("d")
    query = (
        exp.select(
            exp.alias_(exp.cast(exp.column("person_id", "d"), "text"), "pid"),
            exp.alias_(exp.func("min", exp.column("distinct_id", "d")), "did"),
            exp.alias_(exp.func("count", exp.Star()), "n"),
        )
        .from_(ids)
        .group_by(exp.cast(exp.column("person_id", "d"), "text"))
    )
    params: list[Any] = []
    if distinct_id:
        matching = (
            exp.select(exp.column("person_id"))
            .from_(project_distinct_ids(project_id, dialect).subquery("m"))
            .where(dialect.contains_text(exp.column("distinct_id"), dialect.placeholder()))
        )
        query = query.where(exp.column("person_id", "d").isin(query=matching))
        params.append(distinct_id)
    if property_key:
        persons = (
            exp.select(exp.column("id"))
            .from_(project_persons(project_id, dialect).subquery("p"))
            .where(
                exp.EQ(this=dialect.json_text(exp.column("properties"), property_key), expression=dialect.placeholder())
            )
        )
        query = query.where(exp.column("person_id", "d").isin(query=persons))
        params.append(property_value)
    query = query.order_by(exp.column("did")).limit(limit).offset(offset)
    rows = store.query(dialect.render(query), params).rows
    return [PersonMatch(person_id=str(r[0]), distinct_id=str(r[1]), distinct_id_count=int(r[2])) for r in rows]


def _events(project_id: int) -> exp.Select:
    """The project's stored events, straight from the events table (no identity join: callers filter first)."""
    return (
        exp.select("uuid", "event", "distinct_id", "timestamp", "properties")
        .from_(exp.to_table("events"))
        .where(exp.EQ(this=exp.column("project_id"), expression=exp.Literal.number(int(project_id))))
    )


def _of_ids(store: EventStore, distinct_ids: list[str]) -> exp.Expression:
    """`distinct_id IN (?, ?, ...)`: the events of a person are the events of all its distinct ids."""
    return exp.column("distinct_id").isin(*[store.dialect.placeholder() for _ in distinct_ids])


def _rows(result_rows: list[Any]) -> list[EventRow]:
    return [
        EventRow(
            uuid=str(r[0]),
            event=str(r[1]),
            distinct_id=str(r[2]),
            timestamp=_as_utc(r[3]) or dt.datetime.min.replace(tzinfo=dt.UTC),
            properties=orjson.loads(r[4]) if r[4] else {},
        )
        for r in result_rows
    ]


def person_timeline(
    store: EventStore, project_id: int, distinct_ids: list[str], *, limit: int = 50, offset: int = 0
) -> list[EventRow]:
    """A person's events (all of its `distinct_ids`), newest first, one page."""
    limit, offset = _page(limit, offset)
    if not distinct_ids:
        return []
    query = (
        _events(project_id)
        .where(_of_ids(store, distinct_ids))
        .order_by(exp.Ordered(this=exp.column("timestamp"), desc=True), exp.column("uuid"))
        .limit(limit)
        .offset(offset)
    )
    return _rows(store.query(store.dialect.render(query), list(distinct_ids)).rows)


def person_seen(store: EventStore, project_id: int, distinct_ids: list[str]) -> PersonSeen:
    """The person's first and last event times and event count (over all of its `distinct_ids`)."""
    if not distinct_ids:
        return PersonSeen(first_seen=None, last_seen=None, event_count=0)
    query = exp.select(
        exp.func("min", exp.column("timestamp")),
        exp.func("max", exp.column("timestamp")),
        exp.func("count", exp.Star()),
    ).from_(_events(project_id).where(_of_ids(store, distinct_ids)).subquery("ev"))
    first, last, count = store.query(store.dialect.render(query), list(distinct_ids)).rows[0]
    return PersonSeen(first_seen=_as_utc(first), last_seen=_as_utc(last), event_count=int(count or 0))


def latest_events(store: EventStore, project_id: int, *, event: str = "", limit: int = 50) -> list[EventRow]:
    """The project's latest events (by event time), optionally only those named `event`."""
    limit, _ = _page(limit, 0)
    query = _events(project_id)
    params: list[Any] = []
    if event:
        query = query.where(exp.EQ(this=exp.column("event"), expression=store.dialect.placeholder()))
        params.append(event)
    query = query.order_by(exp.Ordered(this=exp.column("timestamp"), desc=True), exp.column("uuid")).limit(limit)
    return _rows(store.query(store.dialect.render(query), params).rows)
