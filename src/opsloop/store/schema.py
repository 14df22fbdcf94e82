"""The events-store schema, shared by every engine: column names and the Arrow batches written to them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The property promoted to the `session_id` column (sessions are grouped on it constantly).
SESSION_PROPERTY = "$session_id"

#: One stored event. `person_id` is the person at ingestion time; queries resolve merges through
#: `person_overrides` (see `store.relations`), so it never needs rewriting.
EVENTS_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("project_id", pa.int64()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("person_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("session_id", pa.string()),
        ("inserted_at", pa.timestamp("us", tz="UTC")),
    ]
)

#: Columns of `EVENTS_SCHEMA` that hold UUIDs. A batch may carry them as Arrow UUIDs (`pa.uuid()`, 16 bytes)
#: rather than text, and `properties` as Arrow JSON (`pa.json_()`, text already checked to be a JSON object):
#: the DuckDB store takes those as they are, without parsing; other stores turn them into text first.
UUID_COLUMNS = ("uuid", "person_id")
#: The two hex digits of each byte value, as the little-endian pair of characters that a uint16 holds.
_HEX_PAIRS = np.array([ord(f"{b:02x}"[0]) | ord(f"{b:02x}"[1]) << 8 for b in range(256)], dtype="<u2")
#: (start in the text, start in the digits, length) of the five dash-separated groups of a UUID's text.
_GROUPS = ((0, 0, 8), (9, 8, 4), (14, 12, 4), (19, 16, 4), (24, 20, 12))
_DASHES = [8, 13, 18, 23]
#: The value of each lower-case hex digit character; 255 for any other byte.
_NIBBLES = np.full(256, 255, dtype=np.uint8)
_NIBBLES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def uuid_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Arrow UUIDs as canonical lower-case text (`8-4-4-4-12` hex digits), without a Python loop."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    storage = array.storage if isinstance(array, pa.ExtensionArray) else array
    n = len(storage)
    raw = np.frombuffer(storage.buffers()[1], dtype=np.uint8, count=16 * n, offset=16 * storage.offset)
    digits = _HEX_PAIRS[raw].view(np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for at, start, length in _GROUPS:
        text[:, at : at + length] = digits[:, start : start + length]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    strings = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    if storage.null_count:
        return pc.if_else(pc.is_valid(storage), strings, pa.scalar(None, pa.string()))
    return strings


def uuid_values(texts: Sequence[str]) -> pa.Array:
    """UUID texts as Arrow UUIDs: canonical ones (lower-case `8-4-4-4-12`) at once, others parsed one by one."""
    n = len(texts)
    joined = "".join(texts).encode("ascii", "replace")
    chars = np.frombuffer(joined, dtype=np.uint8)
    if len(chars) == 36 * n:
        chars = chars.reshape(n, 36)
        digits = np.concatenate([chars[:, at : at + length] for at, _, length in _GROUPS], axis=1)
        nibbles = _NIBBLES[digits]
        if (chars[:, _DASHES] == ord("-")).all() and (nibbles < 16).all():
            raw = (nibbles[:, 0::2] << 4 | nibbles[:, 1::2]).astype(np.uint8)
            storage = pa.Array.from_buffers(pa.binary(16), n, [None, pa.py_buffer(raw.tobytes())])
            return pa.ExtensionArray.from_storage(pa.uuid(), storage)
    return pa.array([uuid.UUID(text).bytes for text in texts], pa.uuid())


def with_text_uuids(batch: pa.Table) -> pa.Table:
    """`batch` with Arrow UUIDs and Arrow JSON (see `UUID_COLUMNS`) as text, the form `EVENTS_SCHEMA` names."""
    for name in UUID_COLUMNS:
        if name in batch.schema.names and pa.types.is_fixed_size_binary(_storage_type(batch.schema.field(name).type)):
            batch = batch.set_column(batch.schema.get_field_index(name), name, uuid_text(batch.column(name)))
    if "properties" in batch.schema.names and isinstance(batch.schema.field("properties").type, pa.JsonType):
        batch = batch.set_column(
            batch.schema.get_field_index("properties"), "properties", batch.column("properties").cast(pa.string())
        )
    return batch


def checked_json(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text already checked to be JSON, marked as Arrow JSON (no copy), so that a store need not parse it."""
    return pa.chunked_array(
        [pa.ExtensionArray.from_storage(pa.json_(), chunk.cast(pa.string())) for chunk in values.chunks],
        type=pa.json_(),
    )


def _storage_type(arrow_type: pa.DataType) -> pa.DataType:
    return arrow_type.storage_type if isinstance(arrow_type, pa.BaseExtensionType) else arrow_type


#: Replica of the metadata store's persons, kept in the events store so queries can join it.
PERSONS_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("is_identified", pa.bool_()),
        ("is_deleted", pa.bool_()),
        ("version", pa.int64()),
    ]
)

#: Replica of the distinct-id -> person map.
DISTINCT_IDS_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("distinct_id", pa.string()),
        ("person_id", pa.string()),
        ("is_deleted", pa.bool_()),
        ("version", pa.int64()),
    ]
)

#: Persons merged away: events stored with `old_person_id` belong to `person_id` now (the end of any chain of
#: merges). Derived from the merges identity makes (a merge moves every distinct id of a person, so all
#: events of a stored person belong to one person now). Analyses that aggregate per stored person resolve
#: their few result rows through it; the others join each event to it by its stored person.
OVERRIDES_SCHEMA = pa.schema(
    [
        ("project_id", pa.int64()),
        ("old_person_id", pa.string()),
        ("person_id", pa.string()),
        ("version", pa.int64()),
    ]
)


def merged_overrides(merges: pa.Table, pointing: pa.Table) -> pa.Table:
    """The override rows to write for `merges` (`OVERRIDES_SCHEMA`: each row a person merged into another,
    in the order they happened), given `pointing`: the stored overrides (project_id, old_person_id,
    person_id) whose target is one of the merged persons. Chains are followed to their end, so every row
    written names a person that has not been merged away; the newest version wins."""
    target: dict[tuple[int, str], str] = {}
    version: dict[tuple[int, str], int] = {}
    for row in merges.to_pylist():
        key = (row["project_id"], row["old_person_id"])
        target[key] = row["person_id"]
        version[key] = row["version"]

    def end(project: int, person: str) -> str:
        seen = {person}
        while (project, person) in target and target[(project, person)] not in seen:
            person = target[(project, person)]
            seen.add(person)
        return person

    newest = max(version.values(), default=0)
    rows = {key: end(key[0], key[1]) for key in target}
    for row in pointing.to_pylist():
        key = (row["project_id"], row["old_person_id"])
        if key not in rows:
            rows[key] = end(row["project_id"], row["person_id"])
            version[key] = newest
    kept = [(k, v) for k, v in rows.items() if k[1] != v]
    return pa.table(
        {
            "project_id": [k[0] for k, _ in kept],
            "old_person_id": [k[1] for k, _ in kept],
            "person_id": [v for _, v in kept],
            "version": [version[k] for k, _ in kept],
        },
        schema=OVERRIDES_SCHEMA,
    )
