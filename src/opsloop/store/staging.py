"""Staging: vectorised validation and shaping of bulk-import batches on a private in-memory DuckDB.

Whatever the events store is, imports are checked here first, so that every row gets the same rules and
a precise reason when it is refused, without a Python loop over millions of rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.ingest.events import MAX_BLOCK_EVENTS
from opsloop.store import rules
from opsloop.store.duckdb import fetch_arrow
from opsloop.store.schema import EVENTS_SCHEMA, SESSION_PROPERTY, UUID_COLUMNS, checked_json

#: Prefixes of extra columns: event property, person `$set`, person `$set_once`.
PROPERTY_PREFIX, SET_PREFIX, SET_ONCE_PREFIX = "p.", "s.", "so."
#: JSON path of the property promoted to the `session_id` column.
_SESSION_PATH = f'$."{SESSION_PROPERTY}"'


@dataclass(frozen=True)
class StagedBatch:
    """A staged batch: valid rows in import order, and the refused rows with reasons."""

    valid: pa.Table  # uuid, event, distinct_id, timestamp, properties, set, set_once, session_id, _row, _did_hash
    rejected: pa.Table  # _row, reason
    #: Whether some valid row carried its own uuid (else every uuid was derived from its row's contents).
    given_uuids: bool = True


def _uuid_bytes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The 16-byte storage of a column of Arrow UUIDs or DuckDB's 128-bit integers (lossless export)."""
    if isinstance(column.type, pa.BaseExtensionType):
        column = pa.chunked_array([chunk.storage for chunk in column.chunks], type=column.type.storage_type)
    if column.type != pa.binary(16):
        raise RuntimeError(f"DuckDB exported a uuid as {column.type}, not 16 bytes (lossless Arrow export)")
    return column


def _either_uuid(given: pa.ChunkedArray | None, derived: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each row's uuid: the one the row carried, else the one derived from its contents."""
    derived_bytes = _uuid_bytes(derived)
    if given is None or given.null_count == len(given):
        chosen = derived_bytes
    elif derived.null_count == len(derived):
        chosen = _uuid_bytes(given)
    else:
        given_bytes = _uuid_bytes(given)
        chosen = pc.if_else(pc.is_valid(given_bytes), given_bytes, derived_bytes)
    return pa.chunked_array(
        [pa.ExtensionArray.from_storage(pa.uuid(), chunk) for chunk in chosen.chunks], type=pa.uuid()
    )


def to_events(valid: pa.Table, project_id: int, person_ids: pa.Array, inserted_at: dt.datetime) -> pa.Table:
    """A staged batch with its rows' person ids as `EVENTS_SCHEMA` (UUIDs may stay Arrow UUIDs), in time order."""
    n = valid.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "uuid": valid.column("uuid"),
        "project_id": pa.nulls(n, pa.int64()).fill_null(project_id),
        "event": valid.column("event"),
        "distinct_id": valid.column("distinct_id"),
        "person_id": person_ids,
        "timestamp": valid.column("timestamp"),
        # Checked here (staging) or by the capture path, and written by DuckDB's own JSON functions.
        "properties": checked_json(valid.column("properties")),
        "session_id": valid.column("session_id"),
        "inserted_at": pa.nulls(n, EVENTS_SCHEMA.field("inserted_at").type).fill_null(inserted_at),
    }
    for name, values in columns.items():
        if not (name in UUID_COLUMNS and values.type == pa.uuid()) and values.type != pa.json_():
            columns[name] = values.cast(EVENTS_SCHEMA.field(name).type)
    table = pa.table(columns)
    times = table.column("timestamp")
    # Time order lets the store's zone maps prune on time; files are usually in order already.
    if n > 1 and not pc.all(pc.less_equal(times.slice(0, n - 1), times.slice(1))).as_py():
        table = table.sort_by("timestamp")
    return table


@dataclass(frozen=True)
class _Plan:
    """How one batch's columns are staged: the query, and which staged columns are the batch's own."""

    types: dict[str, pa.DataType]
    extras: dict[str, list[tuple[str, str, pa.DataType]]]
    #: Staged values that are the batch's own column wherever the query leaves them NULL (no copy).
    same_event: bool
    same_distinct_id: bool
    same_timestamp: bool
    same_properties: bool

    @classmethod
    def of(cls, types: dict[str, pa.DataType], extras: dict[str, list[tuple[str, str, pa.DataType]]]) -> _Plan:
        """The plan for a batch with these column types and extra columns."""
        return cls(
            types,
            extras,
            same_event=rules.is_text(types["event"]),
            same_distinct_id=rules.is_text(types["distinct_id"]),
            same_timestamp=rules.timestamp_passthrough(types["timestamp"]),
            same_properties=rules.properties_passthrough(types.get("properties"), extras[PROPERTY_PREFIX]),
        )

    def sql(self) -> str:
        """One pass over the batch: each row's reason, or its derived values.

        Rows without a uuid get one derived from their contents (`derived_uuid`), whose 16 bytes Arrow
        receives as they are. An empty `$set` is no person update: NULLIF keeps such rows off the per-row
        identity path.
        """
        types, extras = self.types, self.extras
        has_uuid = "uuid" in types
        has_set = "$set" in types or bool(extras[SET_PREFIX])
        has_set_once = "$set_once" in types or bool(extras[SET_ONCE_PREFIX])
        problems = [rules.json_problem(c) for c in ("properties", "$set", "$set_once") if c in types]
        json_problem = (
            (problems[0] if len(problems) == 1 else f"coalesce({', '.join(problems)})")
            if problems
            else "CAST(NULL AS VARCHAR)"
        )
        props = rules.properties_text(types.get("properties"), extras[PROPERTY_PREFIX])
        outputs = [
            "_row",
            "_reason AS reason",
            "CASE WHEN _reason IS NULL THEN _parsed_uuid END AS _given_uuid" if has_uuid else None,
            f"""CASE WHEN _reason IS NULL {"AND _parsed_uuid IS NULL " if has_uuid else ""}THEN {DERIVED_UUID} END
               AS _derived_uuid""",
            rules.changed_text("event", "_ev") + " AS event" if self.same_event else "_ev AS event",
            rules.changed_text("distinct_id", "_did") + " AS distinct_id"
            if self.same_distinct_id
            else "_did AS distinct_id",
            None if self.same_timestamp else '_ts AS "timestamp"',
            None if self.same_properties else "_properties AS properties",
            _person_update("$set" if "$set" in types else None, extras[SET_PREFIX], '"set"') if has_set else None,
            _person_update("$set_once" if "$set_once" in types else None, extras[SET_ONCE_PREFIX], "set_once")
            if has_set_once
            else None,
            "CASE WHEN _reason IS NULL THEN json_extract_string(_properties, $session) END AS session_id",
            "hash(_did) AS _did_hash",
        ]
        return f"""
        WITH src AS (
            SELECT *,
                   {rules.trimmed("event", types["event"])} AS _ev,
                   {rules.trimmed("distinct_id", types["distinct_id"])} AS _did,
                   {rules.timestamp(types["timestamp"])} AS _ts,
                   {
            "try_cast(NULLIF(trim(CAST(uuid AS VARCHAR)), '') AS UUID)" if has_uuid else "NULL"
        } AS _parsed_uuid,
                   {json_problem} AS _json_problem
            FROM _in
        ),
        checked AS (
            SELECT *,
                   CASE
                     WHEN _ev IS NULL THEN 'event is missing'
                     WHEN length(_ev) > 200 THEN 'event is longer than 200 characters'
                     WHEN _did IS NULL THEN 'distinct_id is missing'
                     WHEN length(_did) > 200 THEN 'distinct_id is longer than 200 characters'
                     WHEN _ts IS NULL THEN 'timestamp is missing or not a date-time'
                     WHEN _ts < TIMESTAMPTZ '2000-01-01 00:00:00+00' THEN 'timestamp is before 2000-01-01'
                     WHEN _ts > $future THEN 'timestamp is more than 23 hours in the future'
                     {
            "WHEN _parsed_uuid IS NULL AND NULLIF(trim(CAST(uuid AS VARCHAR)), '') IS NOT NULL "
            "THEN 'uuid is not a valid UUID'"
            if has_uuid
            else ""
        }
                     WHEN _json_problem IS NOT NULL THEN _json_problem
                     ELSE NULL END AS _reason
            FROM src
        ),
        shaped AS (SELECT *, CASE WHEN _reason IS NULL THEN {props} END AS _properties FROM checked)
        SELECT {", ".join(o for o in outputs if o)}
        FROM shaped
        """

    def assemble(self, batch: pa.Table, staged: pa.Table) -> StagedBatch:
        """The staged batch: the query's columns, and the batch's own where they are the same values."""
        if not staged.column("_row").equals(batch.column("_row")):
            raise RuntimeError("the staging query changed the order of the rows")
        n = staged.num_rows
        given = staged.column("_given_uuid") if "_given_uuid" in staged.schema.names else None
        columns = {
            "uuid": _either_uuid(given, staged.column("_derived_uuid")),
            "event": _own_unless_changed(batch, staged, "event", self.same_event),
            "distinct_id": _own_unless_changed(batch, staged, "distinct_id", self.same_distinct_id),
            "timestamp": batch.column("timestamp").cast(_TIMESTAMP)
            if self.same_timestamp
            else staged.column("timestamp"),
            "properties": batch.column("properties").cast(pa.string()).fill_null("{}")
            if self.same_properties
            else staged.column("properties"),
            "set": staged.column("set") if "set" in staged.schema.names else pa.nulls(n, pa.string()),
            "set_once": staged.column("set_once") if "set_once" in staged.schema.names else pa.nulls(n, pa.string()),
            "session_id": staged.column("session_id"),
            "_row": staged.column("_row"),
            "_did_hash": staged.column("_did_hash"),
        }
        shaped = pa.table(columns)
        reasons = staged.column("reason")
        given_uuids = given is not None and given.null_count < len(given)  # refused rows have none
        if reasons.null_count == n:  # the usual case: nothing refused, nothing to copy
            return StagedBatch(valid=shaped, rejected=staged.select(["_row", "reason"])[:0], given_uuids=given_uuids)
        refused = pc.is_valid(reasons)
        return StagedBatch(
            valid=shaped.filter(pc.invert(refused)),
            rejected=staged.filter(refused).select(["_row", "reason"]),
            given_uuids=given_uuids,
        )


#: A row's uuid from its contents: two 64-bit hashes of project, event, distinct id, time and properties,
#: combined in two different orders (the second after a constant), as the 128 bits of a UUID. DuckDB hashes
#: the values where they lie, without building a text to digest (md5 of such a text, which earlier versions
#: used, cost three times as much). A file imported again gets the same uuids, so nothing is stored twice;
#: `tests/store/test_staging.py` pins the values, and would catch a DuckDB release that hashed differently.
DERIVED_UUID = (
    "(CAST(hash($project, _ev, _did, _ts, _properties) AS UHUGEINT) << 64)"
    " | CAST(hash('opsloop', _properties, _ts, _did, _ev, $project) AS UHUGEINT)"
)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_PARSED_UUID = "try_cast(NULLIF(trim(CAST(uuid AS VARCHAR)), '') AS UUID)"


def _person_update(base: str | None, extras: list[tuple[str, str, pa.DataType]], alias: str) -> str:
    """A `$set`-like object of valid rows as text; NULL when empty."""
    merged = rules.merged_object(base, extras)
    return f"CASE WHEN _reason IS NULL THEN CAST(NULLIF({merged}, '{{}}'::JSON) AS VARCHAR) END AS {alias}"


def _own_unless_changed(batch: pa.Table, staged: pa.Table, name: str, same: bool) -> pa.ChunkedArray:
    """A text column: where the query left NULL the batch's own value stands (it needed no change)."""
    if not same:
        return staged.column(name)
    own = batch.column(name).cast(pa.string())
    changed = staged.column(name)
    return own if changed.null_count == len(changed) else pc.coalesce(changed, own)


_hasher: duckdb.DuckDBPyConnection | None = None
_hasher_lock = threading.Lock()


def text_hashes(values: pa.Array) -> np.ndarray:
    """DuckDB's 64-bit `hash` of each text value, as staging computes it for distinct ids (`_did_hash`)."""
    global _hasher
    with _hasher_lock:  # one small in-memory database for the process, opened on first use
        if _hasher is None:
            _hasher = duckdb.connect(":memory:", config={"threads": 1, "enable_external_access": False})
        cur = _hasher.cursor()
    try:
        cur.register("_text", pa.table({"v": values}))
        hashes: np.ndarray = cur.execute("SELECT hash(v) AS h FROM _text").fetchnumpy()["h"]
    finally:
        cur.unregister("_text")
        cur.close()
    return np.asarray(hashes, dtype=np.uint64)


class Stager:
    """Owns one in-memory DuckDB used only to transform import batches."""

    def __init__(self, threads: int | None = None, memory_limit: str = "512MB") -> None:
        config: dict[str, str | bool | int | float | list[str]] = {
            "enable_external_access": False,
            "memory_limit": memory_limit,
        }
        if threads:
            config["threads"] = threads
        self._con = duckdb.connect(":memory:", config=config)
        self._con.execute("SET TimeZone = 'UTC'")
        # UUIDs leave as Arrow UUIDs (16 bytes), not text: the events store takes them as they are, where
        # parsing text costs more than any other step of an insert.
        self._con.execute("SET arrow_lossless_conversion = true")

    def stage(self, batch: pa.Table, project_id: int, now: dt.datetime) -> StagedBatch:
        """Validate and shape one batch whose columns are canonical names plus prefixed extras and `_row`."""
        names = set(batch.schema.names)
        types = {f.name: f.type for f in batch.schema}
        extras: dict[str, list[tuple[str, str, pa.DataType]]] = {
            PROPERTY_PREFIX: [],
            SET_PREFIX: [],
            SET_ONCE_PREFIX: [],
        }
        for name in batch.schema.names:
            for prefix in (SET_ONCE_PREFIX, SET_PREFIX, PROPERTY_PREFIX):
                if name.startswith(prefix):
                    extras[prefix].append((name[len(prefix) :], name, types[name]))
                    break
        missing = [c for c in ("event", "distinct_id", "timestamp") if c not in names]
        if missing:
            raise ValueError(f"the file has no {', '.join(missing)} column (map one with --map COLUMN={missing[0]})")
        plan = _Plan.of(types, extras)
        cur = self._con.cursor()
        try:
            cur.register("_in", batch)
            staged = fetch_arrow(
                cur.execute(
                    plan.sql(),
                    {"future": now + dt.timedelta(hours=23), "project": project_id, "session": _SESSION_PATH},
                )
            )
        finally:
            cur.unregister("_in")
            cur.close()
        return plan.assemble(batch, staged)

    def unpack_log(self, payloads: list[bytes], *, replay: bool = False) -> pa.Table:
        """Ingest-log records (`WireRecord` JSON) as staged rows with `project_id`; `_row` follows log order.

        The request path already validated every event; parsing here happens in DuckDB, outside the GIL,
        so the server keeps answering requests while a batch is written. Events sent without a uuid get
        the one at their index in the record's uuid block (`ingest.events.uuid_in_block`); such a uuid is
        new on the records' first write (`_fresh`), but not when they are written again (`replay`).
        """
        # One copy into an Arrow buffer with computed offsets: converting item by item held the GIL ~15x longer,
        # stalling the request thread. Records are orjson output (UTF-8), checksummed in the log.
        offsets = np.zeros(len(payloads) + 1, dtype=np.int64)
        np.cumsum([len(payload) for payload in payloads], out=offsets[1:])
        text = pa.Array.from_buffers(
            pa.large_string(), len(payloads), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(payloads))]
        )
        log = pa.table({"_p": pa.array(range(len(payloads)), pa.int64()), "payload": text})
        cur = self._con.cursor()
        try:
            cur.register("_log", log)
            rows = fetch_arrow(
                cur.execute(
                    """
                    WITH records AS (
                        SELECT _p, from_json(payload, '{"p": "BIGINT", "u": "VARCHAR", "c": "UBIGINT",
                            "e": [{"u": "VARCHAR", "e": "VARCHAR", "d": "VARCHAR", "t": "BIGINT", "q": "JSON",
                                   "s": "JSON", "o": "JSON"}]}') AS rec
                        FROM _log
                    ),
                    flat AS (
                        SELECT _p, rec.p AS p, rec.u AS block, rec.c AS first,
                               unnest(rec.e) AS r, generate_subscripts(rec.e, 1) AS i
                        FROM records
                    )
                    SELECT p AS project_id, coalesce(r.u, block || printf('%012x', first + i - 1)) AS uuid,
                           r.e AS event, r.d AS distinct_id,
                           CAST(make_timestamp(r.t) AS TIMESTAMPTZ) AS "timestamp",
                           CAST(r.q AS VARCHAR) AS properties, CAST(r.s AS VARCHAR) AS "set",
                           CAST(r.o AS VARCHAR) AS set_once, json_extract_string(r.q, $session) AS session_id,
                           -- log order without a sort: a record holds fewer than $per_record events
                           _p * $per_record + i AS _row, r.u IS NULL AND NOT $replay AS _fresh,
                           hash(r.d) AS _did_hash
                    FROM flat
                    """,
                    {"session": _SESSION_PATH, "per_record": MAX_BLOCK_EVENTS, "replay": replay},
                )
            )
        finally:
            cur.unregister("_log")
            cur.close()
        # Lossless export (on for UUIDs) gives booleans as an extension type; filters want plain booleans.
        return rows.set_column(rows.schema.get_field_index("_fresh"), "_fresh", rows.column("_fresh").cast(pa.bool_()))

    def close(self) -> None:
        """Release the in-memory database."""
        self._con.close()
