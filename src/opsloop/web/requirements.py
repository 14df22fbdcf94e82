"""Requirements board API (API key; thin: `opsloop.requirements` does the work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.reports import MAX_REVENUE_DAYS, REVENUE_DAYS
from opsloop.requirements.schemas import (
    LinkFeedback,
    RequirementCreate,
    RequirementDetail,
    RequirementOut,
    RequirementPage,
    RequirementUpdate,
    RoadmapConfig,
    RoadmapState,
    SortKey,
    Status,
    StatusChangeOut,
    VoteIn,
    VoterKind,
)
from opsloop.runtime import Runtime
from opsloop.store.events import QueryTimeout
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(prefix="/api/projects/{project_id}", tags=["requirements"])
T = TypeVar("T")
RevenueDays = Annotated[int, Query(ge=1, le=MAX_REVENUE_DAYS, description="revenue window in days, ending today")]


async def _call(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a service call off the event loop; its errors become HTTP errors naming the field."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except RequirementInvalid as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except QueryTimeout as exc:
        raise HTTPException(408, str(exc)) from None


@router.get("/requirements")
async def list_requirements(
    status: Status | None = None,
    sort: SortKey = "score",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementPage:
    """The board, sorted (`score` by default, highest first)."""
    return await _call(runtime.requirements.list, project_id, status=status, sort=sort, descending=order == "desc")


@router.post("/requirements", status_code=201)
async def create_requirement(
    body: RequirementCreate, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RequirementOut:
    """Add a requirement (optionally linking `feedback_ids`)."""
    return await _call(runtime.requirements.create, project_id, body)


@router.get("/requirements/{requirement_id}")
async def get_requirement(
    requirement_id: int,
    revenue_days: RevenueDays = REVENUE_DAYS,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementDetail:
    """A requirement's page: RICE, history, linked feedback, revenue of its persons, metric before/after."""
    return await _call(runtime.requirement_reports.detail, project_id, requirement_id, revenue_days=revenue_days)


@router.patch("/requirements/{requirement_id}")
async def update_requirement(
    requirement_id: int,
    body: RequirementUpdate,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementOut:
    """Change fields or status (shipping places an annotation)."""
    return await _call(runtime.requirements.update, project_id, requirement_id, body)


@router.delete("/requirements/{requirement_id}", status_code=204)
async def delete_requirement(
    requirement_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> None:
    """Delete a requirement (its feedback stays in the inbox)."""
    await _call(runtime.requirements.delete, project_id, requirement_id)


@router.get("/requirements/{requirement_id}/history")
async def requirement_history(
    requirement_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[StatusChangeOut]:
    """Status changes, oldest first."""
    return await _call(runtime.requirements.history, project_id, requirement_id)


@router.post("/requirements/{requirement_id}/feedback")
async def link_feedback(
    requirement_id: int,
    body: LinkFeedback,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementOut:
    """Link feedback items (`{"item_ids": [...]}`); they become `linked`."""
    return await _call(runtime.requirements.link, project_id, requirement_id, body.item_ids)


@router.delete("/requirements/{requirement_id}/feedback/{item_id}")
async def unlink_feedback(
    requirement_id: int,
    item_id: int,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementOut:
    """Unlink one item."""
    return await _call(runtime.requirements.unlink, project_id, requirement_id, item_id)


@router.post("/requirements/{requirement_id}/votes")
async def vote(
    requirement_id: int,
    body: VoteIn,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementOut:
    """Add a vote; one per person (any of their distinct ids) or user: 409 on a second one."""
    return await _call(runtime.requirements.vote, project_id, requirement_id, body)


@router.delete("/requirements/{requirement_id}/votes")
async def unvote(
    requirement_id: int,
    voter: Annotated[str, Query(min_length=1, max_length=400)],
    voter_kind: VoterKind = "person",
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> RequirementOut:
    """Withdraw a vote (`?voter=...&voter_kind=person|user`)."""
    return await _call(
        runtime.requirements.unvote, project_id, requirement_id, VoteIn(voter_kind=voter_kind, voter=voter)
    )


@router.get("/requirements/{requirement_id}/prd.md", response_class=PlainTextResponse)
async def export_prd(
    requirement_id: int,
    revenue_days: RevenueDays = REVENUE_DAYS,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> PlainTextResponse:
    """The requirement as a PRD in Markdown."""
    text = await _call(runtime.requirement_reports.prd, project_id, requirement_id, revenue_days=revenue_days)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get("/roadmap")
async def roadmap_settings(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RoadmapState:
    """The public roadmap switch (off by default) and its address."""
    return await _call(runtime.roadmaps.settings, project_id)


@router.put("/roadmap")
async def configure_roadmap(
    body: RoadmapConfig, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> RoadmapState:
    """Switch the public roadmap on or off; optionally set its `slug` and `title`."""
    return await _call(runtime.roadmaps.configure, project_id, body)
