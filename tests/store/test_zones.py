"""Offset tables and the fast local time they give DuckDB: the same buckets as the timezone database."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from sqlglot import exp

from opsloop.store.dialects import Bucket, DuckDBDialect
from opsloop.store.zones import MAX_CHANGES, offset_table

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


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Asia/Shanghai"])
@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_fast_local_buckets_equal_the_timezone_database(timezone: str, bucket: Bucket) -> None:
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
    dialect = DuckDBDialect()
    ts = exp.column("ts")
    fast = dialect.render(dialect.local_bucket(ts, bucket, timezone, "sunday", within))
    exact = dialect.render(dialect.local_bucket(ts, bucket, timezone, "sunday", None))
    assert "MAKE_TIMESTAMP" in fast.upper() and "MAKE_TIMESTAMP" not in exact.upper()
    query = f"SELECT count(*), min(ts) FROM t WHERE ({fast}) IS DISTINCT FROM ({exact})"
    differing = connection.execute(query).fetchone()
    assert differing is not None and differing[0] == 0, differing
