"""Offset tables and the fast local time they give DuckDB: the same buckets as the timezone database."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlglot import exp

from opsloop.store.dialects import Bucket, DuckDBDialect
from opsloop.store.zones import MAX_CHANGES, offset_table, whole_hours

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_madrid_2024_changes_at_one_utc() -> None:
    table = offset_table("Europe/Madrid", at("2024-01-01 00:00"), at("2025-01-01 00:00"))
    assert table is not None
    assert table.offsets == (
        (at("2024-01-01 00:00"), 3600),
        (at("2024-03-31 01:00"), 7200),
        (at("2024-10-27 01:00"), 3600),
    )


def test_fixed_offset_zone_has_one_offset() -> None:
    table = offset_table("Asia/Shanghai", at("2024-01-01 00:00"), at("2024-06-01 00:00"))
    assert table is not None and table.offsets == ((at("2024-01-01 00:00"), 8 * 3600),)


def test_before_1970_is_left_to_the_engine() -> None:
    assert offset_table("UTC", at("1960-01-01 00:00"), at("1965-01-01 00:00")) is None
    table = offset_table("UTC", at("1960-01-01 00:00"), at("1971-01-01 00:00"))
    assert table is not None and table.start == at("1970-01-01 00:00")


def test_a_long_stretch_keeps_its_most_recent_changes() -> None:
    table = offset_table("America/New_York", at("2000-01-01 00:00"), at("2024-01-01 00:00"))
    assert table is not None
    assert len(table.offsets) <= MAX_CHANGES
    assert table.end == at("2024-01-01 00:00") and table.start >= at("2020-12-01 00:00")


def differing_rows(
    connection: duckdb.DuckDBPyConnection,
    bucket: Bucket,
    timezone: str,
    week_start: str,
    within: tuple[dt.datetime, dt.datetime],
) -> tuple[int, dt.datetime | None]:
    """How many rows of table `t` get another bucket from the fast form than from `timezone()`, and the first."""
    dialect = DuckDBDialect()
    ts = exp.column("ts")
    fast = dialect.render(dialect.local_bucket(ts, bucket, timezone, week_start, within))
    exact = dialect.render(dialect.local_bucket(ts, bucket, timezone, week_start, None))
    assert "EPOCH_US" in fast.upper() and "EPOCH_US" not in exact.upper()
    found = connection.execute(f"SELECT count(*), min(ts) FROM t WHERE ({fast}) IS DISTINCT FROM ({exact})").fetchone()
    assert found is not None
    return found[0], found[1]


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Shanghai"])
@pytest.mark.parametrize(
    ("bucket", "week_start"),
    [("hour", "monday"), ("day", "monday"), ("week", "monday"), ("week", "sunday"), ("month", "monday")],
)
def test_fast_local_buckets_equal_the_timezone_database(timezone: str, bucket: Bucket, week_start: str) -> None:
    """Every 7 minutes over two years, plus the seconds around each offset change, inside and outside the
    stretch the offsets were computed for: the fast bucket equals DuckDB's `timezone()` bucket."""
    within = (at("2023-06-01 00:00"), at("2024-12-01 00:00"))
    table = offset_table(timezone, *within)
    assert table is not None
    edges = [since + dt.timedelta(seconds=d) for since, _ in table.offsets for d in (-1, 0, 1)]
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TABLE t AS SELECT TIMESTAMPTZ '2023-01-01 00:00:00+00' + to_minutes(i * 7) AS ts"
        " FROM range(150000) r(i)"
    )
    connection.executemany("INSERT INTO t VALUES (?)", [[edge] for edge in edges])
    assert differing_rows(connection, bucket, timezone, week_start, within) == (0, None)


@pytest.mark.parametrize("timezone", ["America/Los_Angeles", "Pacific/Kiritimati", "UTC"])
@pytest.mark.parametrize(("bucket", "week_start"), [("day", "monday"), ("week", "monday"), ("week", "sunday")])
def test_fast_buckets_at_the_start_of_1970(timezone: str, bucket: Bucket, week_start: str) -> None:
    """A stretch from 1970-01-01 UTC (first-time retention reads all history): west of Greenwich its first
    hours are local 1969, a negative count of microseconds, still put in the right day and week."""
    within = (at("1970-01-01 00:00"), at("1970-03-01 00:00"))
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TABLE t AS SELECT TIMESTAMPTZ '1969-12-30 00:00:00+00' + to_minutes(i * 13) AS ts FROM range(7000) r(i)"
    )
    assert differing_rows(connection, bucket, timezone, week_start, within) == (0, None)


@pytest.mark.parametrize(
    ("timezone", "start", "end", "whole"),
    [
        ("UTC", "1970-01-01 00:00", "2099-01-01 00:00", True),
        ("Europe/Madrid", "1970-01-01 00:00", "2030-01-01 00:00", True),
        ("America/New_York", "2024-03-01 00:00", "2024-12-01 00:00", True),
        ("Asia/Kolkata", "2024-01-01 00:00", "2024-01-02 00:00", False),
        ("Asia/Kathmandu", "2024-01-01 00:00", "2024-01-02 00:00", False),
        ("Australia/Adelaide", "2024-01-01 00:00", "2024-01-02 00:00", False),
        # Liberia kept UTC-0:44:30 until 1972-01-07: whole hours after that only.
        ("Africa/Monrovia", "1970-01-01 00:00", "2024-01-01 00:00", False),
        ("Africa/Monrovia", "1972-02-01 00:00", "2024-01-01 00:00", True),
        # Past the stretch the offsets are known for.
        ("UTC", "2024-01-01 00:00", "2101-01-01 00:00", False),
    ],
)
def test_whole_hours(timezone: str, start: str, end: str, whole: bool) -> None:
    assert whole_hours(timezone, at(start), at(end)) is whole
