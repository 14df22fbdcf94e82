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

from opsloop.ingest.events import MAX_BLOCK_EVENTS
from opsloop.store.duckdb import fetch_arrow
from opsloop.store.schema import EVENTS_SCHEMA, SESSION_PROPERTY

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


def _timestamp(arrow_type: pa.DataType) -> str:
    col = _quote("timestamp")
    if pa.types.is_timestamp(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return f"to_timestamp(CASE WHEN abs({col}) > 1e11 THEN {col} / 1000.0 ELSE {col} END)"
    if pa.types.is_date(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    return f"try_cast(trim(CAST({col} AS VARCHAR)) AS TIMESTAMPTZ)"


class Stager:
    """Owns one in-memory DuckDB used only to transform import batches."""

    def __init__(self, threads: int | None = None, memory_limit: str = "512MB") -> None:
        config: dict[str, object] = {"enable_external_access": False, "memory_limit": memory_limit}
        if threads:
            config["threads"] = threads
        self._con = duckdb.connect(":memory:", config=config)
        # Distinct id -> person decisions of the identity registry, so that batches join person ids in SQL
        # and only unseen ids and identity rows go through Python.
        self._con.execute("CREATE TABLE _known (project_id BIGINT, distinct_id VARCHAR, person_id VARCHAR)")
        self._known_generation: int | None = None
        self._known_rows = 0
        self._con.execute("SET TimeZone = 'UTC'")

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
        props_json = _merged_object("properties" if "properties" in names else None, extras[PROPERTY_PREFIX])
        has_set = "$set" in names or extras[SET_PREFIX]
        has_set_once = "$set_once" in names or extras[SET_ONCE_PREFIX]
        set_json = _merged_object("$set" if "$set" in names else None, extras[SET_PREFIX]) if has_set else "NULL"
        set_once_json = (
            _merged_object("$set_once" if "$set_once" in names else None, extras[SET_ONCE_PREFIX])
            if has_set_once
            else "NULL"
        )
        raw_uuid = _string("uuid") if "uuid" in names else "NULL"

        def json_check(column: str, label: str) -> str:
            if column not in names:
                return ""
            col = _quote(column)
            return (
                f"WHEN {col} IS NOT NULL AND NOT json_valid(CAST({col} AS VARCHAR)) "
                f"THEN '{label} is not valid JSON' "
                f"WHEN {col} IS NOT NULL AND json_type(CAST({col} AS VARCHAR)) <> 'OBJECT' "
                f"THEN '{label} must be a JSON object' "
            )

        json_checks = "".join(json_check(c, c) for c in ("properties", "$set", "$set_once"))
        json_problem = f"CASE {json_checks} ELSE NULL END" if json_checks else "CAST(NULL AS VARCHAR)"
        # An empty `$set` is no person update: NULLIF below keeps such rows off the per-row identity path.
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
                     WHEN _uuid IS NOT NULL AND try_cast(_uuid AS UUID) IS NULL THEN 'uuid is not a valid UUID'
                     WHEN _json_problem IS NOT NULL THEN _json_problem
                     ELSE NULL END AS _reason
            FROM src
        )
        SELECT _row, _reason AS reason, _ev AS event, _did AS distinct_id, _ts AS ts, _uuid AS raw_uuid,
               CASE WHEN _reason IS NULL THEN CAST({props_json} AS VARCHAR) END AS properties,
               CASE WHEN _reason IS NULL THEN CAST(NULLIF({set_json}, '{{}}'::JSON) AS VARCHAR) END AS "set",
               CASE WHEN _reason IS NULL THEN CAST(NULLIF({set_once_json}, '{{}}'::JSON) AS VARCHAR) END AS set_once
        FROM checked
        """
        cur = self._con.cursor()
        try:
            cur.register("_in", batch)
            cur.execute(f"CREATE OR REPLACE TEMP TABLE _staged AS {sql}", {"future": now + dt.timedelta(hours=23)})
            rejected = fetch_arrow(
                cur.execute("SELECT _row, reason FROM _staged WHERE reason IS NOT NULL ORDER BY _row")
            )
            valid = fetch_arrow(
                cur.execute(
                    """
                    SELECT coalesce(CAST(try_cast(raw_uuid AS UUID) AS VARCHAR),
                                    -- no uuid: derive one from the row, so re-importing a file is idempotent
                                    substr(_h, 1, 8) || '-' || substr(_h, 9, 4) || '-' || substr(_h, 13, 4) || '-'
                                    || substr(_h, 17, 4) || '-' || substr(_h, 21, 12)) AS uuid,
                           event, distinct_id, ts AS "timestamp", properties, "set", set_once,
                           json_extract_string(properties, $session) AS session_id, _row
                    FROM (SELECT *, md5(concat_ws('|', $project, event, distinct_id, CAST(epoch_us(ts) AS VARCHAR),
                                                  properties)) AS _h
                          FROM _staged WHERE reason IS NULL)
                    """,
                    {"project": str(project_id), "session": _SESSION_PATH},
                )
            )
        finally:
            cur.unregister("_in")
            cur.execute("DROP TABLE IF EXISTS _staged")
            cur.close()
        return StagedBatch(valid=valid, rejected=rejected)

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
            return fetch_arrow(
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

    def sync_known(self, generation: int) -> None:
        """Empty the known-id table when the identity registry's cache was reset (its generation moved)."""
        if generation != self._known_generation or self._known_rows > _KNOWN_LIMIT:
            self._con.execute("DELETE FROM _known")
            self._known_generation = generation
            self._known_rows = 0

    def unseen_ids(self, valid: pa.Table, project_id: int) -> pa.Table:
        """Distinct ids of a staged batch not yet in the known-id table, with their earliest timestamp (us)."""
        cur = self._con.cursor()
        try:
            cur.register("_v", valid)
            return fetch_arrow(
                cur.execute(
                    """
                    SELECT distinct_id, epoch_us(min("timestamp")) AS ts FROM _v
                    WHERE distinct_id NOT IN (SELECT distinct_id FROM _known WHERE project_id = ?)
                    GROUP BY distinct_id
                    """,
                    [project_id],
                )
            )
        finally:
            cur.unregister("_v")
            cur.close()

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

    def to_events(self, valid: pa.Table, project_id: int, inserted_at: dt.datetime) -> pa.Table:
        """Attach person ids from the known-id table and shape rows as `EVENTS_SCHEMA`."""
        cur = self._con.cursor()
        try:
            cur.register("_v", valid)
            table = fetch_arrow(
                cur.execute(
                    """
                    SELECT v.uuid, CAST($project AS BIGINT) AS project_id, v.event, v.distinct_id, k.person_id,
                           v."timestamp", v.properties, v.session_id, CAST($now AS TIMESTAMPTZ) AS inserted_at
                    FROM _v AS v JOIN (SELECT * FROM _known WHERE project_id = $project) AS k USING (distinct_id)
                    ORDER BY v."timestamp"
                    """,
                    {"project": project_id, "now": inserted_at},
                )
            )
        finally:
            cur.unregister("_v")
            cur.close()
        if table.num_rows != valid.num_rows:
            raise RuntimeError("an event's distinct id had no person: the identity cache is inconsistent")
        return table.cast(EVENTS_SCHEMA)

    def close(self) -> None:
        """Release the in-memory database."""
        self._con.close()
