"""User-operations API, part two: tags, lifecycle stages, RFM movement and one-click segments, portraits and
refresh, authenticated by a project API key (thin: the work is in `opsloop.users`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field, model_validator

from opsloop.runtime import Runtime
from opsloop.users.definitions import Group
from opsloop.users.lifecycle import LifecycleThresholds, StageCount
from opsloop.users.operations import movement, save_tag_rule, segment_from_rfm, segment_portrait
from opsloop.users.portrait import Dimension, Portrait, portrait_csv
from opsloop.users.refresh import refresh_project
from opsloop.users.rfm import RfmQuery
from opsloop.users.rfm_movement import RfmMovement
from opsloop.users.rfm_settings import RfmSettings
from opsloop.users.segments import SegmentInfo
from opsloop.users.tag_rules import TagRule
from opsloop.users.tags import TagAssignment, TagImport, TagInfo, TagMissing
from opsloop.web.api import authorised_project, get_runtime
from opsloop.web.users_api import _body, _call, _json, _validated

router = APIRouter(prefix="/api/projects/{project_id}")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


async def _run(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`_call`, with missing tags as 404 and the services' own value errors as 400."""
    try:
        return await _call(work, *args, **kwargs)
    except TagMissing as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


class Assignments(BaseModel):
    """Manual tags to set."""

    model_config = {"extra": "forbid"}
    tags: list[TagAssignment] = Field(min_length=1, max_length=10_000)


class MovementQuery(BaseModel):
    """The RFM settings and how far back the previous period is."""

    model_config = {"extra": "forbid"}
    rfm: RfmQuery = Field(description="fields left out come from the project's RFM settings")
    period_days: int = Field(30, ge=1, le=3660)


class RfmSegmentRequest(BaseModel):
    """A saved segment from an RFM segment name or a cell."""

    model_config = {"extra": "forbid"}
    rfm: RfmQuery = Field(description="fields left out come from the project's RFM settings")
    segment: str | None = None
    cell: tuple[int, int] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> RfmSegmentRequest:
        if (self.segment is None) == (self.cell is None):
            raise ValueError("give `segment` (a name of the map) or `cell` ([r, f]), one of them")
        return self


class PortraitRequest(BaseModel):
    """The dimensions of a portrait, the top-events window, and (unsaved) a definition."""

    model_config = {"extra": "forbid"}
    dimensions: list[Dimension] = Field(default_factory=list, max_length=20)
    events_days: int = Field(30, ge=1, le=3660)
    events_limit: int = Field(10, ge=1, le=100)
    definition: Group | None = None


# -- tags ---------------------------------------------------------------------------------------------------


@router.get("/tags")
async def list_tags(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[TagInfo]:
    """Every tag: manual or rule, persons per value, the rule."""
    return await _run(runtime.segments.tags.listing, project_id)


@router.post("/tags")
async def assign_tags(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> TagImport:
    """Set manual tags (`{"tags": [{"distinct_id", "tag", "value"}]}`); refused items are listed."""
    body = await _body(request, Assignments)
    return await _run(runtime.segments.tags.assign, project_id, body.tags)


@router.post("/tags/import")
async def import_tags(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> TagImport:
    """Manual tags from a CSV `distinct_id,tag[,value]`: good rows stored, bad ones reported by line."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the CSV must be UTF-8 text") from None
    return await _run(runtime.segments.tags.import_csv, project_id, text)


@router.delete("/tags/{tag}")
async def remove_tag(
    tag: str,
    distinct_id: str | None = Query(None, description="only this person (default: everyone)"),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, int]:
    """Remove a manual tag from one person or from everyone."""
    return {"removed": await _run(runtime.segments.tags.remove, project_id, tag, distinct_id)}


@router.put("/tags/{tag}/rule")
async def save_rule(
    tag: str, request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Create or replace a rule tag and compute its values now."""
    rule = await _body(request, TagRule)
    await _run(save_tag_rule, runtime.segments, project_id, tag, rule)
    persons = await _run(runtime.segments.tags.compute, runtime.project_context(project_id), tag)
    return {"tag": tag, "persons": persons}


@router.post("/tags/preview")
async def preview_rule(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """What a rule would give now: persons per value (nothing stored)."""
    rule = await _body(request, TagRule)
    found = await _run(runtime.segments.tags.preview, runtime.project_context(project_id), rule)
    counts: dict[str, int] = {}
    for value in found.values():
        counts[value] = counts.get(value, 0) + 1
    return {"persons": len(found), "values": dict(sorted(counts.items()))}


@router.post("/tags/{tag}/compute")
async def compute_rule(
    tag: str, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Recompute a rule tag now."""
    return {"tag": tag, "persons": await _run(runtime.segments.tags.compute, runtime.project_context(project_id), tag)}


@router.delete("/tags/{tag}/rule", status_code=204)
async def delete_rule(
    tag: str, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> None:
    """Delete a rule tag and its values."""
    await _run(runtime.segments.tags.delete_rule, project_id, tag)


# -- persons and lifecycle ----------------------------------------------------------------------------------


@router.get("/persons/{person_id}/profile")
async def person_profile(
    person_id: str, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """A person's current lifecycle stage and tags (for the person page)."""
    ctx = runtime.project_context(project_id)
    stage = await _run(runtime.segments.stages.stage_of, ctx, person_id)
    tags = await _run(runtime.segments.tags.of_person, project_id, person_id)
    return {"person_id": person_id, "stage": stage, "tags": tags}


@router.get("/lifecycle/settings")
async def lifecycle_settings(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> LifecycleThresholds:
    """The project's lifecycle thresholds in days."""
    return await _run(runtime.segments.stages.thresholds, project_id)


@router.put("/lifecycle/settings")
async def set_lifecycle_settings(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> LifecycleThresholds:
    """Change the project's lifecycle thresholds."""
    thresholds = await _body(request, LifecycleThresholds)
    return await _run(runtime.segments.stages.set_thresholds, project_id, thresholds)


@router.get("/lifecycle/counts")
async def lifecycle_counts(
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    interval: Literal["day", "week"] = "day",
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> list[StageCount]:
    """Persons per lifecycle stage as of the end of each day or week (default: the last 30 days)."""
    ctx = runtime.project_context(project_id)
    return await _run(runtime.segments.stages.counts, ctx, date_from, date_to, interval)


# -- RFM ----------------------------------------------------------------------------------------------------


async def _with_saved_rfm(request: Request, runtime: Runtime, project_id: int, model: type[M]) -> M:
    """The body as a model whose `rfm` (absent, or its fields left out) is completed by the saved settings."""
    raw = await _json(request)
    if isinstance(raw, dict) and (raw.get("rfm") is None or isinstance(raw.get("rfm"), dict)):
        completed = await run_in_threadpool(runtime.segments.rfm_settings.completed, project_id, raw.get("rfm"))
        raw = {**raw, "rfm": completed}
    return _validated(model, raw)


@router.get("/rfm/settings")
async def rfm_settings(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RfmSettings:
    """The project's RFM settings: value event, amount property, look-back days and segment map."""
    return await _run(runtime.segments.rfm_settings.settings, project_id)


@router.put("/rfm/settings")
async def set_rfm_settings(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RfmSettings:
    """Replace the project's RFM settings (fields left out take the defaults)."""
    raw = await _json(request)
    if not isinstance(raw, dict):
        raise HTTPException(400, "body: send the RFM settings as a JSON object")
    service = runtime.segments.rfm_settings
    defaults = await run_in_threadpool(service.defaults, project_id)
    settings = _validated(RfmSettings, {**defaults.model_dump(mode="json"), **raw})
    return await _run(service.save, project_id, settings)


@router.post("/rfm/movement")
async def rfm_movement(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RfmMovement:
    """How many persons moved between RFM segments since `period_days` days ago."""
    body = await _with_saved_rfm(request, runtime, project_id, MovementQuery)
    return await _run(movement, runtime.segments, runtime.project_context(project_id), body.rfm, body.period_days)


@router.post("/rfm/segments", status_code=201)
async def rfm_segment(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SegmentInfo:
    """Save a segment holding the buyers of one RFM segment or cell ("one click")."""
    body = await _with_saved_rfm(request, runtime, project_id, RfmSegmentRequest)
    return await _run(
        segment_from_rfm, runtime.segments, project_id, body.rfm, segment=body.segment, cell=body.cell, name=body.name
    )


# -- portraits and refresh ----------------------------------------------------------------------------------


async def _portrait(
    runtime: Runtime, project_id: int, body: PortraitRequest, segment_id: int | None, fmt: str
) -> Response:
    result: Portrait = await _run(
        segment_portrait,
        runtime.segments,
        runtime.project_context(project_id),
        body.dimensions,
        segment_id=segment_id,
        definition=body.definition if segment_id is None else None,
        events_days=body.events_days,
        events_limit=body.events_limit,
    )
    if fmt == "csv":
        name = f"portrait-{segment_id or 'definition'}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return PlainTextResponse(portrait_csv(result), media_type="text/csv", headers=headers)
    return Response(result.model_dump_json(), media_type="application/json")


@router.post("/segments/{segment_id}/portrait")
async def saved_portrait(
    segment_id: int,
    request: Request,
    format: Literal["json", "csv"] = "json",
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """A saved segment's portrait: dimensions against all persons with the lift, and its top events."""
    body = await _body(request, PortraitRequest)
    if body.definition is not None:
        raise HTTPException(400, "definition: a saved segment's portrait takes no definition")
    return await _portrait(runtime, project_id, body, segment_id, format)


@router.post("/portrait")
async def definition_portrait(
    request: Request,
    format: Literal["json", "csv"] = "json",
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """The portrait of an unsaved definition (`definition` in the body)."""
    body = await _body(request, PortraitRequest)
    if body.definition is None:
        raise HTTPException(400, "definition: give the definition whose portrait you want")
    return await _portrait(runtime, project_id, body, None, format)


@router.post("/refresh")
async def refresh(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Recompute every rule tag and refresh every dynamic segment of the project now."""
    report = await _run(refresh_project, runtime.segments, runtime.project_context(project_id))
    return dataclasses.asdict(report)
