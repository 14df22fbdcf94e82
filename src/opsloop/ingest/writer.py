"""The one path into the events store: resolve persons, then append events as one Arrow batch."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from opsloop.ingest.events import CapturedEvent
from opsloop.ingest.identity import Link, PersonOp, PersonRegistry, Seen, SetProperties
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Group
from opsloop.store.schema import EVENTS_SCHEMA, PROMOTED_PROPERTIES
from opsloop.store.staging import Stager

log = logging.getLogger("opsloop.ingest")


@dataclass(frozen=True)
class WriteResult:
    """How many events a write stored and how many it recognised as already stored."""

    stored: int
    duplicates: int


def identity_ops(event: CapturedEvent) -> list[PersonOp]:
    """The identity operations one event implies, in the order they apply."""
    ops: list[PersonOp] = []
    props = event.properties
    if event.event == "$identify":
        anon = props.get("$anon_distinct_id")
        if isinstance(anon, str | int) and str(anon).strip():
            ops.append(Link("identify", event.distinct_id, str(anon).strip(), event.timestamp_us))
    elif event.event == "$create_alias":
        alias = props.get("alias")
        if isinstance(alias, str | int) and str(alias).strip():
            ops.append(Link("alias", event.distinct_id, str(alias).strip(), event.timestamp_us))
    ops.append(Seen(event.distinct_id, event.timestamp_us))
    if event.set or event.set_once:
        ops.append(SetProperties(event.distinct_id, event.set, event.set_once))
    return ops


class EventWriter:
    """Turns captured events into stored events and person changes."""

    def __init__(self, metadata: MetadataStore, store: EventStore, *, dedup_window: dt.timedelta) -> None:
        self.metadata = metadata
        self.store = store
        self.persons = PersonRegistry(metadata, store)
        self.dedup_window = dedup_window

    def write(self, events: Sequence[CapturedEvent]) -> WriteResult:
        """Store events (any projects, in arrival order); safe to call again with the same events."""
        by_project: dict[int, list[CapturedEvent]] = defaultdict(list)
        for event in events:
            by_project[event.project_id].append(event)
        stored = 0
        for project_id, project_events in by_project.items():
            ops = [op for event in project_events for op in identity_ops(event)]
            person_ids = self.persons.apply(project_id, ops)
            self._apply_groups(project_id, project_events)
            stored += self.store.insert_events(self._to_arrow(project_events, person_ids), self.dedup_window)
        return WriteResult(stored=stored, duplicates=len(events) - stored)

    def write_staged(self, project_id: int, valid: pa.Table, stager: Stager, now: dt.datetime) -> WriteResult:
        """Store a staged import batch: persons resolved in bulk, per-row work only for identity rows."""
        if valid.num_rows == 0:
            return WriteResult(stored=0, duplicates=0)
        first = stager.first_seen(valid)
        ops: list[PersonOp] = [
            Seen(did, ts)
            for did, ts in zip(
                first.column("distinct_id").to_pylist(), first.column("ts").to_pylist(), strict=True
            )
        ]
        special_mask = pc.or_(
            pc.is_in(valid.column("event"), pa.array(list(_IDENTITY_EVENTS))),
            pc.or_(pc.is_valid(valid.column("set")), pc.is_valid(valid.column("set_once"))),
        )
        special: list[CapturedEvent] = []
        for row in valid.filter(special_mask).to_pylist():
            event = CapturedEvent(
                project_id=project_id,
                uuid=row["uuid"],
                event=row["event"],
                distinct_id=row["distinct_id"],
                timestamp_us=int(row["timestamp"].timestamp() * 1_000_000),
                properties=orjson.loads(row["properties"]),
                set=orjson.loads(row["set"]) if row["set"] else None,
                set_once=orjson.loads(row["set_once"]) if row["set_once"] else None,
            )
            special.append(event)
            ops.extend(identity_ops(event))
        person_ids = self.persons.apply(project_id, ops)
        self._apply_groups(project_id, special)
        persons = pa.table(
            {
                "distinct_id": pa.array(list(person_ids), pa.string()),
                "person_id": pa.array(list(person_ids.values()), pa.string()),
            }
        )
        table = stager.to_events(valid, persons, project_id, now)
        stored = self.store.insert_events(table, self.dedup_window)
        return WriteResult(stored=stored, duplicates=valid.num_rows - stored)

    @staticmethod
    def _to_arrow(events: Sequence[CapturedEvent], person_ids: dict[str, str]) -> pa.Table:
        now_us = int(dt.datetime.now(dt.UTC).timestamp() * 1_000_000)
        session_key = next(k for k, v in PROMOTED_PROPERTIES.items() if v == "session_id")
        columns: dict[str, list[Any]] = {
            "uuid": [e.uuid for e in events],
            "project_id": [e.project_id for e in events],
            "event": [e.event for e in events],
            "distinct_id": [e.distinct_id for e in events],
            "person_id": [person_ids[e.distinct_id] for e in events],
            "timestamp": [e.timestamp_us for e in events],
            "properties": [orjson.dumps(e.properties).decode() for e in events],
            "session_id": [_as_text(e.properties.get(session_key)) for e in events],
            "inserted_at": [now_us] * len(events),
        }
        return pa.Table.from_pydict(
            {
                name: pa.array(columns[name], type=EVENTS_SCHEMA.field(name).type)
                for name in EVENTS_SCHEMA.names
            },
            schema=EVENTS_SCHEMA,
        )

    def _apply_groups(self, project_id: int, events: Sequence[CapturedEvent]) -> None:
        """`$groupidentify` sets properties on a group (company, team...)."""
        updates = [e.properties for e in events if e.event == "$groupidentify"]
        if not updates:
            return
        with self.metadata.session() as session, session.begin():
            for props in updates:
                group_type, group_key = props.get("$group_type"), props.get("$group_key")
                if not isinstance(group_type, str) or group_key is None:
                    continue
                group_set = props.get("$group_set") if isinstance(props.get("$group_set"), dict) else {}
                group = session.scalar(
                    select(Group).where(
                        Group.project_id == project_id,
                        Group.group_type == group_type,
                        Group.group_key == str(group_key),
                    )
                )
                if group is None:
                    session.add(
                        Group(
                            project_id=project_id,
                            group_type=group_type,
                            group_key=str(group_key),
                            properties=dict(group_set),
                        )
                    )
                else:
                    group.properties = {**group.properties, **group_set}


_IDENTITY_EVENTS = ("$identify", "$create_alias", "$groupidentify")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
