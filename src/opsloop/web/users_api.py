"""User-operations API: the property catalogue and segments, authenticated by a project API key (thin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ValidationError

from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.catalogue import CatalogueEdit, CatalogueEntryMissing, CatalogueItem, EntryKind
from opsloop.users.definitions import Group
from opsloop.users.rfm import RfmQuery, RfmResult, run_rfm
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.segments import SegmentInfo, SegmentInput, SegmentMissing, SizePoint
from opsloop.users.static_lists import ListInvalid
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(prefix="/api/projects/{project_id}")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def _call(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service call off the event loop, turning its errors into clear HTTP errors."""
    try:
        return await run_in_threadpool(work, *args, **kwargs)
    except (SegmentInvalid, ListInvalid) as exc:
        raise HTTPException(400, str(exc)) from None
    except (SegmentMissing, CatalogueEntryMissing) as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except QueryTimeout as exc:
        raise HTTPException(408, str(exc)) from None
    except QueryFailed as exc:
        raise HTTPException(400, f"the query failed: {exc}") from None


async def _json(request: Request) -> Any:
    """The JSON body, unvalidated; a 400 when it is not JSON."""
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from None


def _validated(model: type[M], raw: Any) -> M:
    """A JSON value as a model; a 400 naming the first field at fault."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HTTPException(400, f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


async def _body(request: Request, model: type[M]) -> M:
    """The JSON body as a model; a 400 naming the first field at fault."""
    return _validated(model, await _json(request))


# -- catalogue ----------------------------------------------------------------------------------------------


@router.get("/catalogue")
async def catalogue(
    kind: EntryKind | None = None,
    include_hidden: bool = True,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> list[CatalogueItem]:
    """Every event name, event property and person property received, with statistics and descriptions."""
    return await _call(runtime.catalogue.entries, project_id, kind, include_hidden=include_hidden)


@router.post("/catalogue/refresh")
async def refresh_catalogue(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, int]:
    """Recompute the catalogue's statistics from the events."""
    return {"entries": await _call(runtime.catalogue.refresh, project_id)}


@router.patch("/catalogue/{kind}/{name}")
async def edit_catalogue(
    kind: EntryKind,
    name: str,
    request: Request,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> CatalogueItem:
    """Change an entry's description, display name or hidden flag."""
    change = await _body(request, CatalogueEdit)
    return await _call(runtime.catalogue.edit, project_id, kind, name, change)


# -- segments -----------------------------------------------------------------------------------------------


@router.get("/segments")
async def list_segments(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[SegmentInfo]:
    """The project's segments."""
    return await _call(runtime.segments.saved, project_id)


@router.post("/segments", status_code=201)
async def create_segment(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SegmentInfo:
    """Save a segment (`{"name", "kind", "definition"}`)."""
    return await _call(runtime.segments.create, project_id, await _body(request, SegmentInput))


@router.post("/segments/size")
async def size_of_definition(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, int]:
    """The live size of an unsaved definition (the body is the definition)."""
    definition = await _body(request, Group)
    ctx = runtime.project_context(project_id)
    return {"size": await _call(runtime.segments.size_of, ctx, definition)}


@router.get("/segments/{segment_id}")
async def get_segment(
    segment_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SegmentInfo:
    """One segment."""
    return await _call(runtime.segments.get, project_id, segment_id)


@router.put("/segments/{segment_id}")
async def update_segment(
    segment_id: int,
    request: Request,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> SegmentInfo:
    """Replace a segment's name, description and definition."""
    return await _call(runtime.segments.update, project_id, segment_id, await _body(request, SegmentInput))


@router.delete("/segments/{segment_id}", status_code=204)
async def delete_segment(
    segment_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> None:
    """Delete a segment no other segment refers to."""
    await _call(runtime.segments.delete, project_id, segment_id)


@router.get("/segments/{segment_id}/size")
async def segment_size(
    segment_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """The live size of a saved segment, and its size history."""
    ctx = runtime.project_context(project_id)
    history: list[SizePoint] = await _call(runtime.segments.history, project_id, segment_id)
    size = await _call(runtime.segments.size_now, ctx, segment_id)
    return {"size": size, "history": [p.model_dump(mode="json") for p in history]}


@router.post("/segments/{segment_id}/refresh")
async def refresh_segment(
    segment_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SegmentInfo:
    """Materialise the membership now and add its size to the history."""
    return await _call(runtime.segments.refresh, runtime.project_context(project_id), segment_id)


@router.get("/segments/{segment_id}/members.csv", response_class=PlainTextResponse)
async def export_members(
    segment_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> PlainTextResponse:
    """The members at the last refresh as CSV (`person_id,distinct_ids`)."""
    text = await _call(runtime.segments.export_csv, runtime.project_context(project_id), segment_id)
    headers = {"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'}
    return PlainTextResponse(text, media_type="text/csv", headers=headers)


@router.post("/segments/{segment_id}/import")
async def import_list(
    segment_id: int,
    request: Request,
    replace: bool = Query(True, description="replace the list (false: add to it)"),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> SegmentInfo:
    """Upload a static segment's ids: a CSV whose header is `distinct_id` or `person_id`."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the CSV must be UTF-8 text") from None
    return await _call(runtime.segments.import_list, project_id, segment_id, text, replace=replace)


# -- RFM ----------------------------------------------------------------------------------------------------


@router.post("/rfm")
async def rfm(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RfmResult:
    """RFM scores of the buyers: the 5 x 5 R x F grid with buyers and revenue, and totals per segment; fields
    the body leaves out (`segment_map`, ...) come from the project's RFM settings."""
    raw = await _json(request)
    if isinstance(raw, dict):
        raw = await run_in_threadpool(runtime.segments.rfm_settings.completed, project_id, raw)
    query = _validated(RfmQuery, raw)
    ctx = runtime.project_context(project_id)
    return await _call(run_rfm, runtime.store, ctx, query, timeout=runtime.settings.query_timeout_seconds)
