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

#: Past this many ids in all projects, the map starts again empty (ids then go through the registry).
KNOWN_LIMIT = 5_000_000
_P = np.uint64(0x100000001B3)  # odd, so invertible mod 2**64
_Q = np.uint64(pow(int(_P), -1, 2**64))
#: For each base, its inverse: cumprod gives base**1.., multiplied by this gives base**0..
_INVERSE = {int(_P): _Q, int(_Q): _P}
_POWER_TABLES: dict[int, np.ndarray] = {}


def id_hashes(ids: pa.Array) -> np.ndarray:
    """A 64-bit polynomial hash of each (non-null) text value, for all values at once.

    hash(s) = sum((s[i] + 1) * P**(len(s) - 1 - i)) mod 2**64, computed from one running sum over the
    Arrow data buffer: the sum of (b + 1) * Q**position over a value, times P**(its end - 1), where Q is
    P's inverse mod 2**64, no longer depends on where the value lies in the buffer.
    """
    ids = ids if pa.types.is_large_string(ids.type) else ids.cast(pa.large_string())
    n = len(ids)
    if not n:
        return np.zeros(0, np.uint64)
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64, count=n + 1, offset=8 * ids.offset)
    first, last = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8, count=last - first, offset=first).astype(np.uint64)
    ends = offsets[1:] - first
    with np.errstate(over="ignore"):
        running = np.zeros(len(data) + 1, dtype=np.uint64)
        np.cumsum((data + np.uint64(1)) * _powers(_Q, len(data)), out=running[1:])
        sums = running[ends] - running[offsets[:-1] - first]
        hashes: np.ndarray = sums * _powers(_P, len(data) + 1)[np.maximum(ends - 1, 0)]
    return hashes


def _powers(base: np.uint64, count: int) -> np.ndarray:
    """base**0 .. base**(count - 1) mod 2**64 (cached, grown by doubling)."""
    table = _POWER_TABLES.get(int(base))
    if table is None or len(table) < count:
        size = max(count, 2 * len(table) if table is not None else 1 << 16)
        with np.errstate(over="ignore"):
            table = np.cumprod(np.full(size, base, dtype=np.uint64)) * _INVERSE[int(base)]
        _POWER_TABLES[int(base)] = table
    return table[:count]


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

    def update(self, ids: pa.Array, persons: pa.Array) -> None:
        """Record `ids` (unique) -> `persons`, replacing what was known for them."""
        hashes = id_hashes(ids)
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

    def remember_arrays(self, project_id: int, ids: pa.Array, persons: pa.Array) -> None:
        """`remember` for decisions given as arrays: `ids` (unique) and their persons (Arrow UUIDs)."""
        if len(ids):
            self._projects.setdefault(project_id, _ProjectIds()).update(ids, persons)
            self._size += len(ids)
