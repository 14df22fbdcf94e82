"""ClickHouse events stores: embedded chdb and a ClickHouse server, sharing every statement they send.

`_ClickHouseStore` holds all SQL text and the semantics (dedup, parameters, sandbox settings, error mapping);
the two engines supply only three primitives: run a statement, read Arrow, insert Arrow.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import Token, TokenType, exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import TokenError

from opsloop.store.dialects import ClickHouseDialect
from opsloop.store.events import (
    JSONScalar,
    Params,
    QueryFailed,
    QueryResult,
    QueryTimeout,
    StoreLocked,
    result_from_arrow,
)
from opsloop.store.schema import EVENTS_SCHEMA, merged_overrides, with_text_uuids

_log = logging.getLogger(__name__)

#: Applied to every read: LEFT JOIN non-matches must be NULL, not the type's default (a zero UUID), because
#: `relations.project_events` resolves merged persons with `coalesce(o.person_id, e.person_id)`.
_SESSION_SETTINGS: dict[str, int] = {"join_use_nulls": 1}

#: (project, uuid) pairs already stored in the dedup window, among the batch's projects and uuids. The alias
#: must not be `uuid`: ClickHouse resolves WHERE names to SELECT aliases first.
_STORED_KEYS_SQL = """
SELECT project_id, toString(uuid) AS stored_uuid
FROM events
WHERE timestamp BETWEEN {lo:DateTime64(6, 'UTC')} AND {hi:DateTime64(6, 'UTC')}
  AND project_id IN {projects:Array(Int64)}
  AND uuid IN {uuids:Array(UUID)}
"""
_KEYS_SCHEMA = pa.schema([("project_id", pa.int64()), ("uuid", pa.string())])
_OVERRIDES_EXIST_SQL = (
    "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'person_overrides'"
)
#: Stored overrides whose target is one of the persons just merged (paired by position: project, person).
_POINTING_SQL = """
SELECT project_id, toString(old_person_id) AS old_person_id, toString(person_id) AS person_id
FROM person_overrides FINAL
WHERE (project_id, person_id) IN (
    SELECT p.1, toUUID(p.2) FROM (SELECT arrayJoin(arrayZip({projects:Array(Int64)}, {persons:Array(String)})) AS p)
)
"""
#: Whether the view that keeps `event_hours` up to date exists: it is created once the table is complete.
_HOURS_VIEW_EXISTS_SQL = (
    "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'event_hours_view'"
)
_COUNT_EVENTS_SQL = "SELECT count() AS n FROM events WHERE project_id = {project_id:Int64}"
_COUNT_ALL_EVENTS_SQL = "SELECT count() AS n FROM events"
#: Uuids per dedup lookup: keeps a server's parameters well under its 1 MiB URL limit.
_LOOKUP_CHUNK = 5_000
#: DateTime64's range; the dedup window is clamped to it.
_TIME_MIN = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_TIME_MAX = dt.datetime(2299, 12, 31, tzinfo=dt.UTC)
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _param_type(value: Any) -> str:
    """The ClickHouse type of a `{pN:Type}` parameter bound to a positional value."""
    if value is None:
        return "Nullable(Nothing)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return "Int64"
        if 0 <= value < 2**64:
            return "UInt64"
        raise QueryFailed(f"integer parameter {value} is out of range")
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, dt.datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, dt.date):
        return "Date"
    if isinstance(value, uuid.UUID):
        return "UUID"
    raise QueryFailed(f"unsupported parameter type {type(value).__name__}")


def _param_value(value: Any) -> Any:
    """Times and uuids as the text ClickHouse parses (drivers would drop microseconds or need a hint)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime(_TIME_FORMAT)
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    return value


def _tokens(sql: str) -> list[Token]:
    try:
        return ClickHouse().tokenize(sql)
    except TokenError as exc:
        raise QueryFailed(f"could not read the SQL: {exc}") from None


def _bind(sql: str, params: Params | None) -> tuple[str, dict[str, Any]]:
    """One statement with `?` placeholders -> the statement with `{pN:Type}` server-side parameters.

    Named parameters (a mapping) are already written as `{name:Type}` in the statement and pass through.

    Tokens come from sqlglot's ClickHouse tokenizer, so a `?` inside a string, identifier or comment is
    never touched. sqlglot renders an unnamed `exp.Placeholder()` as `{?: }` for ClickHouse; that form is
    accepted as a positional placeholder too. Trailing semicolons and comments are dropped so that a
    SETTINGS clause can follow, and more than one statement is refused: chdb would run them all, with
    the appended SETTINGS (readonly, time limit) guarding only the last.
    """
    tokens = _tokens(sql)
    if not tokens:
        raise QueryFailed("the SQL is empty")
    end = len(tokens)
    while end and tokens[end - 1].token_type == TokenType.SEMICOLON:
        end -= 1
    if not end or any(t.token_type == TokenType.SEMICOLON for t in tokens[:end]):
        raise QueryFailed("send exactly one statement")
    if isinstance(params, Mapping):
        return sql[: tokens[end - 1].end + 1], {k: _param_value(v) for k, v in params.items()}
    spans: list[tuple[int, int]] = []
    if params:
        i = 0
        while i < end:
            token = tokens[i]
            if token.token_type == TokenType.PLACEHOLDER and token.text == "?":
                kinds = [t.token_type for t in tokens[i - 1 : i + 3]] if i else []
                if kinds == [TokenType.L_BRACE, TokenType.PLACEHOLDER, TokenType.COLON, TokenType.R_BRACE]:
                    spans.append((tokens[i - 1].start, tokens[i + 2].end + 1))
                    i += 3
                    continue
                spans.append((token.start, token.end + 1))
            i += 1
        if len(spans) != len(params):
            raise QueryFailed(f"the query has {len(spans)} placeholders for {len(params)} parameters")
    parts: list[str] = []
    named: dict[str, Any] = {}
    last = 0
    for n, ((start, stop), value) in enumerate(zip(spans, params or [], strict=True)):
        parts += [sql[last:start], f"{{p{n}:{_param_type(value)}}}"]
        named[f"p{n}"] = _param_value(value)
        last = stop
    parts.append(sql[last : tokens[end - 1].end + 1])
    return "".join(parts), named


def _user_message(error: str) -> str:
    """ClickHouse's error text without codes, nesting, version and stack: what a user can act on."""
    text = error.rsplit("DB::Exception: ", 1)[-1].split("\nStack trace", 1)[0].strip()
    text = re.sub(r"\s*\(version [^)]*\)", "", text).split(". Expected one of:", 1)[0]
    text = re.sub(r"^\w+: (?=Cannot execute query in readonly mode)", "", text)
    if "(READONLY)" in text:
        return "the SQL API is read-only: it cannot write, change settings or read files and URLs"
    return text if len(text) <= 500 else text[:497] + "..."


def _is_timeout(error: str) -> bool:
    return "TIMEOUT_EXCEEDED" in error or "Code: 159." in error


def _shifted(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        shifted = moment + delta
    except OverflowError:
        return _TIME_MAX if delta > dt.timedelta(0) else _TIME_MIN
    return min(max(shifted, _TIME_MIN), _TIME_MAX)


def _first_per_key(batch: pa.Table) -> pa.Table:
    """The first row of each (project_id, uuid) in arrival order; uuids lower case, as ClickHouse prints."""
    batch = batch.set_column(batch.schema.get_field_index("uuid"), "uuid", pc.utf8_lower(batch.column("uuid")))
    keyed = batch.append_column("__row", pa.array(np.arange(batch.num_rows, dtype=np.int64)))
    firsts = keyed.group_by(["project_id", "uuid"], use_threads=False).aggregate([("__row", "min")])
    return batch.take(firsts.sort_by("__row_min").column("__row_min"))


class _ClickHouseStore:
    """All statements and semantics of a ClickHouse events store; subclasses supply the primitives."""

    #: Exceptions the engine raises for a statement it refused or failed.
    _engine_errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self.dialect = ClickHouseDialect()
        # The dedup lookup and the insert that follows must not interleave with another writer in-process.
        self._write_lock = threading.Lock()

    def _execute(self, sql: str) -> None:
        """Run one statement that returns nothing."""
        raise NotImplementedError

    def _query_arrow(self, sql: str, params: Mapping[str, Any], timeout: float | None = None) -> pa.Table:
        """Run one read statement with `{name:Type}` parameters; give up past `timeout` if it has to wait."""
        raise NotImplementedError

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        """Append an Arrow table; columns are matched by name."""
        raise NotImplementedError

    def ensure_schema(self) -> None:
        """Create the tables if missing, and fill the derived ones (`person_overrides`, `event_hours`) from
        the stored events when they are new."""
        with self._write_lock:
            found = self._query_arrow(_OVERRIDES_EXIST_SQL, {}).column("n")[0].as_py()
            for ddl in self.dialect.events_ddl():
                self._execute(ddl)
            if found == 0:
                self._execute(self.dialect.overrides_backfill())
            if self._query_arrow(_HOURS_VIEW_EXISTS_SQL, {}).column("n")[0].as_py() == 0:
                self._build_event_hours()
        self.dialect.hour_rollup = True

    def _build_event_hours(self) -> None:
        """Count the stored events into `event_hours`, then create the view that adds every later insert.

        Runs under the write lock, so no insert of this process falls between the two. The view is created
        last: if this is cut short, the next start finds no view and counts again from an empty table. (On a
        ClickHouse server written by several processes, start the first upgraded one alone: see
        docs/deployment.md.)"""
        events = self._query_arrow(_COUNT_ALL_EVENTS_SQL, {}).column("n")[0].as_py()
        if events:
            _log.info("counting %s stored events into the hourly rollup (once, after an upgrade)", f"{events:,}")
        rows = self.dialect.event_hours_rows("events")
        self._execute("TRUNCATE TABLE IF EXISTS event_hours")
        self._execute(f"INSERT INTO event_hours {rows}")
        self._execute(f"CREATE MATERIALIZED VIEW IF NOT EXISTS event_hours_view TO event_hours AS {rows}")

    def maintain(self, *, now: bool = False) -> bool:
        """Nothing to do: the materialized view keeps `event_hours` current with every insert."""
        return False

    def insert_events(self, batch: pa.Table, dedup_window: dt.timedelta) -> int:
        """Append events not already stored (same project and uuid, within the window of their times)."""
        if batch.num_rows == 0:
            return 0
        batch = _first_per_key(with_text_uuids(batch.select(EVENTS_SCHEMA.names)).cast(EVENTS_SCHEMA))
        bounds = pc.min_max(batch.column("timestamp"))
        window = {
            "lo": _param_value(_shifted(bounds["min"].as_py(), -dedup_window)),
            "hi": _param_value(_shifted(bounds["max"].as_py(), dedup_window)),
            "projects": pc.unique(batch.column("project_id")).to_pylist(),
        }
        uuids = batch.column("uuid").to_pylist()
        with self._write_lock:
            stored = [
                self._query_arrow(_STORED_KEYS_SQL, {**window, "uuids": chunk})
                for chunk in (uuids[i : i + _LOOKUP_CHUNK] for i in range(0, len(uuids), _LOOKUP_CHUNK))
            ]
            existing = pa.concat_tables(stored).rename_columns(_KEYS_SCHEMA.names).cast(_KEYS_SCHEMA)
            if existing.num_rows:
                keyed = batch.append_column("__row", pa.array(np.arange(batch.num_rows, dtype=np.int64)))
                fresh = keyed.join(existing, ["project_id", "uuid"], join_type="left anti", use_threads=False)
                batch = fresh.sort_by("__row").select(EVENTS_SCHEMA.names)
            if batch.num_rows:
                self._insert_arrow("events", batch)
        return int(batch.num_rows)

    def append_events(self, batch: pa.Table) -> int:
        """Append events with server-minted uuids: no de-duplication lookup."""
        if batch.num_rows == 0:
            return 0
        with self._write_lock:
            self._insert_arrow("events", with_text_uuids(batch.select(EVENTS_SCHEMA.names)).cast(EVENTS_SCHEMA))
        return batch.num_rows

    def _upsert(self, table: str, rows: pa.Table) -> None:
        # ReplacingMergeTree(version) keeps the highest version per key; readers use FINAL.
        if rows.num_rows == 0:
            return
        with self._write_lock:
            self._insert_arrow(table, rows)

    def upsert_persons(self, rows: pa.Table) -> None:
        """Write person replica rows; the highest version of each (project, id) wins."""
        self._upsert("persons", rows)

    def upsert_distinct_ids(self, rows: pa.Table) -> None:
        """Write distinct-id replica rows; the highest version of each (project, distinct id) wins."""
        self._upsert("person_distinct_ids", rows)

    def record_merges(self, merges: pa.Table) -> None:
        """Record persons merged into others (`OVERRIDES_SCHEMA`); overrides that pointed at a merged
        person now point where it went."""
        if merges.num_rows == 0:
            return
        with self._write_lock:
            pointing = self._query_arrow(
                _POINTING_SQL,
                {
                    "projects": merges.column("project_id").to_pylist(),
                    "persons": merges.column("old_person_id").to_pylist(),
                },
            )
            self._insert_arrow("person_overrides", merged_overrides(merges, pointing))

    def _read(self, sql: str, params: Params | None, *, timeout: float | None, readonly: bool) -> pa.Table:
        text, named = _bind(sql, params)
        settings: dict[str, Any] = dict(_SESSION_SETTINGS)
        if timeout:
            settings["max_execution_time"] = timeout
        if readonly:
            # Last, so the settings before it still apply. readonly=1 (not 2) also refuses table functions
            # (file(), url(), Python()...), and a later SETTINGS clause or subquery cannot lift it.
            settings["readonly"] = 1
        # In the statement rather than beside it (session, HTTP parameters): the same text then means the
        # same on both engines, and a driver's own settings cannot land after `readonly`. A newline first,
        # in case the statement ends in a `--` comment.
        clause = "\nSETTINGS " + ", ".join(f"{k} = {_setting_literal(v)}" for k, v in settings.items())
        try:
            return self._query_arrow(text + clause, named, timeout)
        except self._engine_errors as exc:
            message = str(exc)
            if _is_timeout(message):
                raise QueryTimeout(f"query cancelled after {timeout or 0:g} s (limit)") from exc
            # Errors quote the statement; the clause is ours, not the user's.
            message = message.replace(clause, "").replace(f" {clause[1:]}", "")
            raise QueryFailed(_user_message(message)) from exc

    def query(
        self,
        sql: str,
        params: list[JSONScalar] | None = None,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
    ) -> QueryResult:
        """Run one read-only query (no writes, settings changes or file access) under a time limit."""
        # Callers bound the rows (the SQL API wraps queries in LIMIT max_rows + 1).
        table = self._read(sql, params, timeout=timeout, readonly=True)
        return result_from_arrow(table, max_rows)

    def query_arrow(self, sql: str, params: Params | None = None, *, timeout: float | None = None) -> pa.Table:
        """Run a trusted read query and return Arrow."""
        return self._read(sql, params, timeout=timeout, readonly=False)

    def count_events(self, project_id: int) -> int:
        """Number of stored events of a project."""
        table = self._query_arrow(_COUNT_EVENTS_SQL, {"project_id": int(project_id)})
        return int(table.column(0)[0].as_py()) if table.num_rows else 0


def _escaped(text: str, quote: bool = False) -> str:
    """`text` in ClickHouse's Escaped format (query parameter values), optionally as a quoted literal."""
    out = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")
    return "'" + out.replace("'", "\\'") + "'" if quote else out


def _chdb_param(value: Any) -> str:
    """A parameter value as the text chdb hands to ClickHouse unchanged (no driver escapes it for us)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join("NULL" if v is None else _element(v) for v in value) + "]"
    if isinstance(value, str):
        return _escaped(value)
    return str(value)


def _element(value: Any) -> str:
    return _escaped(value, quote=True) if isinstance(value, str) else _chdb_param(value)


def _setting_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return exp.Literal.string(str(value)).sql("clickhouse")


def _directory_locked(path: str) -> bool:
    """Whether another process holds the ClickHouse status-file lock of `path`."""
    status = os.path.join(path, "status")
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing also drops the probe's lock
    return False


class ChdbEventStore(_ClickHouseStore):
    """Embedded ClickHouse (chdb) in a data directory.

    chdb embeds one ClickHouse server per process, bound to one directory: a second directory can only be
    opened after the first is closed. The session is opened once here and kept until `close()`.
    """

    def __init__(self, path: str) -> None:
        from chdb import ChdbError
        from chdb.session import Session

        super().__init__()
        self.path = path
        self._engine_errors = (ChdbError, RuntimeError)
        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            self._session: Any = Session(path)
        except RuntimeError as exc:
            # chdb prints the reason (a held status-file lock) to stderr and raises a bare message.
            if _directory_locked(path):
                raise StoreLocked(
                    f"the events store {path} is in use by another process (is `opsloop serve` running "
                    "on this data dir?). Stop it, or send the data through its HTTP API."
                ) from exc
            raise
        # A chdb session runs one statement at a time (concurrent calls queue inside chdb), so every call
        # takes this lock. Holding it ourselves lets a read give up when its time limit passes while it
        # waits, instead of queueing unbounded behind a slow query; and it keeps Python(...) lookups of
        # the insert path away from any other statement.
        self._engine_lock = threading.Lock()
        for name, value in _SESSION_SETTINGS.items():
            self._execute(f"SET {name} = {_setting_literal(value)}")

    def _execute(self, sql: str) -> None:
        with self._engine_lock:
            self._session.query(sql)

    def _query_arrow(self, sql: str, params: Mapping[str, Any], timeout: float | None = None) -> pa.Table:
        # Waiting for the engine counts against the time limit too, so a read waits at most `timeout`
        # here and then runs at most `timeout` (max_execution_time in the statement).
        if not self._engine_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise QueryTimeout(f"query cancelled after {timeout:g} s (limit): the engine was busy")
        try:
            table: pa.Table = self._session.query(
                sql, "ArrowTable", params={k: _chdb_param(v) for k, v in params.items()}
            )
        finally:
            self._engine_lock.release()
        return table

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        # chdb's Python(name) resolves `name` by walking the calling thread's frames from the innermost
        # outwards, chdb's own wrappers first (their locals include `query`, `sql`, `params`), so the
        # table is bound to a name no frame in between uses, in this very function.
        _opsloop_arrow_rows = rows  # read by chdb through this frame, by name
        # Table and column names come from our own schema constants, never from input.
        cols = ", ".join(f"`{name}`" for name in rows.schema.names)
        insert = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM Python(_opsloop_arrow_rows)"
        with self._engine_lock:
            self._session.query(insert)

    def close(self) -> None:
        """Close the session (parts are on disk once each insert returns) and free the process's chdb slot."""
        with self._write_lock, self._engine_lock:
            if self._session is not None:
                self._session.close()
                self._session = None


class ClickHouseServerEventStore(_ClickHouseStore):
    """A ClickHouse server over HTTP(S), from `clickhouse://user:pass@host:port/db` (`clickhouses://`: TLS).

    Untested against a live server here: its statements are the ones the chdb store runs in the tests,
    only the transport (clickhouse-connect) differs. It was run by hand through clickhouse-connect's
    embedded chdb client (`interface="chdb"`), which checks the driver calls but not HTTP.
    """

    def __init__(self, url: str) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        super().__init__()
        parts = urlsplit(url)
        self._engine_errors = (ClickHouseError,)
        self._client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost",
            port=parts.port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password or ""),
            database=unquote(parts.path.strip("/")) or None,
            secure=parts.scheme == "clickhouses",
            settings=dict(_SESSION_SETTINGS),
            # No server session: concurrent requests of one session id would be refused as locked.
            autogenerate_session_id=False,
        )

    def _execute(self, sql: str) -> None:
        self._client.command(sql)

    def _query_arrow(self, sql: str, params: Mapping[str, Any], timeout: float | None = None) -> pa.Table:
        # The server enforces the time limit (max_execution_time in the statement) and runs requests in
        # parallel, so there is no wait to bound here. The driver binds `{name:Type}` values itself.
        table: pa.Table = self._client.query_arrow(sql, parameters=dict(params))
        return table

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        self._client.insert_arrow(table, rows)

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._client.close()
