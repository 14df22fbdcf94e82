"""Persons: look one up by any of its distinct ids, with its ids and recent events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import select
from sqlglot import exp

from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Person, PersonDistinctId
from opsloop.store.relations import project_events


class PersonEvent(BaseModel):
    """One event on a person's timeline."""

    uuid: str
    event: str
    distinct_id: str
    timestamp: str
    properties: dict[str, Any]


class PersonDetail(BaseModel):
    """A person with every distinct id that points at it and its latest events."""

    id: str
    created_at: dt.datetime
    is_identified: bool
    properties: dict[str, Any]
    distinct_ids: list[str]
    recent_events: list[PersonEvent]


def find_person(
    metadata: MetadataStore, store: EventStore, project_id: int, distinct_id: str, *, limit: int = 50
) -> PersonDetail | None:
    """The person behind `distinct_id` in `project_id`, or None."""
    with metadata.session() as session:
        person_id = session.scalar(
            select(PersonDistinctId.person_id).where(
                PersonDistinctId.project_id == project_id, PersonDistinctId.distinct_id == distinct_id
            )
        )
        person = session.get(Person, person_id) if person_id else None
        if person is None or person.project_id != project_id:
            return None
        ids = sorted(
            session.scalars(
                select(PersonDistinctId.distinct_id).where(
                    PersonDistinctId.project_id == project_id, PersonDistinctId.person_id == person.id
                )
            )
        )
    query = (
        exp.select("uuid", "event", "distinct_id", "timestamp", "properties")
        .from_(project_events(project_id, store.dialect).subquery("ev"))
        .where(exp.EQ(this=exp.cast(exp.column("person_id"), "text"), expression=store.dialect.placeholder()))
        .order_by(exp.Ordered(this=exp.column("timestamp"), desc=True))
        .limit(max(1, min(limit, 1000)))
    )
    result = store.query(store.dialect.render(query), [person.id])
    events = [
        PersonEvent(uuid=r[0], event=r[1], distinct_id=r[2], timestamp=r[3], properties=orjson.loads(r[4]))
        for r in result.rows
    ]
    created = person.created_at if person.created_at.tzinfo else person.created_at.replace(tzinfo=dt.UTC)
    return PersonDetail(
        id=person.id,
        created_at=created,
        is_identified=person.is_identified,
        properties=dict(person.properties or {}),
        distinct_ids=ids,
        recent_events=events,
    )
