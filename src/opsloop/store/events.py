"""The events-store interface every engine implements, and the factory that opens one from a URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import pyarrow as pa

from opsloop.store.dialects import Dialect
from opsloop.store.values import arrow_to_rows

JSONScalar = str | int | float | bool | None
#: Query parameters: positional values for `?` markers, or named values (`$name` in DuckDB, `{name:Type}` in
#: ClickHouse) as the analytics builder writes them. Named values may also be dates, datetimes and lists.
Params = Sequence[JSONScalar] | Mapping[str, Any]


@dataclass(frozen=True)
class QueryResult:
    """Rows of a read query as JSON-ready values."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    types: list[str] = field(default_factory=list)


def result_from_arrow(table: pa.Table, max_rows: int | None, columns: list[str] | None = None) -> QueryResult:
    """A read result from Arrow, cut to `max_rows` (callers fetch one row more to detect truncation)."""
    truncated = max_rows is not None and table.num_rows > max_rows
    if truncated:
        table = table.slice(0, max_rows)
    return QueryResult(
        columns=columns or table.column_names,
        rows=arrow_to_rows(table),
        truncated=truncated,
        types=[str(f.type) for f in table.schema],
    )


class QueryTimeout(Exception):
    """A read query ran past its time limit and was cancelled."""


class QueryFailed(Exception):
    """The engine refused or failed a read query; the message is safe to show to the user."""


class StoreLocked(Exception):
    """The events store file is held by another process (usually a running `opsloop serve`)."""


class EventStore(Protocol):
    """What the rest of opsloop may ask of an events store."""

    # Read-only here, so that each engine's store may hold its own dialect subclass.
    @property
    def dialect(self) -> Dialect:
        """The SQL dialect of the engine."""
        ...

    def ensure_schema(self) -> None:
        """Create the tables if they do not exist."""

    def insert_events(self, batch: pa.Table, dedup_window: timedelta) -> int:
        """Append events (schema `EVENTS_SCHEMA`), skipping any whose (project, uuid) is already stored
        within `dedup_window` of the batch's timestamps or repeated inside the batch; returns rows written.
        The `UUID_COLUMNS` may hold Arrow UUIDs instead of text."""

    def append_events(self, batch: pa.Table) -> int:
        """Append events whose uuids cannot be stored yet (minted by the server for this write), without
        the de-duplication probe; returns rows written."""

    def upsert_persons(self, rows: pa.Table) -> None:
        """Write person replica rows (schema `PERSONS_SCHEMA`); the latest version wins."""

    def upsert_distinct_ids(self, rows: pa.Table) -> None:
        """Write distinct-id replica rows (schema `DISTINCT_IDS_SCHEMA`); the latest version wins."""

    def record_merges(self, merges: pa.Table) -> None:
        """Record persons merged into others (schema `OVERRIDES_SCHEMA`, in the order they happened): events
        stored with a merged person belong to the end of its chain of merges now."""

    def query(
        self,
        sql: str,
        params: list[JSONScalar] | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        """Run one read query; raise `QueryTimeout` past `timeout` seconds."""

    def query_arrow(self, sql: str, params: Params | None = None, *, timeout: float | None = None) -> pa.Table:
        """Run one trusted read query and return an Arrow table; raise `QueryTimeout` past `timeout` seconds."""

    def count_events(self, project_id: int) -> int:
        """Number of stored events of a project."""

    def maintain(self, *, now: bool = False) -> bool:
        """Bring derived tables up to date by one step, between writes (the server's flusher calls it when
        it has written or is idle), when due or (`now`) at once; returns whether more steps wait. Cheap when
        nothing is due. Reads never depend on it: they are exact however far derived tables lag."""
        ...

    def close(self) -> None:
        """Flush and release the store."""


def open_event_store(url: str, *, memory_limit: str = "2GB", threads: int | None = None) -> EventStore:
    """Open the events store named by `url` (`duckdb://PATH`, `chdb://PATH`, `clickhouse://...`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"events URL {url!r} has no scheme: use duckdb://PATH, chdb://PATH or clickhouse://HOST")
    if scheme == "duckdb":
        from opsloop.store.duckdb import DuckDBEventStore

        store: EventStore = DuckDBEventStore(rest, memory_limit=memory_limit, threads=threads)
    elif scheme == "chdb":
        from opsloop.store.clickhouse import ChdbEventStore

        store = ChdbEventStore(rest)
    elif scheme in ("clickhouse", "clickhouses"):
        from opsloop.store.clickhouse import ClickHouseServerEventStore

        store = ClickHouseServerEventStore(url)
    else:
        raise ValueError(f"unknown events store scheme {scheme!r} in {url!r}: use duckdb, chdb or clickhouse")
    store.ensure_schema()
    return store
