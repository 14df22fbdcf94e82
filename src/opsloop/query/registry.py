"""The query kinds the API, CLI and saved tiles accept: an explicit registry from `kind` to its runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from opsloop.analytics import (
    active_users,
    distribution,
    funnels,
    growth,
    lifecycle,
    paths,
    retention,
    stickiness,
)
from opsloop.analytics.runner import Analysis, run_analysis
from opsloop.analytics.tables import SqlResult, TableResult
from opsloop.analytics.timeframe import ProjectContext
from opsloop.analytics.trends import TRENDS
from opsloop.config import Settings
from opsloop.query.sql import SqlQuery, run_sql
from opsloop.store.events import EventStore


class QueryInvalid(ValueError):
    """The query object is malformed; the message names the field at fault."""


@dataclass(frozen=True)
class QueryKind:
    """How to validate and run one kind of query."""

    model: type[BaseModel]
    execute: Callable[[EventStore, ProjectContext, Any, Settings], TableResult]


def _run_sql(store: EventStore, ctx: ProjectContext, query: SqlQuery, settings: Settings) -> SqlResult:
    result = run_sql(store, ctx.project_id, query, timeout=settings.sql_timeout_seconds, max_rows=settings.sql_max_rows)
    return SqlResult(columns=result.columns, data=result.rows, truncated=result.truncated, types=result.types)


def _analysis_kind(analysis: Analysis[Any, Any]) -> QueryKind:
    def execute(store: EventStore, ctx: ProjectContext, query: Any, settings: Settings) -> TableResult:
        result: TableResult = run_analysis(analysis, store, ctx, query, timeout=settings.query_timeout_seconds)
        return result

    return QueryKind(analysis.model, execute)


ANALYSES: dict[str, Analysis[Any, Any]] = {
    "trends": TRENDS,
    **active_users.ANALYSES,
    **stickiness.ANALYSES,
    **retention.ANALYSES,
    **funnels.ANALYSES,
    **paths.ANALYSES,
    **lifecycle.ANALYSES,
    **distribution.ANALYSES,
    **growth.ANALYSES,
}
QUERY_KINDS: dict[str, QueryKind] = {
    "sql": QueryKind(SqlQuery, _run_sql),
    **{kind: _analysis_kind(analysis) for kind, analysis in ANALYSES.items()},
}


def parse_query(body: Any) -> BaseModel:
    """Validate a query object (`{"kind": ..., ...}`) into its typed model."""
    if not isinstance(body, dict):
        raise QueryInvalid("the query must be a JSON object with a `kind`")
    kind = body.get("kind")
    if kind not in QUERY_KINDS:
        raise QueryInvalid(f"unknown query kind {kind!r}; available: {', '.join(sorted(QUERY_KINDS))}")
    try:
        return QUERY_KINDS[kind].model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "query"
        message = first["msg"].removeprefix("Value error, ")
        raise QueryInvalid(f"{where}: {message}") from None


def execute_query(store: EventStore, ctx: ProjectContext, query: Any, settings: Settings) -> TableResult:
    """Run a query (a query object as JSON, or an already validated query model); returns its typed result."""
    model = query if isinstance(query, BaseModel) else parse_query(query)
    return QUERY_KINDS[model.kind].execute(store, ctx, model, settings)  # type: ignore[attr-defined]


def result_json(result: TableResult) -> dict[str, Any]:
    """A typed result as the JSON the API returns."""
    if isinstance(result, SqlResult):
        return result.to_json()
    return result.model_dump(mode="json")


def run_query(store: EventStore, ctx: ProjectContext, body: Any, settings: Settings) -> dict[str, Any]:
    """Validate and run a query object for a project; returns the kind's JSON result."""
    return result_json(execute_query(store, ctx, body, settings))
