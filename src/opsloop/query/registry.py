"""The query kinds the API, CLI and saved tiles accept: an explicit registry from `kind` to its runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from opsloop.config import Settings
from opsloop.query.sql import SqlQuery, run_sql
from opsloop.store.events import EventStore


class QueryInvalid(ValueError):
    """The query object is malformed; the message names the field at fault."""


@dataclass(frozen=True)
class QueryKind:
    """How to validate and run one kind of query."""

    model: type[BaseModel]
    run: Callable[[EventStore, int, Any, Settings], dict[str, Any]]


def _run_sql(store: EventStore, project_id: int, query: SqlQuery, settings: Settings) -> dict[str, Any]:
    result = run_sql(store, project_id, query, timeout=settings.sql_timeout_seconds, max_rows=settings.sql_max_rows)
    return asdict(result)


QUERY_KINDS: dict[str, QueryKind] = {"sql": QueryKind(SqlQuery, _run_sql)}


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
        raise QueryInvalid(f"{where}: {first['msg']}") from None


def run_query(store: EventStore, project_id: int, body: Any, settings: Settings) -> dict[str, Any]:
    """Validate and run a query for a project; returns the kind's JSON result."""
    query = parse_query(body)
    return QUERY_KINDS[query.kind].run(store, project_id, query, settings)  # type: ignore[attr-defined]
