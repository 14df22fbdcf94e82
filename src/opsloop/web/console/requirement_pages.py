"""Requirements console pages: the board by status, a requirement's page (evidence, metric before / after, PRD
download) and status changes for operators; thin shells over `runtime.requirements` and its reports."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.feedback.schemas import FeedbackFilter
from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.schemas import STATUSES, RequirementDetail, RequirementUpdate
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, render

router = console_router()

REQUIREMENT_STATUSES = {
    "under_review": N_("Under review"),
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "shipped": N_("Shipped"),
    "declined": N_("Declined"),
}
assert tuple(REQUIREMENT_STATUSES) == STATUSES
DONE_NOTICES = {
    "saved": N_("Requirement saved."),
    "linked": N_("Feedback linked: reach and score are counted again."),
    "unlinked": N_("Feedback unlinked."),
    "voted": N_("Votes updated."),
}
ROADMAP_LANGUAGES = {"en": "English", "zh": "中文", "es": "Español"}
#: Inbox items offered by the link search box.
CANDIDATES = 20


def _refused(exc: RequirementInvalid) -> ConsoleError:
    return ConsoleError(404, "not_found") if exc.status == 404 else ConsoleError(exc.status, str(exc))


async def board_view(
    request: Request, access: ProjectAccess, *, error: str | None = None, status: int = 200
) -> Response:
    """The board page, with the public roadmap settings (and an error next to them, if any)."""
    runtime = runtime_of(request)
    board = await run_in_threadpool(runtime.requirements.list, access.project.id)
    roadmap = await run_in_threadpool(runtime.roadmaps.settings, access.project.id)
    columns: dict[str, list[Any]] = {status: [] for status in STATUSES}
    for item in board.items:
        columns.setdefault(item.status, []).append(item)
    context = {
        "columns": columns,
        "statuses": REQUIREMENT_STATUSES,
        "board": board,
        "roadmap": roadmap,
        "roadmap_languages": ROADMAP_LANGUAGES,
        "error": error,
        "notice": request.query_params.get("done") == "roadmap" and error is None,
        "deleted": request.query_params.get("done") == "deleted" and error is None,
    }
    return render(request, "console/requirements.html", context, status=status)


@router.get("/projects/{project_id}/requirements")
async def board_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The board: one column per status, each sorted by RICE score."""
    return await board_view(request, access)


@router.get("/projects/{project_id}/requirements/{requirement_id}")
async def requirement_page(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """A requirement: RICE, linked feedback quotes, revenue of its persons, target metric before and after."""
    return await requirement_view(request, access, requirement_id)


async def _candidates(request: Request, access: ProjectAccess, query: str, linked: set[int]) -> list[Any]:
    """Inbox items whose text contains `query`, not yet linked (for the link search box)."""
    if not query:
        return []
    found = await run_in_threadpool(
        runtime_of(request).feedback.search, access.project.id, FeedbackFilter(q=query, limit=CANDIDATES)
    )
    return [item for item in found.items if item.id not in linked]


async def requirement_view(
    request: Request, access: ProjectAccess, requirement_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    """A requirement's page (with an error of a refused change shown at the top, if any)."""
    reports = runtime_of(request).requirement_reports
    detail: RequirementDetail | None = None
    metric_error = None
    try:
        detail = await run_in_threadpool(reports.detail, access.project.id, requirement_id)
        requirement = detail.requirement
    except RequirementInvalid as exc:
        if exc.field != "target_metric":
            raise _refused(exc) from None
        # The target metric cannot run (e.g. its event was renamed): show the rest, and say why.
        metric_error = str(exc)
        requirement = await run_in_threadpool(runtime_of(request).requirements.get, access.project.id, requirement_id)
    query = request.query_params.get("fq", "").strip()[:200]
    linked = {f.id for f in detail.feedback} if detail else set()
    if detail is None:
        items = await run_in_threadpool(
            runtime_of(request).requirements.linked_items, access.project.id, requirement_id
        )
        linked = {i.id for i in items}
    done = request.query_params.get("done", "")
    context = {
        "detail": detail,
        "requirement": requirement,
        "metric_error": metric_error,
        "statuses": REQUIREMENT_STATUSES,
        "notice": done == "status",
        "done": done if done in DONE_NOTICES and error is None else "",
        "done_notices": DONE_NOTICES,
        "error": error,
        "link_query": query,
        "candidates": await _candidates(request, access, query, linked) if access.can(Role.operator) else [],
    }
    return render(request, "console/requirement.html", context, status=status)


@router.get("/projects/{project_id}/requirements/{requirement_id}/prd.md")
async def prd_download(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """The requirement as a PRD in Markdown (a download)."""
    try:
        text = await run_in_threadpool(runtime_of(request).requirement_reports.prd, access.project.id, requirement_id)
    except RequirementInvalid as exc:
        raise _refused(exc) from None
    return Response(
        text.encode("utf-8"),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="requirement-{requirement_id}-prd.md"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/projects/{project_id}/requirements/{requirement_id}/status")
async def change_status(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Move a requirement to another status (shipping places an annotation on charts)."""
    form = await request.form()
    try:
        change = RequirementUpdate.model_validate({"status": _field(form, "status", 32)})
        await run_in_threadpool(runtime_of(request).requirements.update, access.project.id, requirement_id, change)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConsoleError(400, f"status: {first.get('msg', 'invalid value')}") from None
    except RequirementInvalid as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/projects/{access.project.id}/requirements/{requirement_id}?done=status", status_code=303)
