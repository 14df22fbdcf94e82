"""Annotations API: list a date range for charts, place or delete one by hand (API key; thin)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from opsloop.annotations.timeline import AnnotationIn, AnnotationInvalid, AnnotationOut
from opsloop.runtime import Runtime
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(prefix="/api/projects/{project_id}/annotations", tags=["annotations"])


@router.get("")
async def list_annotations(
    date_from: dt.date = Query(description="first day (project time), inclusive"),
    date_to: dt.date = Query(description="last day, inclusive"),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> list[AnnotationOut]:
    """Annotations dated in the range, oldest first (what a chart of that range draws)."""
    try:
        return await run_in_threadpool(runtime.annotations.list, project_id, date_from, date_to)
    except AnnotationInvalid as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.post("")
async def add_annotation(
    note: AnnotationIn, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> AnnotationOut:
    """Place an annotation by hand (`date`, `text`, optional `link`)."""
    try:
        return await run_in_threadpool(runtime.annotations.add, project_id, note)
    except AnnotationInvalid as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.delete("/{annotation_id}", status_code=204)
async def delete_annotation(
    annotation_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> None:
    """Delete one annotation."""
    try:
        await run_in_threadpool(runtime.annotations.delete, project_id, annotation_id)
    except AnnotationInvalid as exc:
        raise HTTPException(exc.status, str(exc)) from None
