"""The log write path: uuid blocks, first writes versus replays, and log order."""

from __future__ import annotations

import datetime as dt

import orjson

from opsloop.ingest.capture import parse_posthog
from opsloop.ingest.events import uuid_in_block
from opsloop.runtime import Runtime


def _record(project_id: int, events: list[dict[str, object]]) -> bytes:
    batch = parse_posthog(
        {"batch": events}, project_id, dt.datetime.now(dt.UTC), max_events=100, max_event_bytes=1 << 20, body_bytes=0
    )
    assert batch.errors == []
    return batch.record


def _stored(runtime: Runtime, project_id: int) -> list[tuple[str, str]]:
    rows = runtime.store.query(
        "SELECT CAST(uuid AS VARCHAR), event FROM events WHERE project_id = ? ORDER BY event", [project_id]
    ).rows
    return [(str(u), str(e)) for u, e in rows]


def test_events_without_uuid_get_their_block_uuid(runtime: Runtime) -> None:
    project_id = runtime.projects.create("blocks").project.id
    given = "0b7c3a52-64b1-4be4-9f43-2ad2a1c2f3e0"
    record = _record(
        project_id,
        [
            {"event": "a", "distinct_id": "d"},
            {"event": "b", "distinct_id": "d", "uuid": given.upper()},
            {"event": "c", "distinct_id": "d"},
        ],
    )
    decoded = orjson.loads(record)
    result = runtime.writer.write_log([record])
    assert (result.stored, result.duplicates) == (3, 0)
    # Index 0 and 2 had no uuid: they get the block's uuid at their index; index 1 keeps its own (canonical form).
    assert _stored(runtime, project_id) == [
        (uuid_in_block(decoded["u"], decoded["c"], 0), "a"),
        (given, "b"),
        (uuid_in_block(decoded["u"], decoded["c"], 2), "c"),
    ]


def test_two_requests_never_share_a_uuid(runtime: Runtime) -> None:
    project_id = runtime.projects.create("unique").project.id
    events = [{"event": "same", "distinct_id": "d"}] * 50
    records = [_record(project_id, events) for _ in range(20)]
    runtime.writer.write_log(records)
    uuids = [u for u, _ in _stored(runtime, project_id)]
    assert len(uuids) == len(set(uuids)) == 1000


def test_a_replay_stores_nothing_twice(runtime: Runtime) -> None:
    project_id = runtime.projects.create("replay").project.id
    first = _record(project_id, [{"event": "x", "distinct_id": "d"}, {"event": "y", "distinct_id": "e"}])
    second = _record(project_id, [{"event": "z", "distinct_id": "d"}])
    assert runtime.writer.write_log([first]).stored == 2
    # After a crash the log is replayed from the checkpoint: `first` again, `second` for the first time.
    replayed = runtime.writer.write_log([first, second], replay=True)
    assert (replayed.stored, replayed.duplicates) == (1, 2)
    assert [e for _, e in _stored(runtime, project_id)] == ["x", "y", "z"]


def test_identity_events_apply_in_log_order(runtime: Runtime) -> None:
    project_id = runtime.projects.create("order").project.id
    # Two records in one write: the later `$set` wins, whichever record holds more events.
    first = _record(
        project_id,
        [{"event": "e", "distinct_id": "u", "$set": {"plan": "free"}}] + [{"event": "n", "distinct_id": "u"}] * 30,
    )
    second = _record(project_id, [{"event": "e", "distinct_id": "u", "$set": {"plan": "pro"}}])
    runtime.writer.write_log([first, second])
    rows = runtime.store.query(
        "SELECT json_extract_string(properties, '$.plan') FROM persons WHERE project_id = ?", [project_id]
    ).rows
    assert rows == [["pro"]]
