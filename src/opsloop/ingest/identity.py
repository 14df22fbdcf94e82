"""Identity: map distinct ids to persons, merge them on identify / alias, apply `$set` / `$set_once`.

The metadata store holds the truth; every change is mirrored into the events store's replica tables so
that queries count persons, not raw ids. Merges never rewrite events: each merge is recorded in
`person_overrides` (merged-away person -> the person it is part of now), and queries resolve an event's
person through it, so events sent before a merge count for the merged person.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from opsloop.ingest.events import MAX_BLOCK_EVENTS, new_uuid, new_uuid_block
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore, bulk_insert
from opsloop.store.models import Person, PersonDistinctId
from opsloop.store.schema import DISTINCT_IDS_SCHEMA, OVERRIDES_SCHEMA, PERSONS_SCHEMA, uuid_text, uuid_values

log = logging.getLogger("opsloop.identity")

_CHUNK = 500
#: Operations applied and persisted together (see `PersonRegistry._apply_in_parts`).
_OPS_PER_PART = 20_000
_CACHE_LIMIT = 2_000_000
#: Past this many unknown ids in one batch, loading the project's whole map is cheaper than looking them up.
_BULK_LOAD_MISSES = 5_000


@dataclass(frozen=True, slots=True)
class Seen:
    """A distinct id was seen on an event at `timestamp_us`."""

    distinct_id: str
    timestamp_us: int


@dataclass(frozen=True, slots=True)
class Link:
    """`identify` (anonymous `other` becomes `distinct_id`) or `alias` (`other` is another name for it)."""

    kind: Literal["identify", "alias"]
    distinct_id: str
    other: str
    timestamp_us: int


@dataclass(frozen=True, slots=True)
class SetProperties:
    """`$set` / `$set_once` on the person behind `distinct_id`."""

    distinct_id: str
    set: dict[str, Any] | None
    set_once: dict[str, Any] | None


PersonOp = Seen | Link | SetProperties


@dataclass(frozen=True)
class ReplicaRows:
    """One batch's person changes for the events store's replica tables (`PERSONS_SCHEMA`, ...)."""

    persons: pa.Table
    distinct_ids: pa.Table
    #: Persons merged into others (`OVERRIDES_SCHEMA`), in merge order; `record_merges` follows chains.
    merges: pa.Table = field(default_factory=OVERRIDES_SCHEMA.empty_table)

    def write(self, store: EventStore) -> None:
        """Upsert the rows into `store` (the latest version of each key wins)."""
        store.upsert_persons(self.persons)
        store.upsert_distinct_ids(self.distinct_ids)
        store.record_merges(self.merges)


@dataclass(slots=True)
class _PersonState:
    id: str
    properties: dict[str, Any]
    is_identified: bool
    created_at: dt.datetime
    is_new: bool = False


@dataclass
class _Batch:
    """The identity changes of one batch, applied to both stores together by `_persist`."""

    project_id: int
    ids: dict[str, str] = field(default_factory=dict)  # distinct id -> person id, for this batch
    persons: dict[str, _PersonState] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    new_ids: set[str] = field(default_factory=set)
    moved_ids: set[str] = field(default_factory=set)
    #: Merged-away person id -> the person it was merged into, in merge order (the store follows chains).
    merged: dict[str, str] = field(default_factory=dict)
    #: Person id -> its distinct ids in `ids`; built at the first merge (most batches have none).
    members: dict[str, set[str]] | None = None

    def point(self, distinct_id: str, person_id: str) -> None:
        """Map a distinct id to a person, keeping the reverse index (once there is one) in step."""
        previous = self.ids.get(distinct_id)
        self.ids[distinct_id] = person_id
        if self.members is not None:
            if previous is not None:
                self.members.get(previous, set()).discard(distinct_id)
            self.members.setdefault(person_id, set()).add(distinct_id)

    def members_of(self, person_id: str) -> set[str]:
        """The distinct ids of this batch that point at `person_id`."""
        if self.members is None:
            self.members = {}
            for did, pid in self.ids.items():
                self.members.setdefault(pid, set()).add(did)
        return self.members.get(person_id, set())


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PERSONS = cast(Table, Person.__table__)
_DISTINCT_IDS = cast(Table, PersonDistinctId.__table__)
_TIMESTAMP_US = pa.timestamp("us", tz="UTC")
#: Stands for "no person" among stored ones (its rows are replaced by new persons).
_NIL = "00000000-0000-0000-0000-000000000000"


def _utc_datetimes(times: pa.Array) -> list[dt.datetime]:
    """Arrow UTC timestamps (microseconds, no nulls) as aware datetimes, 3-4x faster than `to_pylist`."""
    naive = times.cast(pa.int64()).to_numpy().astype("datetime64[us]").astype(object)
    return [value.replace(tzinfo=dt.UTC) for value in naive]


def _new_person_ids(count: int) -> pa.Array:
    """`count` new person ids (Arrow UUIDs), consecutive within uuid blocks, without a Python object each."""
    raw = np.empty((count, 16), dtype=np.uint8)
    for start in range(0, count, MAX_BLOCK_EVENTS):
        prefix, first = new_uuid_block()
        n = min(MAX_BLOCK_EVENTS, count - start)
        raw[start : start + n, :10] = np.frombuffer(bytes.fromhex(prefix.replace("-", "")), dtype=np.uint8)
        # The last 12 hex digits are the block's counter plus the index: the low 6 bytes, big-endian.
        low = np.arange(first, first + n, dtype=">u8").view(np.uint8).reshape(n, 8)
        raw[start : start + n, 10:] = low[:, 2:]
    storage = pa.Array.from_buffers(pa.binary(16), count, [None, pa.py_buffer(raw.tobytes())])
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


def _new_person_rows(
    project_id: int, names: pa.Array, persons: pa.Array, created_at: pa.Array, version: int
) -> ReplicaRows:
    """Replica rows of new persons without properties, each with one distinct id (`names`, `persons` as text)."""
    n = len(names)
    project = pa.nulls(n, pa.int64()).fill_null(project_id)
    versions = pa.nulls(n, pa.int64()).fill_null(version)
    no = pa.nulls(n, pa.bool_()).fill_null(False)
    return ReplicaRows(
        persons=pa.table(
            [project, persons, created_at, pa.nulls(n, pa.string()).fill_null("{}"), no, no, versions],
            schema=PERSONS_SCHEMA,
        ),
        distinct_ids=pa.table([project, names.cast(pa.string()), persons, no, versions], schema=DISTINCT_IDS_SCHEMA),
    )


#: The properties of every new person without any, shared so that storing them converts `{}` once.
_NO_PROPERTIES: dict[str, Any] = {}


#: Batches currently applied with the cyclic collector held off by this module (0: it is not held off by us).
_gc_pauses = 0
_gc_pauses_lock = threading.Lock()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a batch is applied.

    A batch of new ids allocates hundreds of thousands of small objects that form no reference cycles;
    the collector's passes over them (and over everything already alive) took a fifth of the time. It is
    switched on again when the last overlapping batch ends, and left alone if someone else switched it off.
    """
    global _gc_pauses
    with _gc_pauses_lock:
        owned = _gc_pauses > 0 or gc.isenabled()
        if owned:
            gc.disable()
            _gc_pauses += 1
    try:
        yield
    finally:
        if owned:
            with _gc_pauses_lock:
                _gc_pauses -= 1
                if _gc_pauses == 0:
                    gc.enable()


class PersonRegistry:
    """Applies identity operations in order, one batch at a time, from a single writer thread."""

    def __init__(self, metadata: MetadataStore, store: EventStore) -> None:
        self.metadata = metadata
        self.store = store
        self._cache: dict[tuple[int, str], str] = {}
        # Projects whose whole id map is in `_cache`: a miss there means "new id", no query needed. This
        # holds because this registry is the only writer of the map; an integrity error resets it.
        self._complete: set[int] = set()
        #: Moves whenever cached mappings are dropped, so copies of them (staging's known ids) are dropped too.
        self.generation = 0
        self._version = 0
        self._lock = threading.Lock()

    def _next_version(self) -> int:
        # Monotonic across restarts too (clock-based), which ReplacingMergeTree needs to keep the latest row.
        self._version = max(self._version + 1, time.time_ns() // 1000)
        return self._version

    def apply(self, project_id: int, ops: Sequence[PersonOp]) -> dict[str, str]:
        """Apply `ops` in order and persist them; returns the person id of every distinct id involved."""
        with self._lock:
            ids, replicas = self._apply_in_parts(project_id, ops)
            for rows in replicas:
                rows.write(self.store)
        return ids

    def apply_deferred(self, project_id: int, ops: Sequence[PersonOp]) -> tuple[dict[str, str], list[ReplicaRows]]:
        """`apply`, persisting to the metadata store only; the caller writes the replica rows to the events
        store, in this order, before the batch's events and before the next batch's replica rows (a bulk
        import does it on the thread that stores its events, so that this one can go on with the next batch)."""
        with self._lock:
            return self._apply_in_parts(project_id, ops)

    def add_seen(self, project_id: int, names: pa.Array, first_seen: pa.Array) -> tuple[pa.Array, ReplicaRows | None]:
        """`Seen` for many distinct ids at once: `names` (unique), each first seen at `first_seen`.

        Returns the person of each name (Arrow UUIDs) and the replica rows of the persons it created, which
        the caller writes as with `apply_deferred`. Ids that have no person get a new one each, created in
        bulk, without a Python object per person: a file's first batches can hold hundreds of thousands.
        """
        with self._lock:
            try:
                return self._add_seen(project_id, names, first_seen)
            except IntegrityError:
                log.warning("identity cache was stale for project %s; reloading", project_id)
                self._forget(project_id)
                return self._add_seen(project_id, names, first_seen)

    def _add_seen(self, project_id: int, names: pa.Array, first_seen: pa.Array) -> tuple[pa.Array, ReplicaRows | None]:
        with _cyclic_gc_paused():
            dids: list[str] = names.to_pylist()
            batch = _Batch(project_id)
            self._load_ids(batch, set(dids))
            had = batch.ids
            is_new = np.fromiter((did not in had for did in dids), dtype=bool, count=len(dids))
            fresh = pa.array(is_new)
            # Consecutive person ids in distinct-id order: both indexes of the stored map then grow at their end.
            new_names = names.filter(fresh)
            order = pc.sort_indices(new_names)
            new_names = new_names.take(order)
            created_at = first_seen.filter(fresh).take(order).cast(_TIMESTAMP_US)
            new_persons = _new_person_ids(len(new_names))
            if len(new_names):
                version = self._next_version()
                person_texts = uuid_text(new_persons)
                new_dids: list[str] = new_names.to_pylist()
                new_pids: list[str] = person_texts.to_pylist()
                n = len(new_dids)
                with self.metadata.session() as session, session.begin():
                    bulk_insert(
                        session.connection(),
                        _PERSONS,
                        {
                            "id": new_pids,
                            "project_id": [project_id] * n,
                            "properties": [_NO_PROPERTIES] * n,
                            "is_identified": [False] * n,
                            "created_at": _utc_datetimes(created_at),
                            "version": [version] * n,
                        },
                    )
                    bulk_insert(
                        session.connection(),
                        _DISTINCT_IDS,
                        {
                            "project_id": [project_id] * n,
                            "distinct_id": new_dids,
                            "person_id": new_pids,
                            "version": [version] * n,
                        },
                    )
                self._remember(project_id, zip(new_dids, new_pids, strict=True))
                replicas: ReplicaRows | None = _new_person_rows(
                    project_id, new_names, person_texts, created_at, version
                )
            else:
                replicas = None
            # Each name's person: its stored one, else its new one (new names were taken in sorted order).
            stored = uuid_values([had.get(did, _NIL) for did in dids])
            slot = np.arange(len(dids), dtype=np.int64)
            slot[np.flatnonzero(is_new)[order.to_numpy()]] = len(dids) + np.arange(len(new_names), dtype=np.int64)
            persons = pa.concat_arrays([stored, new_persons]).take(pa.array(slot))
            return persons, replicas

    def _remember(self, project_id: int, pairs: Iterable[tuple[str, str]]) -> None:
        """Cache distinct id -> person pairs that are now stored."""
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
            self._complete.clear()
            self.generation += 1
        self._cache.update(((project_id, did), pid) for did, pid in pairs)

    def _apply_in_parts(self, project_id: int, ops: Sequence[PersonOp]) -> tuple[dict[str, str], list[ReplicaRows]]:
        """Apply `ops` in parts of `_OPS_PER_PART`, each persisted in its own transaction, in order.

        A part's working state (a few hundred bytes per new person) is what bounds memory here, and a
        file's first batch can be all new ids.
        """
        ids: dict[str, str] = {}
        replicas: list[ReplicaRows] = []
        for start in range(0, len(ops), _OPS_PER_PART):
            part_ids, part_replicas = self._apply_once_more_if_stale(project_id, ops[start : start + _OPS_PER_PART])
            ids.update(part_ids)
            if part_replicas is not None:
                replicas.append(part_replicas)
        return ids, replicas

    def _apply_once_more_if_stale(
        self, project_id: int, ops: Sequence[PersonOp]
    ) -> tuple[dict[str, str], ReplicaRows | None]:
        try:
            return self._apply(project_id, ops)
        except IntegrityError:
            # Another writer changed the map (e.g. an import beside a server on a shared database):
            # forget what we cached and redo the batch from the stored truth.
            log.warning("identity cache was stale for project %s; reloading", project_id)
            self._forget(project_id)
            return self._apply(project_id, ops)

    def _apply(self, project_id: int, ops: Sequence[PersonOp]) -> tuple[dict[str, str], ReplicaRows | None]:
        with _cyclic_gc_paused():
            return self._apply_batch(project_id, ops)

    def _apply_batch(self, project_id: int, ops: Sequence[PersonOp]) -> tuple[dict[str, str], ReplicaRows | None]:
        batch = _Batch(project_id)
        self._load_ids(batch, self._referenced(ops))
        for op in ops:
            if isinstance(op, Seen):
                self._person_for(batch, op.distinct_id, op.timestamp_us)
            elif isinstance(op, Link):
                self._link(batch, op)
            else:
                self._set(batch, op)
        return batch.ids, self._persist(batch)

    def _forget(self, project_id: int) -> None:
        self.generation += 1
        self._complete.discard(project_id)
        for key in [k for k in self._cache if k[0] == project_id]:
            del self._cache[key]

    @staticmethod
    def _referenced(ops: Iterable[PersonOp]) -> set[str]:
        ids: set[str] = set()
        for op in ops:
            ids.add(op.distinct_id)
            if isinstance(op, Link):
                ids.add(op.other)
        return ids

    def _load_ids(self, batch: _Batch, distinct_ids: set[str]) -> None:
        missing = []
        for did in distinct_ids:
            pid = self._cache.get((batch.project_id, did))
            if pid is None:
                missing.append(did)
            else:
                batch.point(did, pid)
        if not missing or batch.project_id in self._complete:
            return
        if len(missing) > _BULK_LOAD_MISSES and self._load_project(batch.project_id):
            for did in missing:
                pid = self._cache.get((batch.project_id, did))
                if pid is not None:
                    batch.point(did, pid)
            return
        with self.metadata.session() as session:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                rows = session.execute(
                    select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
                        PersonDistinctId.project_id == batch.project_id,
                        PersonDistinctId.distinct_id.in_(chunk),
                    )
                )
                for did, pid in rows:
                    batch.point(did, pid)

    def _load_project(self, project_id: int) -> bool:
        """Cache a project's whole id map with one streaming query (cheaper than many IN lists).

        Returns False, loading nothing, when the map alone is larger than the cache may grow.
        """
        with self.metadata.session() as session:
            count = (
                session.scalar(
                    select(func.count()).select_from(PersonDistinctId).where(PersonDistinctId.project_id == project_id)
                )
                or 0
            )
            if count > _CACHE_LIMIT:
                return False
            if count + len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
                self._complete.clear()
                self.generation += 1
            rows = session.execute(
                select(PersonDistinctId.distinct_id, PersonDistinctId.person_id)
                .where(PersonDistinctId.project_id == project_id)
                .execution_options(yield_per=50_000)
            )
            for did, pid in rows:
                self._cache[(project_id, did)] = pid
        self._complete.add(project_id)
        return True

    def _load_person(self, batch: _Batch, person_id: str) -> _PersonState:
        state = batch.persons.get(person_id)
        if state is None:
            with self.metadata.session() as session:
                row = session.get(Person, person_id)
            if row is None:  # the map points at a person that is gone: heal by recreating it
                state = _PersonState(person_id, {}, False, dt.datetime.now(dt.UTC), is_new=True)
                batch.changed.add(person_id)
            else:
                created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
                state = _PersonState(row.id, dict(row.properties or {}), row.is_identified, created)
            batch.persons[person_id] = state
        return state

    def _person_for(self, batch: _Batch, distinct_id: str, timestamp_us: int) -> str:
        pid = batch.ids.get(distinct_id)
        if pid is None:
            # A new person with one id: what `batch.point` records, written out (millions of calls).
            pid = new_uuid()
            batch.persons[pid] = _PersonState(pid, {}, False, _EPOCH + dt.timedelta(microseconds=timestamp_us), True)
            batch.changed.add(pid)
            batch.ids[distinct_id] = pid
            if batch.members is not None:
                batch.members[pid] = {distinct_id}
            batch.new_ids.add(distinct_id)
        return pid

    def _set(self, batch: _Batch, op: SetProperties) -> None:
        pid = batch.ids.get(op.distinct_id) or self._person_for(batch, op.distinct_id, time.time_ns() // 1000)
        state = self._load_person(batch, pid)
        before = dict(state.properties)
        if op.set_once:
            for key, value in op.set_once.items():
                state.properties.setdefault(key, value)
        if op.set:
            state.properties.update(op.set)
        if state.properties != before:
            batch.changed.add(pid)

    def _link(self, batch: _Batch, op: Link) -> None:
        if op.other == op.distinct_id:
            return
        main_pid = batch.ids.get(op.distinct_id)
        other_pid = batch.ids.get(op.other)
        if main_pid is None and other_pid is None:
            main_pid = self._person_for(batch, op.distinct_id, op.timestamp_us)
            self._assign(batch, op.other, main_pid)
        elif main_pid is None:
            assert other_pid is not None
            self._assign(batch, op.distinct_id, other_pid)
            main_pid = other_pid
        elif other_pid is None:
            self._assign(batch, op.other, main_pid)
        elif main_pid != other_pid:
            main = self._load_person(batch, main_pid)
            other = self._load_person(batch, other_pid)
            refuse = other.is_identified if op.kind == "identify" else (other.is_identified and main.is_identified)
            if refuse:
                log.info("refused to merge identified person %s into %s (%s)", other_pid, main_pid, op.kind)
                return
            self._merge(batch, other, main)
        state = self._load_person(batch, main_pid)
        if not state.is_identified:
            state.is_identified = True
            batch.changed.add(main_pid)

    def _assign(self, batch: _Batch, distinct_id: str, person_id: str) -> None:
        batch.point(distinct_id, person_id)
        batch.new_ids.add(distinct_id)

    def _merge(self, batch: _Batch, other: _PersonState, main: _PersonState) -> None:
        """Move every distinct id of `other` to `main`; `main`'s properties win, `other` fills the gaps."""
        stored: list[str] = []
        if not other.is_new:  # a person created in this batch has no stored ids yet
            with self.metadata.session() as session:
                stored = list(
                    session.scalars(
                        select(PersonDistinctId.distinct_id).where(
                            PersonDistinctId.project_id == batch.project_id,
                            PersonDistinctId.person_id == other.id,
                        )
                    )
                )
        moving = set(stored) | set(batch.members_of(other.id))
        for did in moving:
            batch.point(did, main.id)
            if did not in batch.new_ids:
                batch.moved_ids.add(did)
        for key, value in other.properties.items():
            main.properties.setdefault(key, value)
        main.created_at = min(main.created_at, other.created_at)
        main.is_identified = main.is_identified or other.is_identified
        batch.merged[other.id] = main.id
        batch.changed.add(main.id)
        batch.changed.discard(other.id)
        if other.is_new:
            batch.persons.pop(other.id, None)
        else:
            batch.deleted.add(other.id)

    def _persist(self, batch: _Batch) -> ReplicaRows | None:
        if not (batch.changed or batch.deleted or batch.new_ids or batch.moved_ids or batch.merged):
            return None
        project_id = batch.project_id
        version = self._next_version()
        new_persons = [batch.persons[p] for p in batch.changed if batch.persons[p].is_new]
        updated = [batch.persons[p] for p in batch.changed if not batch.persons[p].is_new]
        with self.metadata.session() as session, session.begin():
            if new_persons:
                bulk_insert(
                    session.connection(),
                    _PERSONS,
                    {
                        "id": [p.id for p in new_persons],
                        "project_id": [project_id] * len(new_persons),
                        "properties": [p.properties or _NO_PROPERTIES for p in new_persons],
                        "is_identified": [p.is_identified for p in new_persons],
                        "created_at": [p.created_at for p in new_persons],
                        "version": [version] * len(new_persons),
                    },
                )
            if updated:
                session.execute(
                    update(_PERSONS)
                    .where(_PERSONS.c.id == bindparam("pid"))
                    .values(
                        properties=bindparam("props"),
                        is_identified=bindparam("ident"),
                        created_at=bindparam("created"),
                        version=version,
                    ),
                    [
                        {
                            "pid": p.id,
                            "props": p.properties,
                            "ident": p.is_identified,
                            "created": p.created_at,
                        }
                        for p in updated
                    ],
                )
            if batch.new_ids:
                new_ids = sorted(batch.new_ids)  # in key order, the index's pages are each written once
                bulk_insert(
                    session.connection(),
                    _DISTINCT_IDS,
                    {
                        "project_id": [project_id] * len(new_ids),
                        "distinct_id": new_ids,
                        "person_id": [batch.ids[did] for did in new_ids],
                        "version": [version] * len(new_ids),
                    },
                )
            if batch.moved_ids:
                table = _DISTINCT_IDS
                session.execute(
                    update(table)
                    .where(table.c.project_id == project_id, table.c.distinct_id == bindparam("did"))
                    .values(person_id=bindparam("pid"), version=version),
                    [{"did": did, "pid": batch.ids[did]} for did in batch.moved_ids],
                )
            if batch.deleted:
                session.execute(delete(Person).where(Person.id.in_(list(batch.deleted))))
        self._remember(project_id, batch.ids.items())
        return self._replica_rows(batch, version)

    def _replica_rows(self, batch: _Batch, version: int) -> ReplicaRows:
        """The batch's person changes as rows of the events store's replica tables."""
        changed = [batch.persons[pid] for pid in batch.changed]
        deleted = list(batch.deleted)
        n = len(changed) + len(deleted)
        persons = {
            "project_id": pa.nulls(n, pa.int64()).fill_null(batch.project_id),
            "id": [p.id for p in changed] + deleted,
            "created_at": [p.created_at for p in changed] + [_EPOCH] * len(deleted),
            "properties": [orjson.dumps(p.properties).decode() if p.properties else "{}" for p in changed]
            + ["{}"] * len(deleted),
            "is_identified": [p.is_identified for p in changed] + [False] * len(deleted),
            "is_deleted": [False] * len(changed) + [True] * len(deleted),
            "version": pa.nulls(n, pa.int64()).fill_null(version),
        }
        ids = list(batch.new_ids | batch.moved_ids)
        distinct_ids = {
            "project_id": pa.nulls(len(ids), pa.int64()).fill_null(batch.project_id),
            "distinct_id": ids,
            "person_id": [batch.ids[did] for did in ids],
            "is_deleted": pa.nulls(len(ids), pa.bool_()).fill_null(False),
            "version": pa.nulls(len(ids), pa.int64()).fill_null(version),
        }
        merged = batch.merged
        merges = {
            "project_id": pa.nulls(len(merged), pa.int64()).fill_null(batch.project_id),
            "old_person_id": list(merged),
            "person_id": list(merged.values()),
            "version": pa.nulls(len(merged), pa.int64()).fill_null(version),
        }
        return ReplicaRows(
            persons=pa.table(persons, schema=PERSONS_SCHEMA),
            distinct_ids=pa.table(distinct_ids, schema=DISTINCT_IDS_SCHEMA),
            merges=pa.table(merges, schema=OVERRIDES_SCHEMA),
        )
