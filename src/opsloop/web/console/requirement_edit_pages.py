"""Writing requirements from the console (operators): new / edit forms, link feedback to a requirement (from the
requirement's page and from the inbox), votes, and the public roadmap switch; thin shells over
`runtime.requirements` and `runtime.roadmaps`. Refusals come back next to the form (400), never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from opsloop.accounts.roles import Role
from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.rice import IMPACTS
from opsloop.requirements.schemas import (
    LinkFeedback,
    RequirementCreate,
    RequirementOut,
    RequirementUpdate,
    RoadmapConfig,
    VoteIn,
)
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.feedback_pages import _back_to
from opsloop.web.console.rendering import N_, render
from opsloop.web.console.requirement_pages import REQUIREMENT_STATUSES, board_view, requirement_view

router = console_router()

IMPACT_LABELS = {
    0.25: N_("Minimal (0.25)"),
    0.5: N_("Low (0.5)"),
    1.0: N_("Medium (1)"),
    2.0: N_("High (2)"),
    3.0: N_("Massive (3)"),
}
assert tuple(IMPACT_LABELS) == IMPACTS
_NUMBERS = ("impact", "confidence", "effort", "metric_window_days", "success_target")
_TEXTS = (("description", 50_000), ("success_criteria", 10_000), ("public_summary", 1000))


async def _refused(request: Request, access: ProjectAccess, requirement_id: int, exc: RequirementInvalid) -> Response:
    """A change the requirements service refused: 404 for a requirement that is not there, else its page with
    the reason."""
    if exc.field == "requirement_id":
        raise ConsoleError(404, "not_found") from None
    return await requirement_view(request, access, requirement_id, error=str(exc), status=exc.status)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "form"
    return f"{field}: {str(first.get('msg', 'invalid value')).removeprefix('Value error, ')}"


def _raw(form: FormData) -> tuple[dict[str, Any], str | None]:
    """The form as a requirement body (empty numbers left out), and an error for unreadable JSON."""
    raw: dict[str, Any] = {"title": _field(form, "title", 400).strip()}
    for name, limit in _TEXTS:
        raw[name] = _field(form, name, limit + 1)
    for name in _NUMBERS:
        if value := _field(form, name, 40).strip():
            raw[name] = value
    if status := _field(form, "status", 32):
        raw["status"] = status
    raw["public"] = _field(form, "public", 4) == "1"
    raw["reach_includes_voters"] = _field(form, "reach_includes_voters", 4) == "1"
    metric = _field(form, "target_metric", 20_000).strip()
    if metric:
        try:
            raw["target_metric"] = json.loads(metric)
        except ValueError as exc:
            return raw, f"target_metric: not valid JSON ({exc})"
        if not isinstance(raw["target_metric"], dict):
            return raw, "target_metric: must be a JSON object (a trends or funnel query)"
    return raw, None


def _form_page(
    request: Request,
    access: ProjectAccess,
    values: dict[str, Any],
    *,
    requirement: RequirementOut | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    metric = values.get("target_metric")
    values = {k: int(v) if isinstance(v, float) and v.is_integer() and k != "impact" else v for k, v in values.items()}
    context = {
        "requirement": requirement,
        "v": values,
        "metric_text": json.dumps(metric, ensure_ascii=False, indent=2) if isinstance(metric, dict) else metric or "",
        "statuses": REQUIREMENT_STATUSES,
        "impacts": IMPACT_LABELS,
        "error": error,
    }
    return render(request, "console/requirement_form.html", context, status=status)


@router.get("/projects/{project_id}/requirements/new")
async def new_requirement_page(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """An empty requirement form."""
    values = {"impact": 1.0, "confidence": 80, "effort": 1, "metric_window_days": 14, "status": "under_review"}
    return _form_page(request, access, values, requirement=None)


@router.post("/projects/{project_id}/requirements/new")
async def create_requirement(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Create the requirement; a refused field comes back next to the form."""
    raw, error = _raw(await request.form())
    if error is None:
        try:
            new = RequirementCreate.model_validate(raw)
            created = await run_in_threadpool(runtime_of(request).requirements.create, access.project.id, new)
        except ValidationError as exc:
            error = _first_error(exc)
        except RequirementInvalid as exc:
            error = str(exc)
        else:
            return RedirectResponse(f"/projects/{access.project.id}/requirements/{created.id}?done=saved", 303)
    return _form_page(request, access, raw, requirement=None, error=error, status=400)


async def _requirement(request: Request, access: ProjectAccess, requirement_id: int) -> RequirementOut:
    try:
        return await run_in_threadpool(runtime_of(request).requirements.get, access.project.id, requirement_id)
    except RequirementInvalid:
        raise ConsoleError(404, "not_found") from None


@router.get("/projects/{project_id}/requirements/{requirement_id}/edit")
async def edit_requirement_page(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """The requirement's form with its current values (reach shown, computed)."""
    requirement = await _requirement(request, access, requirement_id)
    return _form_page(request, access, requirement.model_dump(), requirement=requirement)


@router.post("/projects/{project_id}/requirements/{requirement_id}/edit")
async def update_requirement(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Save the form; an empty target metric removes it."""
    requirement = await _requirement(request, access, requirement_id)
    raw, error = _raw(await request.form())
    if error is None:
        body = {**raw, "clear_target_metric": "target_metric" not in raw}
        try:
            change = RequirementUpdate.model_validate(body)
            await run_in_threadpool(runtime_of(request).requirements.update, access.project.id, requirement_id, change)
        except ValidationError as exc:
            error = _first_error(exc)
        except RequirementInvalid as exc:
            error = str(exc)
        else:
            return RedirectResponse(f"/projects/{access.project.id}/requirements/{requirement_id}?done=saved", 303)
    return _form_page(request, access, raw, requirement=requirement, error=error, status=400)


@router.post("/projects/{project_id}/requirements/{requirement_id}/delete")
async def delete_requirement(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Delete a requirement with its links, votes and ship annotation (its feedback items go back to triaged)."""
    await _requirement(request, access, requirement_id)
    await run_in_threadpool(runtime_of(request).requirements.delete, access.project.id, requirement_id)
    return RedirectResponse(f"/projects/{access.project.id}/requirements?done=deleted", 303)


def _item_ids(form: FormData) -> list[int]:
    values = [v for v in form.getlist("item_id") if isinstance(v, str)]
    if not values or not all(v.isdigit() and len(v) <= 10 for v in values):
        raise ConsoleError(400, "item_id: give feedback item numbers")
    return [int(v) for v in values]


@router.post("/projects/{project_id}/requirements/{requirement_id}/link")
async def link_feedback(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Link feedback items (`item_id`, repeatable) to the requirement; reach counts their persons."""
    form = await request.form()
    try:
        link = LinkFeedback(item_ids=_item_ids(form))
        await run_in_threadpool(runtime_of(request).requirements.link, access.project.id, requirement_id, link.item_ids)
    except RequirementInvalid as exc:
        return await _refused(request, access, requirement_id, exc)
    query = _field(form, "fq", 200)
    back = "?" + urlencode({"done": "linked", **({"fq": query} if query else {})})
    return RedirectResponse(f"/projects/{access.project.id}/requirements/{requirement_id}{back}#evidence", 303)


@router.post("/projects/{project_id}/requirements/{requirement_id}/unlink")
async def unlink_feedback(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Unlink one feedback item (it goes back to `triaged` when no other requirement has it)."""
    [item_id, *_] = _item_ids(await request.form())
    try:
        await run_in_threadpool(runtime_of(request).requirements.unlink, access.project.id, requirement_id, item_id)
    except RequirementInvalid as exc:
        return await _refused(request, access, requirement_id, exc)
    return RedirectResponse(f"/projects/{access.project.id}/requirements/{requirement_id}?done=unlinked#evidence", 303)


@router.post("/projects/{project_id}/requirements/{requirement_id}/votes")
async def vote(
    requirement_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Add (`action=add`) or withdraw (`action=remove`) a vote of a person (distinct id) or a user."""
    form = await request.form()
    service = runtime_of(request).requirements
    try:
        ballot = VoteIn(voter_kind=_field(form, "voter_kind", 8) or "person", voter=_field(form, "voter", 400))  # type: ignore[arg-type]
        act = service.unvote if _field(form, "action", 8) == "remove" else service.vote
        await run_in_threadpool(act, access.project.id, requirement_id, ballot)
    except ValidationError as exc:
        return await requirement_view(request, access, requirement_id, error=_first_error(exc), status=400)
    except RequirementInvalid as exc:
        return await _refused(request, access, requirement_id, exc)
    return RedirectResponse(f"/projects/{access.project.id}/requirements/{requirement_id}?done=voted", 303)


@router.post("/projects/{project_id}/feedback/{item_id}/link")
async def link_from_inbox(
    item_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Link one inbox item to the requirement chosen next to it, and go back to the inbox."""
    form = await request.form()
    chosen = _field(form, "requirement_id", 12)
    if not chosen.isdigit():
        raise ConsoleError(400, "requirement_id: choose a requirement")
    try:
        await run_in_threadpool(runtime_of(request).requirements.link, access.project.id, int(chosen), [item_id])
    except RequirementInvalid as exc:
        raise ConsoleError(404, "not_found") if exc.status == 404 else ConsoleError(exc.status, str(exc)) from None
    base = f"/projects/{access.project.id}/feedback"
    target = _back_to(_field(form, "next", 2000), access.project.id, base)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}done=linked#item-{item_id}", status_code=303)


@router.post("/projects/{project_id}/requirements/roadmap")
async def roadmap_settings(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Switch the public roadmap on or off and set its address (slug), title and language."""
    form = await request.form()
    raw: dict[str, Any] = {"enabled": _field(form, "enabled", 4) == "1"}
    for name, limit in (("slug", 80), ("title", 300), ("language", 8)):
        if value := _field(form, name, limit).strip():
            raw[name] = value
    try:
        config = RoadmapConfig.model_validate(raw)
        await run_in_threadpool(runtime_of(request).roadmaps.configure, access.project.id, config)
    except ValidationError as exc:
        return await board_view(request, access, error=_first_error(exc), status=400)
    except RequirementInvalid as exc:
        return await board_view(request, access, error=str(exc), status=exc.status)
    return RedirectResponse(f"/projects/{access.project.id}/requirements?done=roadmap#roadmap", status_code=303)
