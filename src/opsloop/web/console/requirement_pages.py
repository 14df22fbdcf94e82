"""Requirements console pages: the board by status, a requirement's page (evidence, metric before / after, PRD
download) and status changes for operators; thin shells over `runtime.requirements` and its reports."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
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


def _refused(exc: RequirementInvalid) -> ConsoleError:
    return ConsoleError(404, "not_found") if exc.status == 404 else ConsoleError(exc.status, str(exc))


@router.get("/projects/{project_id}/requirements")
async def board_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The board: one column per status, each sorted by RICE score."""
    board = await run_in_threadpool(runtime_of(request).requirements.list, access.project.id)
    columns: dict[str, list[Any]] = {status: [] for status in STATUSES}
    for item in board.items:
        columns.setdefault(item.status, []).append(item)
    return render(
        request, "console/requirements.html", {"columns": columns, "statuses": REQUIREMENT_STATUSES, "board": board}
    )


@router.get("/projects/{project_id}/requirements/{requirement_id}")
async def requirement_page(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """A requirement: RICE, linked feedback quotes, revenue of its persons, target metric before and after."""
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
    context = {
        "detail": detail,
        "requirement": requirement,
        "metric_error": metric_error,
        "statuses": REQUIREMENT_STATUSES,
        "notice": request.query_params.get("done") == "status",
    }
    return render(request, "console/requirement.html", context)


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
