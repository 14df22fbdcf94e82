"""Engine dialects: one small class per engine holding only what differs (types, DDL, flags)."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from sqlglot import exp

#: Bucket sizes the analytics group time by.
Bucket = Literal["hour", "day", "week", "month"]


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of an engine function by its exact name (the dialect class is what makes it engine-specific)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: str) -> exp.Expression:
    return exp.Literal.string(value)


class Dialect:
    """What the query builder needs to know about an engine; subclasses override only differences."""

    name: ClassVar[str]
    #: sqlglot dialect used to parse and render SQL for this engine.
    sqlglot_name: ClassVar[str]
    #: Replicated tables need `FINAL` (ReplacingMergeTree) to read the latest version of each row.
    replicas_need_final: ClassVar[bool] = False
    #: Events per insert that the engine writes best; bulk writers insert whole multiples of it (0: any size).
    bulk_insert_rows: ClassVar[int] = 0

    def events_ddl(self) -> list[str]:
        """Statements that create the events table and the person replicas if missing."""
        raise NotImplementedError

    def render(self, expression: exp.Expression) -> str:
        """Render a sqlglot expression as SQL for this engine."""
        return expression.sql(dialect=self.sqlglot_name)

    def replica_table(self, name: str) -> exp.Expression:
        """A replicated table as a FROM source returning each row's latest version."""
        table = exp.to_table(name)
        return exp.Final(this=table) if self.replicas_need_final else table

    def placeholder(self) -> exp.Expression:
        """A positional parameter marker (`?`), rendered so that the store's driver understands it."""
        return exp.Placeholder()

    def param(self, name: str, value: Any) -> exp.Expression:
        """A named parameter marker for `value` (bound by the store from a mapping)."""
        return exp.Placeholder(this=name)

    def json_text(self, document: exp.Expression, key: str) -> exp.Expression:
        """A top-level JSON property as text: strings unquoted, numbers and booleans as written, objects as
        JSON; NULL when missing or JSON null."""
        raise NotImplementedError

    def to_number(self, text: exp.Expression) -> exp.Expression:
        """Text as a DOUBLE, NULL when it is not a number."""
        raise NotImplementedError

    def contains_text(self, text: exp.Expression, needle: exp.Expression) -> exp.Expression:
        """Case-insensitive substring test."""
        raise NotImplementedError

    def local_bucket(self, ts: exp.Expression, bucket: Bucket, timezone: str, week_start: str) -> exp.Expression:
        """The local bucket of a UTC timestamp: a DATE (first day of the day / week / month), or for hours
        the local clock hour as text `YYYY-MM-DDTHH:00`."""
        raise NotImplementedError

    def quantile(self, value: exp.Expression, q: float) -> exp.Expression:
        """Exact quantile with linear interpolation between closest ranks (numpy's default)."""
        raise NotImplementedError


class DuckDBDialect(Dialect):
    """DuckDB: the embedded default; replicas are upserted in place under a primary key."""

    name = "duckdb"
    sqlglot_name = "duckdb"

    def json_text(self, document: exp.Expression, key: str) -> exp.Expression:
        """`json_extract_string` with a JSON Pointer path, so no character of the key needs quoting rules."""
        pointer = "/" + key.replace("~", "~0").replace("/", "~1")
        return _fn("json_extract_string", document, _text(pointer))

    def to_number(self, text: exp.Expression) -> exp.Expression:
        """`TRY_CAST(... AS DOUBLE)`."""
        return exp.TryCast(this=text, to=exp.DataType.build("DOUBLE"))

    def contains_text(self, text: exp.Expression, needle: exp.Expression) -> exp.Expression:
        """`contains(lower(a), lower(b))`."""
        return _fn("contains", exp.Lower(this=text), exp.Lower(this=needle))

    def local_bucket(self, ts: exp.Expression, bucket: Bucket, timezone: str, week_start: str) -> exp.Expression:
        """`timezone(tz, ts)` gives the local wall-clock time; buckets truncate it."""
        local = _fn("timezone", _text(timezone), ts)
        if bucket == "hour":
            return _fn("strftime", local, _text("%Y-%m-%dT%H:00"))
        if bucket == "day":
            return exp.cast(local, "DATE")
        if bucket == "week" and week_start == "sunday":
            # ISO weeks start on Monday: shift Sunday into the next ISO week, truncate, shift back.
            shifted = exp.Add(this=local, expression=exp.Interval(this=_text("1"), unit=exp.var("DAY")))
            monday = exp.cast(_fn("date_trunc", _text("week"), shifted), "DATE")
            return exp.Sub(this=monday, expression=exp.Literal.number(1))
        return exp.cast(_fn("date_trunc", _text(bucket), local), "DATE")

    def quantile(self, value: exp.Expression, q: float) -> exp.Expression:
        """`quantile_cont`."""
        return _fn("quantile_cont", value, exp.Literal.number(float(q)))

    #: A row group: DuckDB writes whole row groups compressed straight into the file; a partial one goes
    #: through the write-ahead log and is written again at the next checkpoint.
    bulk_insert_rows = 122_880

    def events_ddl(self) -> list[str]:
        """DuckDB tables; events are appended in arrival order so zone maps prune on time and insert time.

        `events.properties` is JSON text in a VARCHAR (as ClickHouse's String): every writer produces valid
        JSON already, and the JSON type would parse each one again on insert (about a third of its cost).
        DuckDB's JSON functions and `->>` work on it unchanged.
        """
        return [
            """CREATE TABLE IF NOT EXISTS events (
                uuid UUID NOT NULL,
                project_id BIGINT NOT NULL,
                event VARCHAR NOT NULL,
                distinct_id VARCHAR NOT NULL,
                person_id UUID NOT NULL,
                "timestamp" TIMESTAMPTZ NOT NULL,
                properties VARCHAR NOT NULL,
                session_id VARCHAR,
                inserted_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS persons (
                project_id BIGINT NOT NULL,
                id UUID NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                properties JSON NOT NULL,
                is_identified BOOLEAN NOT NULL,
                is_deleted BOOLEAN NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (project_id, id)
            )""",
            """CREATE TABLE IF NOT EXISTS person_distinct_ids (
                project_id BIGINT NOT NULL,
                distinct_id VARCHAR NOT NULL,
                person_id UUID NOT NULL,
                is_deleted BOOLEAN NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (project_id, distinct_id)
            )""",
        ]


class ClickHouseDialect(Dialect):
    """ClickHouse (embedded chdb or a server): MergeTree events, ReplacingMergeTree replicas."""

    name = "clickhouse"
    sqlglot_name = "clickhouse"
    replicas_need_final = True

    def placeholder(self) -> exp.Expression:
        """sqlglot renders a bare placeholder as ClickHouse's `{name: Type}` form; the store binds `?`."""
        return exp.var("?")

    def param(self, name: str, value: Any) -> exp.Expression:
        """`{name: Type}`: ClickHouse parameters carry their type in the statement."""
        return exp.Placeholder(this=name, kind=exp.DataType.build(_clickhouse_type(value), dialect="clickhouse"))

    def json_text(self, document: exp.Expression, key: str) -> exp.Expression:
        """`JSONExtract(doc, key, 'Nullable(String)')`: the key is an argument, not a path."""
        return _fn("JSONExtract", document, _text(key), _text("Nullable(String)"))

    def to_number(self, text: exp.Expression) -> exp.Expression:
        """`toFloat64OrNull`."""
        return _fn("toFloat64OrNull", text)

    def contains_text(self, text: exp.Expression, needle: exp.Expression) -> exp.Expression:
        """`positionCaseInsensitiveUTF8(a, b) > 0`."""
        return exp.GT(this=_fn("positionCaseInsensitiveUTF8", text, needle), expression=exp.Literal.number(0))

    def local_bucket(self, ts: exp.Expression, bucket: Bucket, timezone: str, week_start: str) -> exp.Expression:
        """ClickHouse's date functions take the timezone as their last argument."""
        tz = _text(timezone)
        if bucket == "hour":
            return _fn("formatDateTime", ts, _text("%Y-%m-%dT%H:00"), tz)
        if bucket == "day":
            return _fn("toDate", ts, tz)
        if bucket == "week":
            return _fn("toStartOfWeek", ts, exp.Literal.number(1 if week_start == "monday" else 0), tz)
        return _fn("toStartOfMonth", ts, tz)

    def quantile(self, value: exp.Expression, q: float) -> exp.Expression:
        """`quantileExactInclusive(q)(x)`."""
        # sqlglot renders ParameterizedAgg as `this(expressions)(params)`.
        return exp.ParameterizedAgg(
            this="quantileExactInclusive", expressions=[exp.Literal.number(float(q))], params=[value]
        )

    def events_ddl(self) -> list[str]:
        """ClickHouse tables; events ordered by person so per-person scans (funnels, retention) read in order."""
        return [
            """CREATE TABLE IF NOT EXISTS events (
                uuid UUID,
                project_id Int64,
                event LowCardinality(String),
                distinct_id String,
                person_id UUID,
                timestamp DateTime64(6, 'UTC'),
                properties String,
                session_id Nullable(String),
                inserted_at DateTime64(6, 'UTC')
            ) ENGINE = MergeTree
            PARTITION BY toYYYYMM(timestamp)
            ORDER BY (project_id, person_id, timestamp, uuid)""",
            """CREATE TABLE IF NOT EXISTS persons (
                project_id Int64,
                id UUID,
                created_at DateTime64(6, 'UTC'),
                properties String,
                is_identified Bool,
                is_deleted Bool,
                version Int64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (project_id, id)""",
            """CREATE TABLE IF NOT EXISTS person_distinct_ids (
                project_id Int64,
                distinct_id String,
                person_id UUID,
                is_deleted Bool,
                version Int64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (project_id, distinct_id)""",
        ]


def _clickhouse_type(value: Any) -> str:
    """The ClickHouse type of a parameter value."""
    if isinstance(value, list | tuple):
        inner = {_clickhouse_type(v) for v in value} or {"String"}
        if inner == {"Int64", "Float64"}:
            inner = {"Float64"}
        if len(inner) != 1:
            raise ValueError("a list parameter must hold values of one type")
        return f"Array({inner.pop()})"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, dt.datetime):
        return "DateTime64(6, 'UTC')"
    if isinstance(value, dt.date):
        return "Date"
    if isinstance(value, str):
        return "String"
    raise ValueError(f"unsupported parameter type {type(value).__name__}")


DIALECTS: dict[str, type[Dialect]] = {"duckdb": DuckDBDialect, "clickhouse": ClickHouseDialect}
