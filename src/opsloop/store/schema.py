"""The events-store schema, shared by every engine: column names and the Arrow batches written to them."""

from __future__ import annotations

import pyarrow as pa

#: The property promoted to the `session_id` column (sessions are grouped on it constantly).
SESSION_PROPERTY = "$session_id"

#: One stored event. `person_id` is the person at ingestion time; queries resolve merges through
#: `person_distinct_ids` (see `store.relations`), so it never needs rewriting.
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
