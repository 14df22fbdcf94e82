"""The read-only SQL API: one SELECT over a project's `events` and `persons`, checked and rewritten.

Defence in depth: (1) the statement is parsed and must be a single query; (2) every table it reads is
resolved with sqlglot's scope analysis and must be `events` or `persons`, which are replaced by
project-filtered relations; (3) table functions and functions that reach outside the database are
refused; (4) the engine itself runs with file and network access off (DuckDB) or `readonly` (ClickHouse);
(5) a time limit and a row limit apply.
"""

from __future__ import annotations

from typing import Literal

import sqlglot
from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.scope import traverse_scope

from opsloop.store.dialects import Dialect
from opsloop.store.events import EventStore, QueryResult
from opsloop.store.relations import project_events, project_persons

_EVENTS_CTE = "__ol_events"
_PERSONS_CTE = "__ol_persons"
_VISIBLE = {"events": _EVENTS_CTE, "persons": _PERSONS_CTE}
_RESERVED_PREFIXES = ("__ol_", "duckdb_", "pg_", "sqlite_", "information_schema", "system")
_RESERVED_NAMES = {"events", "persons", "person_distinct_ids", "person_overrides"}
#: Functions that read files, the network, settings or run other SQL.
_FORBIDDEN_FUNCTIONS = {
    "getenv",
    "current_setting",
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "read_json",
    "read_json_auto",
    "read_json_objects",
    "read_ndjson",
    "read_text",
    "read_blob",
    "glob",
    "query",
    "query_table",
    "file",
    "url",
    "remote",
    "remotesecure",
    "s3",
    "s3cluster",
    "hdfs",
    "mysql",
    "postgresql",
    "postgres_scan",
    "sqlite_scan",
    "jdbc",
    "odbc",
    "executable",
    "input",
    "cluster",
    "clusterallreplicas",
    "dictionary",
    "getsetting",
    "getmacro",
    "filesystemavailable",
    "filesystemcapacity",
    "gcs",
    "azureblobstorage",
    "iceberg",
    "deltalake",
    "hudi",
    "mongodb",
    "redis",
    "python",
    "loadextension",
    "load",
}
#: Table functions that only generate values.
_ALLOWED_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest)


class SqlRejected(ValueError):
    """The SQL cannot run in the sandbox; the message says why."""


class SqlQuery(BaseModel):
    """`{"kind": "sql", "query": "select ..."}`: a read-only query over `events` and `persons`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sql"] = "sql"
    query: str = Field(min_length=1, max_length=100_000, description="One SELECT statement.")


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def sandbox_sql(sql: str, project_id: int, dialect: Dialect, *, max_rows: int | None = None) -> str:
    """Check `sql` and return it rewritten to read only `project_id`'s data."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect.sqlglot_name) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise SqlRejected(f"could not parse the SQL{where}: {first.get('description', exc)}") from None
    if len(statements) != 1:
        raise SqlRejected(f"send exactly one statement (got {len(statements)})")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise SqlRejected(f"only SELECT queries are allowed (got {statement.key.upper()})")
    for node in statement.walk():
        if isinstance(node, exp.DML | exp.DDL | exp.Command | exp.Set | exp.Pragma):
            raise SqlRejected(f"only SELECT queries are allowed ({node.key.upper()} found)")
        if isinstance(node, exp.Func) and _function_name(node) in _FORBIDDEN_FUNCTIONS:
            raise SqlRejected(f"function {_function_name(node)}() is not available in the SQL API")
    for cte in statement.find_all(exp.CTE):
        name = cte.alias_or_name.lower()
        if name in _RESERVED_NAMES or name.startswith(_RESERVED_PREFIXES):
            raise SqlRejected(f"the name {cte.alias_or_name!r} is reserved; rename the CTE")
    checked: set[int] = set()
    try:
        scopes = traverse_scope(statement)
    except Exception as exc:  # noqa: BLE001 - sqlglot raises several types for queries it cannot scope
        raise SqlRejected(f"could not resolve the tables of the query: {exc}") from None
    for scope in scopes:
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue
            checked.add(id(source))
            if not isinstance(source.this, exp.Identifier):
                if isinstance(source.this, _ALLOWED_TABLE_FUNCTIONS):
                    continue
                raise SqlRejected("table functions are not available in the SQL API; read `events` or `persons`")
            if source.args.get("db") or source.args.get("catalog"):
                raise SqlRejected(f"qualified table names are not allowed: {source.sql()}")
            name = source.name.lower()
            if name not in _VISIBLE:
                raise SqlRejected(f"unknown table {source.name!r}: the SQL API can read `events` and `persons`")
            alias = source.alias or source.name
            source.set("this", exp.to_identifier(_VISIBLE[name]))
            source.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    cte_names = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        if id(table) not in checked and table.name not in cte_names:
            raise SqlRejected(f"could not resolve table {table.sql()!r}")
    wrapped = (
        exp.select("*")
        .from_(statement.subquery("q"))
        .with_(_EVENTS_CTE, as_=project_events(project_id, dialect))
        .with_(_PERSONS_CTE, as_=project_persons(project_id, dialect))
    )
    if max_rows is not None:
        wrapped = wrapped.limit(max_rows + 1)
    return dialect.render(wrapped)


def run_sql(store: EventStore, project_id: int, query: SqlQuery, *, timeout: float, max_rows: int) -> QueryResult:
    """Run a sandboxed query for a project."""
    sql = sandbox_sql(query.query, project_id, store.dialect, max_rows=max_rows)
    return store.query(sql, timeout=timeout, max_rows=max_rows)
