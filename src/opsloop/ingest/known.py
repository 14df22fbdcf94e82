"""Known persons: the identity registry's decisions kept as Arrow arrays, so batches find persons without Python loops.

A batch's distinct ids are looked up all at once: a sorted index of 64-bit hashes finds candidates with
`numpy.searchsorted`, and every candidate is confirmed by comparing the ids themselves, so a hash collision
can only make an id look unseen (the registry then resolves it), never give it a wrong person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.store.schema import uuid_values
from opsloop.store.staging import text_hashes

#: Past this many ids in all projects, the map starts again empty (ids then go through the registry).
KNOWN_LIMIT = 5_000_000


def id_hashes(ids: pa.Array) -> np.ndarray:
    """A 64-bit hash of each (non-null) text value: DuckDB's `hash`, which staging computes for every row of an
    import batch as it shapes it (`_did_hash`), so the import thread that looks persons up need not."""
    return text_hashes(ids)


@dataclass
class _ProjectIds:
    """One project's ids, their persons, and the sorted hash index over them."""

    ids: pa.Array = field(default_factory=lambda: pa.array([], pa.string()))
    persons: pa.Array = field(default_factory=lambda: pa.array([], pa.uuid()))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # sorted
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # position of each hash's id

    def lookup(self, ids: pa.Array, hashes: np.ndarray) -> pa.Array:
        """The person of each of `ids` (Arrow UUIDs), null where unknown."""
        n = len(ids)
        if not len(self.hashes) or not n:
            return pa.nulls(n, pa.uuid())
        # Searching in hash order walks the index once, in step, instead of jumping around it: for a batch's
        # worth of ids, sorting them first and searching costs a fifth of searching them as they come.
        order = np.argsort(hashes)
        at = np.empty(n, np.int64)
        at[order] = np.searchsorted(self.hashes, hashes[order])
        np.minimum(at, len(self.hashes) - 1, out=at)
        candidates = self.slots[at]
        found = self.hashes[at] == hashes
        # Same hash, so probably the same id: confirm (ids with the same hash as another are rare enough
        # that only the first in the index is tried; the others are found as unseen).
        found &= pc.equal(self.ids.take(pa.array(candidates)), ids).to_numpy(zero_copy_only=False)
        return self.persons.take(pa.array(candidates, mask=~found))

    def update(self, ids: pa.Array, persons: pa.Array, hashes: np.ndarray | None = None) -> None:
        """Record `ids` (unique) -> `persons`, replacing what was known for them (`hashes`: their `id_hashes`)."""
        hashes = id_hashes(ids) if hashes is None else hashes
        known = self.lookup(ids, hashes)
        if known.null_count < len(known):  # keep only what is new or moved
            change = pc.invert(pc.fill_null(pc.equal(known.storage, persons.storage), False))
            moved = ids.filter(pc.and_(change, pc.is_valid(known)))
            ids, persons = ids.filter(change), persons.filter(change)
            hashes = hashes[change.to_numpy(zero_copy_only=False)]
            if len(moved):  # their old entries go
                self._drop(moved)
        if len(ids):
            self._insert(ids, persons, hashes)

    def _drop(self, ids: pa.Array) -> None:
        keep = pc.invert(pc.is_in(self.ids, ids))
        self.ids, self.persons = self.ids.filter(keep), self.persons.filter(keep)
        hashes = id_hashes(self.ids)
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.slots = hashes[order], order.astype(np.int64)

    def _insert(self, ids: pa.Array, persons: pa.Array, hashes: np.ndarray) -> None:
        base = len(self.ids)
        order = np.argsort(hashes, kind="stable")
        new_hashes, new_slots = hashes[order], order.astype(np.int64) + base
        at = np.searchsorted(self.hashes, new_hashes)
        self.hashes = np.insert(self.hashes, at, new_hashes)
        self.slots = np.insert(self.slots, at, new_slots)
        self.ids = pa.concat_arrays([self.ids, ids.cast(pa.string())])
        self.persons = pa.concat_arrays([self.persons, persons])


class KnownPersons:
    """Distinct id -> person decisions of the identity registry, so that batches attach persons in bulk and
    only unseen ids (and identity rows) go through the registry."""

    def __init__(self, limit: int = KNOWN_LIMIT) -> None:
        self._limit = limit
        self._projects: dict[int, _ProjectIds] = {}
        self._generation: int | None = None
        self._size = 0

    def sync(self, generation: int) -> None:
        """Forget everything when the registry's cache was reset (its generation moved) or the map is full."""
        if generation != self._generation or self._size > self._limit:
            self._projects.clear()
            self._generation = generation
            self._size = 0

    def lookup(self, project_id: int, ids: pa.Array, hashes: np.ndarray | None = None) -> pa.Array:
        """The known person (an Arrow UUID) of each of `ids` (no nulls; repeats allowed), in their order; null
        if unseen. `hashes` are the ids' `id_hashes`, when the caller has them already."""
        known = self._projects.get(project_id)
        if known is None:
            return pa.nulls(len(ids), pa.uuid())
        return known.lookup(ids, id_hashes(ids) if hashes is None else hashes)

    def remember(self, project_id: int, decided: dict[str, str]) -> None:
        """Record the registry's decisions for a batch (new ids, moved ids, ids it touched)."""
        if decided:
            self.remember_arrays(project_id, pa.array(list(decided), pa.string()), uuid_values(list(decided.values())))

    def remember_arrays(
        self, project_id: int, ids: pa.Array, persons: pa.Array, hashes: np.ndarray | None = None
    ) -> None:
        """`remember` for decisions given as arrays: `ids` (unique), their persons (Arrow UUIDs), and their
        `id_hashes` when the caller has them."""
        if len(ids):
            self._projects.setdefault(project_id, _ProjectIds()).update(ids, persons, hashes)
            self._size += len(ids)
