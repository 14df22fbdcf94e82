"""Engine dialects: one small class per engine holding only what differs (types, DDL, flags)."""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp


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


class DuckDBDialect(Dialect):
    """DuckDB: the embedded default; replicas are upserted in place under a primary key."""

    name = "duckdb"
    sqlglot_name = "duckdb"
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


DIALECTS: dict[str, type[Dialect]] = {"duckdb": DuckDBDialect, "clickhouse": ClickHouseDialect}
