"""Staging: each row's reason or shaped values; derived uuids never change from one version to the next."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from opsloop.store.staging import Stager

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


@pytest.fixture
def stager() -> Stager:
    return Stager(threads=1)


def batch(**columns: list[object]) -> pa.Table:
    """A batch as the readers make it: the given columns and 1-based `_row`."""
    n = len(next(iter(columns.values())))
    return pa.table({**columns, "_row": pa.array(range(1, n + 1), pa.int64())})


def test_derived_uuids_never_change(stager: Stager) -> None:
    # Two DuckDB hashes of (project, event, distinct id, time, properties text); a re-imported file must find
    # its rows again, so these values may never change (a DuckDB release that hashed differently fails here).
    rows = batch(
        event=["signup", " buy ", "x", "y"],
        distinct_id=["u1", "u2", "u3", "u4"],
        timestamp=["2026-11-01T10:00:00Z", "2026-11-02 11:00:00.123456", "2026-11-03T00:00:00+08:00", "2026-11-03"],
        properties=['{"a": 1}', None, '{ "b" : [1, 2] }', '{"c": 1}'],
        uuid=[None, "0B7E5A1C-0000-4000-8000-000000000001", None, ""],
    )
    staged = stager.stage(rows, 7, NOW)
    assert [str(u) for u in staged.valid.column("uuid").to_pylist()] == [
        "59641ec2-55a1-3acf-3196-70834523be8a",
        "0b7e5a1c-0000-4000-8000-000000000001",  # carried by the row, normalised
        "ae9ea96f-d1c7-854f-9df7-c110160ed554",
        "87da2270-9428-e1a1-f1e0-4cc602277cdd",
    ]
    # Text passes through unchanged (spaces inside JSON kept); only surrounding spaces are trimmed.
    assert staged.valid.column("event").to_pylist() == ["signup", "buy", "x", "y"]
    assert staged.valid.column("properties").to_pylist() == ['{"a": 1}', "{}", '{ "b" : [1, 2] }', '{"c": 1}']
    with_extra = stager.stage(rows.add_column(0, "p.plan", pa.array(["pro", None, "9.5", ""])), 7, NOW)
    assert [str(u) for u in with_extra.valid.column("uuid").to_pylist()][0] == "4455bd34-f0d8-de80-4736-21434cd2e7da"
    assert with_extra.valid.column("properties").to_pylist()[2] == '{"b":[1,2],"plan":9.5}'


def test_derived_uuids_follow_every_field_and_only_them(stager: Stager) -> None:
    # Row 1 repeats row 0 (same uuid, whatever the other stager or batch); rows 2-5 each change one field.
    rows = batch(
        event=["e", "e", "f", "e", "e", "e"],
        distinct_id=["d", "d", "d", "D", "d", "d"],
        timestamp=["2026-11-01T10:00:00Z"] * 4 + ["2026-11-01T10:00:00.000001Z", "2026-11-01T10:00:00Z"],
        properties=['{"a": 1}'] * 5 + ['{"a": 2}'],
    )
    uuids = stager.stage(rows, 1, NOW).valid.column("uuid").to_pylist()
    assert uuids[0] == uuids[1] == Stager(threads=1).stage(rows.slice(1, 1), 1, NOW).valid.column("uuid")[0].as_py()
    assert len(set(uuids)) == 5
    assert stager.stage(rows.slice(0, 1), 2, NOW).valid.column("uuid")[0].as_py() not in uuids  # another project


def test_every_refused_row_has_its_reason_and_the_rest_are_kept(stager: Stager) -> None:
    rows = batch(
        event=["ok", "", "a" * 201, "ok", "ok", "ok", "ok", "ok", "ok", " ok "],
        distinct_id=["d", "d", "d", " ", "d", "d", "d", "d", "d", " d "],
        timestamp=[
            "2026-11-01",
            "2026-11-01",
            "2026-11-01",
            "2026-11-01",
            "not a date",
            "1999-12-31",
            "2026-11-25",  # more than 23 hours after NOW
            "2026-11-01",
            "2026-11-01",
            "2026-11-01",
        ],
        properties=["{}", "{}", "{}", "{}", "{}", "{}", "{}", "[1]", "{nope", '{"k": "v"}'],
        uuid=[None, None, None, None, None, None, None, None, None, "not-a-uuid"],
    )
    staged = stager.stage(rows, 1, NOW)
    assert staged.rejected.to_pylist() == [
        {"_row": 2, "reason": "event is missing"},
        {"_row": 3, "reason": "event is longer than 200 characters"},
        {"_row": 4, "reason": "distinct_id is missing"},
        {"_row": 5, "reason": "timestamp is missing or not a date-time"},
        {"_row": 6, "reason": "timestamp is before 2000-01-01"},
        {"_row": 7, "reason": "timestamp is more than 23 hours in the future"},
        {"_row": 8, "reason": "properties must be a JSON object"},
        {"_row": 9, "reason": "properties is not valid JSON"},
        {"_row": 10, "reason": "uuid is not a valid UUID"},
    ]
    assert staged.valid.column("_row").to_pylist() == [1]


def test_typed_columns_and_session_ids(stager: Stager) -> None:
    # Parquet-typed columns: timestamps pass through as instants, integers as text ids.
    times = pa.array([1_762_000_000_000_000, 1_762_000_000_000_001], pa.timestamp("us"))
    rows = batch(
        event=pa.array(["a", "b"], pa.large_string()),
        distinct_id=pa.array([42, 43], pa.int64()),
        timestamp=times,
        properties=['{"$session_id": "s-1"}', '{"x": 1}'],
    )
    staged = stager.stage(rows, 1, NOW).valid
    assert staged.column("distinct_id").to_pylist() == ["42", "43"]
    assert staged.column("timestamp").cast(pa.int64()).to_pylist() == times.cast(pa.int64()).to_pylist()
    assert staged.column("session_id").to_pylist() == ["s-1", None]
    assert staged.column("event").to_pylist() == ["a", "b"]
