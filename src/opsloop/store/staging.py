"""Staging: vectorised validation and shaping of bulk-import batches on a private in-memory DuckDB.

Whatever the events store is, imports are checked here first, so that every row gets the same rules and
a precise reason when it is refused, without a Python loop over millions of rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.ingest.events import MAX_BLOCK_EVENTS
from opsloop.store.duckdb import fetch_arrow
from opsloop.store.schema import EVENTS_SCHEMA, SESSION_PROPERTY, UUID_COLUMNS

#: Prefixes of extra columns: event property, person `$set`, person `$set_once`.
PROPERTY_PREFIX, SET_PREFIX, SET_ONCE_PREFIX = "p.", "s.", "so."
_KNOWN_LIMIT = 5_000_000
#: JSON path of the property promoted to the `session_id` column.
_SESSION_PATH = f'$."{SESSION_PROPERTY}"'
_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


@dataclass(frozen=True)
class StagedBatch:
    """A staged batch: valid rows in import order, and the refused rows with reasons."""

    valid: pa.Table  # uuid, event, distinct_id, timestamp, properties, set, set_once, session_id, _row
    rejected: pa.Table  # _row, reason


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(name: str) -> str:
    return f"NULLIF(trim(CAST({_quote(name)} AS VARCHAR)), '')"


def _json_problem(name: str) -> str:
    """Why a JSON-object column's value is refused, or NULL; a cheap prefix test spares most rows a second parse."""
    col = f"CAST({_quote(name)} AS VARCHAR)"
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN NOT json_valid({col}) THEN '{name} is not valid JSON' "
        f"WHEN starts_with({col}, '{{') THEN NULL "  # valid JSON that opens with a brace is an object
        f"WHEN json_type({col}) <> 'OBJECT' THEN '{name} must be a JSON object' "
        "ELSE NULL END"
    )


def _json_value(name: str, arrow_type: pa.DataType) -> str:
    """A column value as JSON; text that looks like a number or boolean becomes one (CSV has no types)."""
    col = _quote(name)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return (
            f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL "
            f"WHEN regexp_matches({col}, '{_NUMBER}') THEN CAST(CAST({col} AS DOUBLE) AS JSON) "
            f"WHEN lower({col}) IN ('true', 'false') THEN CAST(lower({col}) AS JSON) "
            f"ELSE to_json({col}) END"
        )
    return f"to_json({col})"


def _merged_object(base: str | None, extras: list[tuple[str, str, pa.DataType]]) -> str:
    """JSON object text: `base` (a JSON column) patched with extra columns (null values drop the key)."""
    parts = [f"'{key.replace(chr(39), chr(39) * 2)}', {_json_value(col, typ)}" for key, col, typ in extras]
    expr = f"coalesce(CAST({_quote(base)} AS JSON), '{{}}'::JSON)" if base else "'{}'::JSON"
    if parts:
        expr = f"json_merge_patch({expr}, json_object({', '.join(parts)}))"
    return expr


def _properties_text(base_type: pa.DataType | None, extras: list[tuple[str, str, pa.DataType]]) -> str:
    """The `properties` object as text; a valid text column without extra columns passes through unchanged."""
    if base_type is not None and not extras and _is_text(base_type):
        # The same text `CAST(... AS JSON)` returns, without parsing it a second time (it was checked).
        return f"coalesce(CAST({_quote('properties')} AS VARCHAR), '{{}}')"
    return f"CAST({_merged_object('properties' if base_type is not None else None, extras)} AS VARCHAR)"


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type)
    )


def _timestamp(arrow_type: pa.DataType) -> str:
    col = _quote("timestamp")
    if pa.types.is_timestamp(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return f"to_timestamp(CASE WHEN abs({col}) > 1e11 THEN {col} / 1000.0 ELSE {col} END)"
    if pa.types.is_date(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    return f"try_cast(trim(CAST({col} AS VARCHAR)) AS TIMESTAMPTZ)"


def _uuid_bytes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The 16-byte storage of a column of Arrow UUIDs or DuckDB's 128-bit integers (lossless export)."""
    if isinstance(column.type, pa.BaseExtensionType):
        return pa.chunked_array([chunk.storage for chunk in column.chunks], type=column.type.storage_type)
    return column


def _either_uuid(given: pa.ChunkedArray, derived: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each row's uuid: the one the row carried, else the one derived from its contents."""
    given_bytes, derived_bytes = _uuid_bytes(given), _uuid_bytes(derived)
    if given.null_count == len(given):
        chosen = derived_bytes
    elif derived.null_count == len(derived):
        chosen = given_bytes
    else:
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
        "properties": valid.column("properties"),
        "session_id": valid.column("session_id"),
        "inserted_at": pa.nulls(n, EVENTS_SCHEMA.field("inserted_at").type).fill_null(inserted_at),
    }
    for name, values in columns.items():
        if not (name in UUID_COLUMNS and values.type == pa.uuid()):
            columns[name] = values.cast(EVENTS_SCHEMA.field(name).type)
    table = pa.table(columns)
    times = table.column("timestamp")
    # Time order lets the store's zone maps prune on time; files are usually in order already.
    if n > 1 and not pc.all(pc.less_equal(times.slice(0, n - 1), times.slice(1))).as_py():
        table = table.sort_by("timestamp")
    return table


class Stager:
    """Owns one in-memory DuckDB used only to transform import batches."""

    def __init__(self, threads: int | None = None, memory_limit: str = "512MB") -> None:
        config: dict[str, object] = {"enable_external_access": False, "memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        self._con = duckdb.connect(":memory:", config=config)
        # Distinct id -> person decisions of the identity registry, so that batches join person ids in SQL
        # and only unseen ids and identity rows go through Python.
        self._con.execute("CREATE TABLE _known (project_id BIGINT, distinct_id VARCHAR, person_id UUID)")
        self._known_generation: int | None = None
        self._known_rows = 0
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
        props_text = _properties_text(types.get("properties"), extras[PROPERTY_PREFIX])
        has_set = "$set" in names or extras[SET_PREFIX]
        has_set_once = "$set_once" in names or extras[SET_ONCE_PREFIX]
        set_json = _merged_object("$set" if "$set" in names else None, extras[SET_PREFIX]) if has_set else "NULL"
        set_once_json = (
            _merged_object("$set_once" if "$set_once" in names else None, extras[SET_ONCE_PREFIX])
            if has_set_once
            else "NULL"
        )
        raw_uuid = _string("uuid") if "uuid" in names else "CAST(NULL AS VARCHAR)"
        problems = [_json_problem(c) for c in ("properties", "$set", "$set_once") if c in names]
        json_problem = (
            (problems[0] if len(problems) == 1 else f"coalesce({', '.join(problems)})")
            if problems
            else "CAST(NULL AS VARCHAR)"
        )
        # One pass: every row gets its reason or its shaped values; the split happens in Arrow. An empty `$set`
        # is no person update: NULLIF below keeps such rows off the per-row identity path. Rows without a
        # uuid get one derived from their contents (md5 of the same text as ever, so re-importing a file
        # that an earlier version imported still finds its rows).
        sql = f"""
        WITH src AS (
            SELECT *,
                   {_string("event")} AS _ev,
                   {_string("distinct_id")} AS _did,
                   {_timestamp(types["timestamp"])} AS _ts,
                   {raw_uuid} AS _uuid,
                   {json_problem} AS _json_problem
            FROM _in
        ),
        parsed AS (SELECT *, try_cast(_uuid AS UUID) AS _parsed_uuid FROM src),
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
                     WHEN _uuid IS NOT NULL AND _parsed_uuid IS NULL THEN 'uuid is not a valid UUID'
                     WHEN _json_problem IS NOT NULL THEN _json_problem
                     ELSE NULL END AS _reason
            FROM parsed
        ),
        shaped AS (
            SELECT _row, _reason, _ev, _did, _ts, _parsed_uuid,
                   CASE WHEN _reason IS NULL THEN {props_text} END AS _properties,
                   CASE WHEN _reason IS NULL THEN CAST(NULLIF({set_json}, '{{}}'::JSON) AS VARCHAR) END AS _set,
                   CASE WHEN _reason IS NULL THEN CAST(NULLIF({set_once_json}, '{{}}'::JSON) AS VARCHAR) END
                       AS _set_once
            FROM checked
        )
        SELECT CASE WHEN _reason IS NULL THEN _parsed_uuid END AS _given_uuid,
               -- the md5 digest's 16 bytes, which Arrow receives as they are: the uuid, with no text between
               CASE WHEN _reason IS NULL AND _parsed_uuid IS NULL THEN md5_number(
                   concat_ws('|', $project, _ev, _did, CAST(epoch_us(_ts) AS VARCHAR), _properties)
               ) END AS _derived_uuid,
               _ev AS event, _did AS distinct_id, _ts AS "timestamp", _properties AS properties,
               _set AS "set", _set_once AS set_once,
               CASE WHEN _reason IS NULL THEN json_extract_string(_properties, $session) END AS session_id,
               _row, _reason AS reason
        FROM shaped
        """
        cur = self._con.cursor()
        try:
            cur.register("_in", batch)
            staged = fetch_arrow(
                cur.execute(
                    sql,
                    {"future": now + dt.timedelta(hours=23), "project": str(project_id), "session": _SESSION_PATH},
                )
            )
        finally:
            cur.unregister("_in")
            cur.close()
        uuids = _either_uuid(staged.column("_given_uuid"), staged.column("_derived_uuid"))
        staged = staged.drop_columns(["_given_uuid", "_derived_uuid"]).add_column(0, "uuid", uuids)
        reasons = staged.column("reason")
        if reasons.null_count == staged.num_rows:  # the usual case: nothing refused, nothing to copy
            return StagedBatch(valid=staged.drop_columns(["reason"]), rejected=staged.select(["_row", "reason"])[:0])
        refused = pc.is_valid(reasons)
        return StagedBatch(
            valid=staged.filter(pc.invert(refused)).drop_columns(["reason"]),
            rejected=staged.filter(refused).select(["_row", "reason"]),
        )

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
                           _p * $per_record + i AS _row, r.u IS NULL AND NOT $replay AS _fresh
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

    def sync_known(self, generation: int) -> None:
        """Empty the known-id table when the identity registry's cache was reset (its generation moved)."""
        if generation != self._known_generation or self._known_rows > _KNOWN_LIMIT:
            self._con.execute("DELETE FROM _known")
            self._known_generation = generation
            self._known_rows = 0

    def known_persons(self, distinct_ids: pa.Array, project_id: int) -> pa.Array:
        """The known person (an Arrow UUID) of each of `distinct_ids` (unique), in their order; null if unseen."""
        names = pa.table({"distinct_id": distinct_ids, "_pos": pa.array(range(len(distinct_ids)), pa.int64())})
        cur = self._con.cursor()
        try:
            cur.register("_names", names)
            persons = fetch_arrow(
                cur.execute(
                    """
                    SELECT k.person_id FROM _names AS n
                    LEFT JOIN (SELECT distinct_id, person_id FROM _known WHERE project_id = ?) AS k USING (distinct_id)
                    ORDER BY n._pos
                    """,
                    [project_id],
                )
            ).column(0)
        finally:
            cur.unregister("_names")
            cur.close()
        return persons.combine_chunks() if persons.num_chunks else pa.array([], pa.uuid())

    def remember(self, project_id: int, ids: dict[str, str]) -> None:
        """Record distinct id -> person mappings the identity registry just decided (new, moved, touched)."""
        if not ids:
            return
        mapping = pa.table(
            {"distinct_id": pa.array(list(ids), pa.string()), "person_id": pa.array(list(ids.values()), pa.string())}
        )
        cur = self._con.cursor()
        try:
            cur.register("_m", mapping)
            cur.execute(
                "DELETE FROM _known WHERE project_id = ? AND distinct_id IN (SELECT distinct_id FROM _m)", [project_id]
            )
            cur.execute("INSERT INTO _known SELECT ?, distinct_id, person_id FROM _m", [project_id])
        finally:
            cur.unregister("_m")
            cur.close()
        self._known_rows += mapping.num_rows

    def close(self) -> None:
        """Release the in-memory database."""
        self._con.close()
