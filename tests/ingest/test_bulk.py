"""Bulk import: the three formats, mapping, rejects with line numbers, idempotent re-runs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opsloop.config import Settings
from opsloop.ingest.bulk import ColumnMapping, ImportFailed, _aligned, import_file
from opsloop.runtime import Runtime


@pytest.fixture
def project_id(runtime: Runtime) -> int:
    return runtime.projects.create("bulk").project.id


def rows(runtime: Runtime, sql: str) -> list[list[object]]:
    return runtime.store.query(sql).rows


def test_csv_mapping_types_rejects_and_rerun(runtime: Runtime, project_id: int, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "user,event,ts,plan,revenue,note\n"
        'u1,signup,2026-11-01T10:00:00Z,pro,,"hello, world"\n'
        'u2,purchase,2026-11-02 11:00:00,free,9.99,"two\nlines"\n'  # one record over lines 3-4
        "u3,,2026-11-02T11:00:00Z,free,1,x\n"  # line 5: no event
        "u4,purchase,not-a-date,free,1,x\n"  # line 6: bad timestamp
        "u5,purchase,2026-11-03T11:00:00+08:00,free\n"  # line 7: too few fields
        "u6,view,2026-11-03T12:00:00Z,free,0012,y\n"
    )
    mapping = ColumnMapping.parse(["user=distinct_id", "ts=timestamp", "plan=$set.plan"])
    summary = import_file(runtime.writer, path, project_id, mapping=mapping)
    assert (summary.rows_read, summary.stored, summary.rejected) == (6, 3, 3)
    rejects = [json.loads(line) for line in Path(summary.rejects_path or "").read_text().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (5, "event is missing"),
        (6, "timestamp is missing or not a date-time"),
        (7, "expected 6 fields, found 4"),
    ]
    stored = rows(runtime, "select distinct_id, properties from events order by timestamp")
    # Numbers become numbers, but text with leading zeros stays text; empty cells are absent.
    assert [json.loads(p) for _, p in stored] == [
        {"note": "hello, world"},
        {"revenue": 9.99, "note": "two\nlines"},
        {"revenue": "0012", "note": "y"},
    ]
    assert sorted(r[0] for r in rows(runtime, "select properties->>'plan' from persons")) == [
        "free",
        "free",
        "pro",
    ]
    again = import_file(runtime.writer, path, project_id, mapping=mapping)
    assert (again.stored, again.duplicates) == (0, 3)
    assert again.previously_imported_at is not None
    assert rows(runtime, "select count(*) from events") == [[3]]


def test_jsonl_with_bad_lines_and_identity(runtime: Runtime, project_id: int, tmp_path: Path) -> None:
    lines = [
        {
            "event": "$pageview",
            "distinct_id": "anon",
            "timestamp": "2026-11-01T00:00:00Z",
            "properties": {"p": 1},
        },
        "{broken",
        {
            "event": "$identify",
            "distinct_id": "user",
            "timestamp": 1761955200,  # epoch seconds
            "properties": {"$anon_distinct_id": "anon"},
            "$set": {"email": "x@example.com"},
        },
        [1, 2],
        {
            "event": "buy",
            "distinct_id": "user",
            "timestamp": 1761955300000,
            "revenue": 5,
        },  # epoch ms; extra key
        {"event": "bad", "distinct_id": "user", "timestamp": "2026-11-01T00:00:00Z", "properties": [1]},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    summary = import_file(runtime.writer, path, project_id)
    assert (summary.stored, summary.rejected) == (3, 3)
    rejects = [json.loads(line) for line in Path(summary.rejects_path or "").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 4, 6]
    assert "JSON object" in rejects[2]["reason"]
    assert rows(runtime, "select count(distinct person_id) from events") == [[1]]
    assert rows(runtime, "select (properties->>'revenue')::int from events where event = 'buy'") == [[5]]
    assert rows(runtime, "select properties->>'email' from persons") == [["x@example.com"]]


def test_parquet_streams_in_batches_and_is_idempotent(runtime: Runtime, project_id: int, tmp_path: Path) -> None:
    n = 25_000
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    table = pa.table(
        {
            "event": pa.array(["e"] * n),
            "distinct_id": pa.array([f"d{i % 700}" for i in range(n)]),
            "timestamp": pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "properties": pa.array([json.dumps({"i": i}) for i in range(n)]),
            "ignored": pa.array(["x"] * n),
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    progress: list[int] = []
    summary = import_file(
        runtime.writer,
        path,
        project_id,
        batch_rows=4_000,
        mapping=ColumnMapping.parse(["ignored=-"]),
        on_progress=lambda done, total, unit: progress.append(done),
    )
    assert summary.stored == n and summary.rejected == 0
    assert progress[-1] == n and len(progress) == 7, "7 batches of at most 4,000 rows"
    assert rows(runtime, "select count(*), count(distinct person_id), max((properties->>'i')::int) from events") == [
        [n, 700, n - 1]
    ]
    assert rows(runtime, "select count(*) from events where properties->>'ignored' is not null") == [[0]]
    rerun = import_file(runtime.writer, path, project_id, batch_rows=4_000, mapping=ColumnMapping.parse(["ignored=-"]))
    assert (rerun.stored, rerun.duplicates) == (0, n)


def test_repeats_are_found_across_batches_by_time_window(
    runtime: Runtime, project_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 1 row, each stored on its own. A carried uuid repeated an hour later is the same event (the
    # 48-hour window); a row without one repeated exactly is one too (same derived uuid, same time); an hour
    # later it is another.
    events = [
        {"event": "a", "distinct_id": "d", "timestamp": "2026-11-01T00:00:00Z", "uuid": str(uuid.UUID(int=1))},
        {"event": "a", "distinct_id": "d", "timestamp": "2026-11-01T01:00:00Z", "uuid": str(uuid.UUID(int=1))},
        {"event": "b", "distinct_id": "d", "timestamp": "2026-11-01T00:00:00Z"},
        {"event": "b", "distinct_id": "d", "timestamp": "2026-11-01T00:00:00Z"},
        {"event": "b", "distinct_id": "d", "timestamp": "2026-11-01T01:00:00Z"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    monkeypatch.setattr(runtime.store.dialect, "bulk_insert_rows", 1)
    summary = import_file(runtime.writer, path, project_id, batch_rows=1)
    assert (summary.stored, summary.duplicates) == (3, 2)
    assert rows(runtime, "select event, count(*) from events group by 1 order by 1") == [["a", 1], ["b", 2]]


def test_unusable_files_and_mappings_fail_clearly(runtime: Runtime, project_id: int, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="does not exist"):
        import_file(runtime.writer, tmp_path / "missing.csv", project_id)
    odd = tmp_path / "events.xyz"
    odd.write_text("x")
    with pytest.raises(ImportFailed, match="--format"):
        import_file(runtime.writer, odd, project_id)
    with pytest.raises(ImportFailed, match="COLUMN=FIELD"):
        ColumnMapping.parse(["nonsense"])
    with pytest.raises(ImportFailed, match="FIELD must be"):
        ColumnMapping.parse(["a=somewhere"])
    no_event = tmp_path / "x.csv"
    no_event.write_text("distinct_id,timestamp\nd,2026-01-01\n")
    with pytest.raises(ValueError, match="no event column"):
        import_file(runtime.writer, no_event, project_id)


def test_identity_rows_apply_in_file_order_across_batches(runtime: Runtime, project_id: int, tmp_path: Path) -> None:
    # Batches of 2 rows: the anonymous id is seen in batch 1, identified in batch 2, seen again in batch 3.
    # Every row repeats in a later batch, so de-duplication must hold across batches too.
    events = [
        {"event": "view", "distinct_id": "anon", "timestamp": "2026-11-01T00:00:00Z"},
        {"event": "view", "distinct_id": "user", "timestamp": "2026-11-01T00:00:01Z"},
        {
            "event": "$identify",
            "distinct_id": "user",
            "timestamp": "2026-11-01T00:00:02Z",
            "properties": {"$anon_distinct_id": "anon"},
            "$set": {"plan": "pro"},
        },
        {"event": "view", "distinct_id": "anon", "timestamp": "2026-11-01T00:00:03Z"},
        {"event": "$set", "distinct_id": "anon", "timestamp": "2026-11-01T00:00:04Z", "$set": {"plan": "team"}},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events + events) + "\n")
    summary = import_file(runtime.writer, path, project_id, batch_rows=2)
    assert (summary.rows_read, summary.stored, summary.duplicates) == (10, 5, 5)
    # One person: anon was merged into user (events stored before the merge resolve to it through the id
    # map), and the later `$set` (file order) wins.
    resolved = (
        "select count(distinct coalesce(m.person_id, e.person_id)) from events e "
        "left join person_distinct_ids m on m.distinct_id = e.distinct_id and not m.is_deleted"
    )
    assert rows(runtime, resolved) == [[1]]
    assert rows(runtime, "select properties->>'plan' from persons where not is_deleted") == [["team"]]


def test_a_failing_store_stops_the_import_with_its_error(
    runtime: Runtime, project_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.parquet"
    n = 5_000
    pq.write_table(
        pa.table(
            {
                "event": ["e"] * n,
                "distinct_id": [f"d{i}" for i in range(n)],
                "timestamp": pa.array([dt.datetime(2026, 10, 1, tzinfo=dt.UTC)] * n, pa.timestamp("us", tz="UTC")),
            }
        ),
        path,
    )

    def broken(batch: pa.Table, window: dt.timedelta) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(runtime.store, "insert_events", broken)
    with pytest.raises(OSError, match="disk full"):
        import_file(runtime.writer, path, project_id, batch_rows=500)
    monkeypatch.undo()
    # The next run stores everything (persons were kept; events are matched by their derived uuids).
    assert import_file(runtime.writer, path, project_id, batch_rows=500).stored == n


def test_parquet_import_into_embedded_clickhouse(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    runtime = Runtime(make_settings(events_url=f"chdb://{tmp_path / 'chdb'}"))
    try:
        project = runtime.projects.create("ch").project.id
        path = tmp_path / "events.parquet"
        n = 3_000
        start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
        pq.write_table(
            pa.table(
                {
                    "event": ["e"] * n,
                    "distinct_id": [f"d{i % 50}" for i in range(n)],
                    "timestamp": pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us")),
                    "properties": [json.dumps({"i": i, "$session_id": f"s{i % 7}"}) for i in range(n)],
                }
            ),
            path,
        )
        assert import_file(runtime.writer, path, project, batch_rows=1_000).stored == n
        assert import_file(runtime.writer, path, project, batch_rows=1_000).duplicates == n
        assert runtime.store.query("select count(), uniqExact(person_id), uniqExact(session_id) from events").rows == [
            [n, 50, 7]
        ]
    finally:
        runtime.close()


def test_read_batches_fill_whole_row_groups() -> None:
    # 100,000 rows (the default) read as one DuckDB row group of 122,880; small batches stay as asked.
    assert [_aligned(rows, 122_880) for rows in (100_000, 300_000, 61_440, 4_000)] == [122_880, 245_760, 122_880, 4_000]
    assert _aligned(100_000, 0) == 100_000, "an engine without a preferred unit reads what was asked"
