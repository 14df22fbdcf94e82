"""Read API: queries and persons, authenticated by a project API key (thin: services do the work)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from opsloop.query.registry import QueryInvalid, run_query
from opsloop.query.sql import SqlRejected
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.persons import PersonDetail, find_person

router = APIRouter(prefix="/api")


def get_runtime(request: Request) -> Runtime:
    """The process runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def authorised_project(project_id: int, request: Request, runtime: Runtime = Depends(get_runtime)) -> int:
    """The path's project id, if the bearer API key belongs to it; 401 / 403 otherwise."""
    auth = request.headers.get("authorization", "")
    key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not key:
        raise HTTPException(401, "send a project API key as `Authorization: Bearer <key>`")
    key_project = runtime.projects.project_for_api_key(key)
    if key_project is None:
        raise HTTPException(401, "the API key is not valid")
    if key_project != project_id:
        raise HTTPException(403, f"this API key does not give access to project {project_id}")
    return project_id


_QUERY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object", "required": ["kind"]},
            "example": {"kind": "sql", "query": "select event, count(*) from events group by 1"},
        }
    },
}


@router.post("/projects/{project_id}/query", openapi_extra={"requestBody": _QUERY_BODY})
async def query(
    request: Request,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """Run one query object (`kind` picks the analysis) against the project's data."""
    # The body is JSON whatever the Content-Type says (`curl -d` sends a form type).
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from None
    try:
        ctx = runtime.project_context(project_id)
        return await run_in_threadpool(run_query, runtime.store, ctx, body, runtime.settings)
    except (QueryInvalid, SqlRejected) as exc:
        raise HTTPException(400, str(exc)) from None
    except QueryTimeout as exc:
        raise HTTPException(408, str(exc)) from None
    except QueryFailed as exc:
        raise HTTPException(400, f"the query failed: {exc}") from None


@router.get("/projects/{project_id}/persons/{distinct_id}")
async def person(
    distinct_id: str,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> PersonDetail:
    """A person by any of its distinct ids: properties, all ids and recent events."""
    found = await run_in_threadpool(find_person, runtime.metadata, runtime.store, project_id, distinct_id)
    if found is None:
        raise HTTPException(404, f"no person with distinct id {distinct_id!r} in project {project_id}")
    return found
