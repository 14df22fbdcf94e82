"""The query kinds the API, CLI and saved tiles accept: an explicit registry from `kind` to its runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from opsloop.analytics.runner import Analysis, run_analysis
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
    run: Callable[[EventStore, ProjectContext, Any, Settings], dict[str, Any]]


def _run_sql(store: EventStore, ctx: ProjectContext, query: SqlQuery, settings: Settings) -> dict[str, Any]:
    result = run_sql(store, ctx.project_id, query, timeout=settings.sql_timeout_seconds, max_rows=settings.sql_max_rows)
    return asdict(result)


def _analysis_kind(analysis: Analysis[Any, Any]) -> QueryKind:
    def run(store: EventStore, ctx: ProjectContext, query: Any, settings: Settings) -> dict[str, Any]:
        result = run_analysis(analysis, store, ctx, query, timeout=settings.query_timeout_seconds)
        return result.model_dump(mode="json")  # type: ignore[no-any-return]

    return QueryKind(analysis.model, run)


ANALYSES: dict[str, Analysis[Any, Any]] = {"trends": TRENDS}
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


def run_query(store: EventStore, ctx: ProjectContext, body: Any, settings: Settings) -> dict[str, Any]:
    """Validate and run a query for a project; returns the kind's JSON result."""
    query = parse_query(body)
    return QUERY_KINDS[query.kind].run(store, ctx, query, settings)  # type: ignore[attr-defined]
