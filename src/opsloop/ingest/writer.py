"""The one path into the events store: resolve persons, then append events as one Arrow batch."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from opsloop.ingest.events import CapturedEvent
from opsloop.ingest.identity import Link, PersonOp, PersonRegistry, ReplicaRows, Seen, SetProperties
from opsloop.ingest.known import KnownPersons, id_hashes
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Group
from opsloop.store.schema import EVENTS_SCHEMA, with_text_uuids
from opsloop.store.staging import Stager, to_events

log = logging.getLogger("opsloop.ingest")


@dataclass(frozen=True)
class ResolvedBatch:
    """A batch whose persons are decided: its events and its person replica rows, not yet written."""

    events: pa.Table
    replicas: list[ReplicaRows]


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
        self.known = KnownPersons()

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
        self, project_id: int, valid: pa.Table, now: dt.datetime, known: KnownPersons | None = None
    ) -> WriteResult:
        """Store a staged batch: persons resolved in bulk, per-row work only for identity rows."""
        resolved = self.resolve_persons(project_id, valid, now, known)
        self.write_replicas(resolved.replicas)
        events = resolved.events
        if "_fresh" in valid.column_names and events.num_rows and pc.all(valid.column("_fresh")).as_py():
            # Every uuid was minted by the server for this very write (clients that send none): none can be
            # stored yet, so the whole batch is appended without a probe or a look-up of which ones.
            stored = self.store.append_events(events)
        elif "_fresh" in valid.column_names and events.num_rows:
            # Uuids the server minted for this very write cannot be stored yet: no de-duplication probe.
            minted = valid.filter(valid.column("_fresh")).column("uuid")
            stored_uuids = with_text_uuids(events.select(["uuid"])).column("uuid")
            is_minted = pc.is_in(stored_uuids, value_set=minted)
            stored = self.store.append_events(events.filter(is_minted))
            stored += self.store_events(events.filter(pc.invert(is_minted)))
        else:
            stored = self.store_events(events)
        return WriteResult(stored=stored, duplicates=valid.num_rows - stored)

    def write_replicas(self, replicas: Sequence[ReplicaRows]) -> None:
        """Mirror a resolved batch's person changes into the events store (before its events), in order."""
        for rows in replicas:
            rows.write(self.store)

    def store_events(self, events: pa.Table, dedup_window: dt.timedelta | None = None) -> int:
        """Append events whose persons are resolved, skipping those already stored; returns how many were new.

        `dedup_window` narrows the default window where the caller knows better: uuids derived from their rows'
        contents, time included, can only repeat a stored event of the very same time (window zero).
        """
        window = self.dedup_window if dedup_window is None else dedup_window
        return self.store.insert_events(events, window) if events.num_rows else 0

    def resolve_persons(
        self, project_id: int, valid: pa.Table, now: dt.datetime, known: KnownPersons | None = None
    ) -> ResolvedBatch:
        """Apply a staged batch's identity changes (in row order) to the metadata store; its rows as events
        with person ids, and its replica rows, both still to be written (`write_replicas`, `store_events`).

        A bulk import writes batch N while it resolves batch N+1; every caller writes the batches in the
        order it resolved them.
        """
        known = known or self.known
        if valid.num_rows == 0:
            return ResolvedBatch(EVENTS_SCHEMA.empty_table(), [])
        known.sync(self.persons.generation)
        special, ops = _identity_rows(project_id, valid)
        # Each row's distinct id is looked up as it is (a batch repeats ids, but finding its distinct ones
        # first cost more than the lookups it saved); only rows whose id has no known person go further.
        ids = valid.column("distinct_id").combine_chunks()
        hashes = valid.column("_did_hash").to_numpy() if "_did_hash" in valid.column_names else id_hashes(ids)
        persons = known.lookup(project_id, ids, hashes)
        replicas: list[ReplicaRows] = []
        if persons.null_count:
            # Ids new to this batch are seen first, at their earliest time in it. Those that no identity row
            # names get a person each in bulk; the others go with the identity rows, whose merges may then
            # leave them without a person of their own.
            names, first_seen, name_hashes = _first_seen(ids, hashes, valid.column("timestamp"), pc.is_null(persons))
            named = _named_by(ops)
            alone = pc.invert(pc.is_in(names, value_set=named)) if len(named) else None
            bulk_names = names.filter(alone) if alone is not None else names
            if len(bulk_names):
                bulk_times = first_seen.filter(alone) if alone is not None else first_seen
                bulk_hashes = name_hashes[alone.to_numpy(zero_copy_only=False)] if alone is not None else name_hashes
                created, rows = self.persons.add_seen(project_id, bulk_names, bulk_times)
                known.remember_arrays(project_id, bulk_names, created, bulk_hashes)
                if rows is not None:
                    replicas.append(rows)
            if alone is not None:
                named_new = pc.invert(alone)
                first_ops: list[PersonOp] = [
                    Seen(did, ts)
                    for did, ts in zip(
                        names.filter(named_new).to_pylist(),
                        first_seen.filter(named_new).cast(pa.int64()).to_pylist(),
                        strict=True,
                    )
                ]
                ops = first_ops + ops
        if ops:
            decided, special_replicas = self.persons.apply_deferred(project_id, ops)
            known.remember(project_id, decided)
            replicas.extend(special_replicas)
        self._apply_groups(project_id, special)
        if persons.null_count or ops:  # every row's person after the batch's decisions (merges move ids)
            persons = known.lookup(project_id, ids, hashes)
        if persons.null_count:
            raise RuntimeError("an event's distinct id had no person: the identity cache is inconsistent")
        return ResolvedBatch(to_events(valid, project_id, persons, now), replicas)

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
                group_set = given if isinstance(given := props.get("$group_set"), dict) else {}
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


def _identity_rows(project_id: int, valid: pa.Table) -> tuple[list[CapturedEvent], list[PersonOp]]:
    """A batch's identity rows (`$identify`, `$set`...) in file / log order (`_row`), and their operations."""
    special_mask = pc.or_(
        pc.is_in(valid.column("event"), pa.array(sorted(_IDENTITY_EVENTS))),
        pc.or_(pc.is_valid(valid.column("set")), pc.is_valid(valid.column("set_once"))),
    )
    special: list[CapturedEvent] = []
    ops: list[PersonOp] = []
    if not pc.any(special_mask).as_py():
        return special, ops
    for row in valid.filter(special_mask).sort_by("_row").to_pylist():
        event = CapturedEvent(
            project_id,
            str(row["uuid"]),
            row["event"],
            row["distinct_id"],
            int(row["timestamp"].timestamp() * 1_000_000),
            orjson.loads(row["properties"]),
            orjson.loads(row["set"]) if row["set"] else None,
            orjson.loads(row["set_once"]) if row["set_once"] else None,
        )
        special.append(event)
        ops.extend(identity_ops(event))
    return special, ops


def _first_seen(
    ids: pa.Array, hashes: np.ndarray, times: pa.ChunkedArray, unseen: pa.Array
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """The distinct ids of the `unseen` rows, each once, with each one's earliest time in the batch
    (microseconds) and its hash (`id_hashes`)."""
    first = (
        pa.table(
            {
                "name": ids.filter(unseen),
                "h": pa.array(hashes).filter(unseen),
                "ts": times.cast(pa.timestamp("us", tz="UTC")).filter(unseen),
            }
        )
        .group_by(["name", "h"], use_threads=False)
        .aggregate([("ts", "min")])
    )
    return (
        first.column("name").combine_chunks(),
        first.column("ts_min").combine_chunks(),
        first.column("h").to_numpy(),
    )


def _named_by(ops: Sequence[PersonOp]) -> pa.Array:
    """Every distinct id that identity operations name."""
    named: set[str] = set()
    for op in ops:
        named.add(op.distinct_id)
        if isinstance(op, Link):
            named.add(op.other)
    return pa.array(sorted(named), pa.string())
