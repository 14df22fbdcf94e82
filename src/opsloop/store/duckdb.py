"""DuckDB events store: one embedded database file, opened once per process."""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.store.dialects import DuckDBDialect
from opsloop.store.events import (
    JSONScalar,
    Params,
    QueryFailed,
    QueryResult,
    QueryTimeout,
    StoreLocked,
    result_from_arrow,
)
from opsloop.store.schema import merged_overrides

#: Events counted into `event_hours` per refresh step (one transaction; the write lock is held for it).
REFRESH_HOURS_ROWS = 5_000_000
#: A refresh step runs once this many events are not counted yet, or once any are and this long has passed.
REFRESH_HOURS_DUE_ROWS = 1_000_000
REFRESH_HOURS_DUE_SECONDS = 60.0
#: Analyses read the rollup (`Dialect.hour_rollup`) while at most this many events are not counted into it:
#: reads add those one row each, which costs more than reading the events once they are many (at 10M events
#: all uncovered, retention took 0.82 s this way against 0.25 s from the events).
HOURS_LAG_ROWS = 2_000_000
#: Rows added to `event_hours` since its last compaction that start the next one: at least this many, and at
#: least half the rows it held after the last one (so that compacting costs a constant share, amortised).
COMPACT_HOURS_ROWS = 500_000


def fetch_arrow(result: duckdb.DuckDBPyConnection) -> pa.Table:
    """Fetch a DuckDB result as Arrow (DuckDB 2 has only `to_arrow_table`, no `fetch_arrow_table`)."""
    with warnings.catch_warnings():
        # DuckDB 2 warns that cursor results are copied once into Arrow; results here are bounded.
        warnings.simplefilter("ignore", UserWarning)
        table = result.to_arrow_table()
    if table is None:  # typed as optional; DuckDB raises instead when there is no result set
        raise QueryFailed("the statement returned no result set")
    return table


class DuckDBEventStore:
    """Events, persons and distinct ids in a DuckDB file; writes are serialised, reads run in parallel."""

    def __init__(self, path: str, *, memory_limit: str = "2GB", threads: int | None = None) -> None:
        self.dialect = DuckDBDialect()
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(path, config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"the events store {path} is in use by another process (is `opsloop serve` running "
                    "on this data dir?). Stop it, or send the data through its HTTP API."
                ) from exc
            raise
        self._con.execute("SET TimeZone = 'UTC'")
        self._write_lock = threading.Lock()
        #: When `event_hours` was last refreshed (monotonic seconds); rows it gained since its last
        #: compaction, the earliest hour those touched, the rows it held after that compaction, and how
        #: many stored events it does not cover.
        self._hours_refreshed = 0.0
        self._hours_written = 0
        self._hours_since: datetime | None = None
        self._hours_kept = 0
        self._hours_lag = 0

    def ensure_schema(self) -> None:
        """Create the tables, then shut the sandbox: user SQL may not touch files or the network."""
        with self._write_lock:
            found = self._con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'person_overrides'"
            ).fetchone()
            for ddl in self.dialect.events_ddl():
                self._con.execute(ddl)
            if found is not None and found[0] == 0:
                self._con.execute(self.dialect.overrides_backfill())
            self._con.execute("INSERT INTO event_hours_state SELECT 0 WHERE NOT EXISTS (FROM event_hours_state)")
            kept = self._con.execute("SELECT count(*) FROM event_hours").fetchone()
            self._hours_kept = int(kept[0]) if kept else 0
            lag = self._con.execute(
                "SELECT (SELECT count(*) FROM events) - (SELECT covered FROM event_hours_state)"
            ).fetchone()
            self._lagging(int(lag[0]) if lag else 0)
            # Files are read by opsloop through pyarrow, never by DuckDB, so external access can go.
            self._con.execute("SET enable_external_access = false")
            self._con.execute("SET lock_configuration = true")

    def _lagging(self, events: int) -> None:
        """Note how many events the rollup does not cover; analyses read it while they are few. (Reads are
        exact however far it lags; this only picks the faster way.)"""
        self._hours_lag = events
        self.dialect.hour_rollup = events <= HOURS_LAG_ROWS

    def maintain(self, *, now: bool = False) -> bool:
        """One step of keeping `event_hours` current: when due (or `now`), count up to `REFRESH_HOURS_ROWS`
        events it does not cover yet into it, in one transaction with its `covered` mark, then compact it
        when enough rows have piled up. Returns whether more events wait to be counted."""
        with self._write_lock:
            cur = self._con.cursor()
            try:
                row = cur.execute(
                    "SELECT (SELECT covered FROM event_hours_state), (SELECT count(*) FROM events)"
                ).fetchone()
                covered, stored = (int(row[0]), int(row[1])) if row else (0, 0)
                waiting = stored - covered
                self._lagging(waiting)
                overdue = time.monotonic() - self._hours_refreshed >= REFRESH_HOURS_DUE_SECONDS
                if waiting <= 0 or (waiting < REFRESH_HOURS_DUE_ROWS and not overdue and not now):
                    return False
                upto = min(stored, covered + REFRESH_HOURS_ROWS)
                cur.execute("BEGIN TRANSACTION")
                try:
                    added = cur.execute(
                        """INSERT INTO event_hours
                           SELECT project_id, person_id, event, date_trunc('hour', "timestamp"), count(*)
                           FROM events WHERE rowid >= $covered AND rowid < $upto
                           GROUP BY ALL""",
                        {"covered": covered, "upto": upto},
                    ).fetchone()
                    earliest = cur.execute(
                        'SELECT min("timestamp") FROM events WHERE rowid >= $covered AND rowid < $upto',
                        {"covered": covered, "upto": upto},
                    ).fetchone()
                    cur.execute("UPDATE event_hours_state SET covered = $upto", {"upto": upto})
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                self._hours_refreshed = time.monotonic()
                self._hours_written += int(added[0]) if added else 0
                if earliest and earliest[0] is not None:
                    low: datetime = earliest[0]
                    self._hours_since = low if self._hours_since is None else min(self._hours_since, low)
                if self._hours_written >= max(COMPACT_HOURS_ROWS, self._hours_kept // 2):
                    self._compact_hours(cur)
                self._lagging(stored - upto)
                return upto < stored
            finally:
                cur.close()

    def _compact_hours(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Sum the rows of `event_hours` that share a key, from the earliest hour counted since the last
        compaction on (older hours were compacted then, unless a late event reached them: it moved the
        start back). One transaction: readers see the rows before or after, the same sums either way."""
        since = self._hours_since
        if since is None:
            return
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(
                """CREATE TEMP TABLE _summed AS
                   SELECT project_id, person_id, event, "timestamp", sum(event_count)::UBIGINT AS event_count
                   FROM event_hours WHERE "timestamp" >= date_trunc('hour', $since::TIMESTAMPTZ)
                   GROUP BY ALL""",
                {"since": since},
            )
            cur.execute(
                """DELETE FROM event_hours WHERE "timestamp" >= date_trunc('hour', $since::TIMESTAMPTZ)""",
                {"since": since},
            )
            cur.execute("INSERT INTO event_hours SELECT * FROM _summed")
            cur.execute("DROP TABLE _summed")
            kept = cur.execute("SELECT count(*) FROM event_hours").fetchone()
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._hours_kept = int(kept[0]) if kept else 0
        self._hours_written = 0
        self._hours_since = None

    def insert_events(self, batch: pa.Table, dedup_window: timedelta) -> int:
        """Append events not already stored (same project and uuid, within the window of their times)."""
        if batch.num_rows == 0:
            return 0
        bounds = pc.min_max(batch.column("timestamp"))
        lo = bounds["min"].as_py() - dedup_window
        hi = bounds["max"].as_py() + dedup_window
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.register("_incoming", batch)
                # First a read: does the batch repeat a key, or hold one already stored in the window? Usually the
                # answer is no, and the rows go in by a plain append, which DuckDB writes in parallel, compressed,
                # straight into row groups; a join in the INSERT would not.
                projects = pc.unique(batch.column("project_id"))
                # One project (always, for imports): its uuids alone tell repeats, and hashing them is cheaper.
                key = "uuid::UUID" if len(projects) == 1 else "(project_id, uuid::UUID)"
                repeats = f"SELECT count(*) > count(DISTINCT {key}) FROM _incoming"
                stored = cur.execute(
                    """SELECT EXISTS (SELECT 1 FROM events
                                      WHERE "timestamp" BETWEEN ? AND ? AND list_contains(?, project_id))""",
                    [lo, hi, projects.to_pylist()],
                ).fetchone()
                if stored and stored[0]:
                    # The hash table is built on the batch's uuids and probed by the stored rows of the window.
                    clash = cur.execute(
                        f"""
                        SELECT ({repeats})
                            OR EXISTS (SELECT 1 FROM events AS e
                                       WHERE e."timestamp" BETWEEN ? AND ?
                                         AND e.uuid IN (SELECT uuid::UUID FROM _incoming)
                                         AND e.project_id IN (SELECT project_id FROM _incoming))
                        """,
                        [lo, hi],
                    ).fetchone()
                else:  # nothing stored in the window (zone maps tell, without reading uuids): repeats alone
                    clash = cur.execute(repeats).fetchone()
                source = "_incoming"
                if clash and clash[0]:
                    source = """(SELECT * FROM (SELECT * FROM _incoming
                                               QUALIFY row_number() OVER (PARTITION BY project_id, uuid::UUID) = 1) AS b
                                 WHERE (b.project_id, b.uuid::UUID) NOT IN (
                                     SELECT (e.project_id, e.uuid) FROM events AS e
                                     WHERE e."timestamp" BETWEEN $lo AND $hi
                                       AND e.uuid IN (SELECT uuid::UUID FROM _incoming)))"""
                # `source` is one of the two fixed texts above, never input.
                row = cur.execute(
                    f"""
                    INSERT INTO events
                    SELECT uuid::UUID, project_id, event, distinct_id, person_id::UUID,
                           "timestamp", properties, session_id, inserted_at
                    FROM {source}
                    """,
                    {"lo": lo, "hi": hi} if source != "_incoming" else {},
                ).fetchone()
            finally:
                cur.unregister("_incoming")
                cur.close()
            written = int(row[0]) if row else 0
            self._lagging(self._hours_lag + written)
        return written

    def append_events(self, batch: pa.Table) -> int:
        """Append events with server-minted uuids: no de-duplication probe."""
        if batch.num_rows == 0:
            return 0
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.register("_incoming", batch)
                cur.execute(
                    """
                    INSERT INTO events
                    SELECT uuid::UUID, project_id, event, distinct_id, person_id::UUID,
                           "timestamp", properties, session_id, inserted_at
                    FROM _incoming
                    """
                )
            finally:
                cur.unregister("_incoming")
                cur.close()
            self._lagging(self._hours_lag + batch.num_rows)
        return batch.num_rows

    def _upsert(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.register("_replica", rows)
                # Names come from our own schema constants, never from input.
                cols = ", ".join(f'"{name}"' for name in rows.schema.names)
                cur.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM _replica")
            finally:
                cur.unregister("_replica")
                cur.close()

    def upsert_persons(self, rows: pa.Table) -> None:
        """Write person replica rows; a row replaces the stored one with the same key."""
        self._upsert("persons", rows)

    def upsert_distinct_ids(self, rows: pa.Table) -> None:
        """Write distinct-id replica rows; a row replaces the stored one with the same key."""
        self._upsert("person_distinct_ids", rows)

    def record_merges(self, merges: pa.Table) -> None:
        """Record persons merged into others (`OVERRIDES_SCHEMA`); overrides that pointed at a merged
        person now point where it went."""
        if merges.num_rows == 0:
            return
        with self._write_lock:
            cur = self._con.cursor()
            try:
                cur.register("_merged", merges.select(["project_id", "old_person_id"]))
                pointing = fetch_arrow(
                    cur.execute(
                        """SELECT o.project_id, CAST(o.old_person_id AS VARCHAR) AS old_person_id,
                                  CAST(o.person_id AS VARCHAR) AS person_id
                           FROM person_overrides AS o
                           JOIN _merged AS m
                             ON m.project_id = o.project_id AND CAST(m.old_person_id AS UUID) = o.person_id"""
                    )
                )
            finally:
                cur.unregister("_merged")
                cur.close()
        self._upsert("person_overrides", merged_overrides(merges, pointing))

    def query(
        self,
        sql: str,
        params: list[JSONScalar] | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        """Run a read query on its own cursor, interrupting it when the time limit passes."""
        cur = self._con.cursor()
        timer = threading.Timer(timeout, cur.interrupt) if timeout else None
        try:
            if timer:
                timer.start()
            result = cur.execute(sql, params or [])
            columns = [d[0] for d in result.description or []]
            # Callers bound the rows (the SQL API wraps queries in LIMIT max_rows + 1).
            table = fetch_arrow(result)
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"query cancelled after {timeout:g} s (limit)") from exc
        except duckdb.Error as exc:
            raise QueryFailed(str(exc).split("\n\nLINE")[0].strip()) from exc
        finally:
            if timer:
                timer.cancel()
            cur.close()
        return result_from_arrow(table, max_rows, columns)

    def query_arrow(self, sql: str, params: Params | None = None, *, timeout: float | None = None) -> pa.Table:
        """Run a trusted read query and return Arrow, interrupting it when the time limit passes."""
        cur = self._con.cursor()
        timer = threading.Timer(timeout, cur.interrupt) if timeout else None
        try:
            if timer:
                timer.start()
            return fetch_arrow(cur.execute(sql, params or []))
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"query cancelled after {timeout:g} s (limit)") from exc
        finally:
            if timer:
                timer.cancel()
            cur.close()

    def count_events(self, project_id: int) -> int:
        """Number of stored events of a project."""
        cur = self._con.cursor()
        try:
            row = cur.execute("SELECT count(*) FROM events WHERE project_id = ?", [project_id]).fetchone()
        finally:
            cur.close()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Checkpoint and close the database file."""
        with self._write_lock:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("CHECKPOINT")
            self._con.close()
