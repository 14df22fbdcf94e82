"""The one path into the events store: resolve persons, then append events as one Arrow batch."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from opsloop.ingest.events import CapturedEvent
from opsloop.ingest.identity import Link, PersonOp, PersonRegistry, Seen, SetProperties
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Group
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
        # The live flusher runs beside the event loop: one staging thread leaves the other core to requests.
        self.stager = Stager(threads=1)

    def close(self) -> None:
        """Release the staging database."""
        self.stager.close()

    def write_log(self, payloads: list[bytes], *, replay: bool = False) -> WriteResult:
        """Store ingest-log records (any projects, in log order); safe to call again with the same records
        as long as `replay` says so (recovery, a retry after a failed write)."""
        rows = self.stager.unpack_log(payloads, replay=replay)
        stored = duplicates = 0
        now = dt.datetime.now(dt.UTC)
        projects = rows.column("project_id")
        for project_id in pc.unique(projects).to_pylist():
            valid = rows.filter(pc.equal(projects, project_id)).drop_columns(["project_id"])
            result = self.write_staged(project_id, valid, now)
            stored += result.stored
            duplicates += result.duplicates
        return WriteResult(stored=stored, duplicates=duplicates)

    def write_staged(
        self, project_id: int, valid: pa.Table, now: dt.datetime, stager: Stager | None = None
    ) -> WriteResult:
        """Store a staged batch: persons resolved in bulk, per-row work only for identity rows."""
        stager = stager or self.stager
        if valid.num_rows == 0:
            return WriteResult(stored=0, duplicates=0)
        stager.sync_known(self.persons.generation)
        first = stager.unseen_ids(valid, project_id)
        ops: list[PersonOp] = [
            Seen(did, ts)
            for did, ts in zip(first.column("distinct_id").to_pylist(), first.column("ts").to_pylist(), strict=True)
        ]
        special_mask = pc.or_(
            pc.is_in(valid.column("event"), pa.array(sorted(_IDENTITY_EVENTS))),
            pc.or_(pc.is_valid(valid.column("set")), pc.is_valid(valid.column("set_once"))),
        )
        special: list[CapturedEvent] = []
        # Identity rows apply in file / log order (`_row`); only they need sorting.
        for row in valid.filter(special_mask).sort_by("_row").to_pylist():
            event = CapturedEvent(
                project_id,
                row["uuid"],
                row["event"],
                row["distinct_id"],
                int(row["timestamp"].timestamp() * 1_000_000),
                orjson.loads(row["properties"]),
                orjson.loads(row["set"]) if row["set"] else None,
                orjson.loads(row["set_once"]) if row["set_once"] else None,
            )
            special.append(event)
            ops.extend(identity_ops(event))
        stager.remember(project_id, self.persons.apply(project_id, ops))
        self._apply_groups(project_id, special)
        stored = 0
        if "_fresh" in valid.column_names:
            # Uuids the server minted for this very write cannot be stored yet: no de-duplication probe.
            fresh = valid.column("_fresh")
            new = valid.filter(fresh)
            if new.num_rows:
                stored += self.store.append_events(stager.to_events(new, project_id, now))
            valid_checked = valid.filter(pc.invert(fresh))
        else:
            valid_checked = valid
        if valid_checked.num_rows:
            table = stager.to_events(valid_checked, project_id, now)
            stored += self.store.insert_events(table, self.dedup_window)
        return WriteResult(stored=stored, duplicates=valid.num_rows - stored)

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


_IDENTITY_EVENTS = frozenset({"$identify", "$create_alias", "$groupidentify"})
