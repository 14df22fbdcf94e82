"""The survey editor (operators): "New survey" and "Edit" of a draft survey. The whole page is one form; its
buttons (add, remove, move a question, update the preview) send it back and get it again, so it works without
JavaScript. Saving validates with `SurveyDefinition`: an error comes back next to the form (400), never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from opsloop.accounts.roles import Role
from opsloop.surveys.definitions import END, SCALES, SurveyInvalid
from opsloop.surveys.delivery import SurveyNotFound
from opsloop.surveys.management import SurveyManager, SurveyView
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.rendering import N_, gettext_for, render, request_language
from opsloop.web.console.survey_form import (
    CHOICE_KINDS,
    QUESTION_KINDS,
    SCALE_KINDS,
    SPARE_CHOICES,
    apply_action,
    blank_definition,
    branch_targets,
    definition_from_form,
    editor_languages,
    error_question,
    local_input,
    question_extra,
)
from opsloop.web.console.survey_pages import QUESTION_TYPES

router = console_router()

LANGUAGE_NAMES = {"en": "English", "zh_Hans": "中文", "es": "Español"}
FILTER_OP_LABELS = {
    "eq": "=",
    "neq": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": N_("is one of"),
    "contains": N_("contains"),
    "is_set": N_("is set"),
    "is_not_set": N_("is not set"),
}
NOT_DRAFT = N_(
    "Only draft surveys can be edited: a survey that has run keeps its questions so that its answers stay "
    "comparable. Stop it and create a new survey instead."
)


def _manager(request: Request) -> SurveyManager:
    return SurveyManager(runtime_of(request).metadata)


def _preview_language(request: Request, languages: list[str], asked: str = "") -> str:
    if asked in languages:
        return asked
    page = request_language(request)
    return page if page in languages else "en"


def _scale(question: dict[str, Any]) -> list[int]:
    kind = question.get("type", "")
    if kind in SCALES:
        low, high = SCALES[kind]
        return list(range(low, high + 1))
    if kind == "rating" and isinstance(question.get("scale_max"), int):
        return list(range(1, min(question["scale_max"], 10) + 1))
    return []


def _segments(request: Request, project_id: int) -> dict[int, str]:
    """The project's saved segments, id -> name (a survey can target one)."""
    return {s.id: s.name for s in runtime_of(request).segments.saved(project_id)}


async def _editor(
    request: Request,
    access: ProjectAccess,
    definition: dict[str, Any],
    *,
    survey: SurveyView | None,
    errors: list[str] | None = None,
    preview_language: str = "",
    status: int = 200,
) -> Response:
    segments = await run_in_threadpool(_segments, request, access.project.id)
    languages = editor_languages(definition)
    errors = [e.replace("Value error, ", "") for e in errors or []]
    by_question: dict[int, list[str]] = {}
    for message in errors:
        index = error_question(message, definition)
        if index is not None:
            by_question.setdefault(index, []).append(message)
    targeting = definition.get("targeting") or {}
    timezone = access.project.timezone
    context = {
        "survey": survey,
        "d": definition,
        "text_languages": languages,  # (`languages` is the layout's language switcher)
        "language_names": LANGUAGE_NAMES,
        "question_types": QUESTION_TYPES,
        "kinds": QUESTION_KINDS,
        "choice_kinds": CHOICE_KINDS,
        "scale_kinds": SCALE_KINDS,
        "spare_choices": SPARE_CHOICES,
        "scales": {i: _scale(q) for i, q in enumerate(definition["questions"])},
        "extras": [question_extra(q) for q in definition["questions"]],
        "targets": branch_targets(definition),
        "end": END,
        "errors": errors,
        "question_errors": by_question,
        "filter_ops": FILTER_OP_LABELS,
        "properties": [*targeting.get("properties", []), {}],
        "targeting": targeting,
        "segments": segments,
        "starts_at": local_input(definition.get("starts_at"), timezone),
        "ends_at": local_input(definition.get("ends_at"), timezone),
        "preview_language": _preview_language(request, languages, preview_language),
        "action": f"/projects/{access.project.id}/surveys/{survey.id}/edit"
        if survey
        else f"/projects/{access.project.id}/surveys/new",
    }
    return render(request, "console/survey_editor.html", context, status=status)


async def _draft(request: Request, access: ProjectAccess, survey_id: int) -> SurveyView:
    try:
        survey = await run_in_threadpool(_manager(request).get, access.project.id, survey_id)
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    if survey.status != "draft":
        raise ConsoleError(409, gettext_for(request)(NOT_DRAFT))
    return survey


async def _submit(request: Request, access: ProjectAccess, survey: SurveyView | None) -> Response:
    form = await request.form()
    definition, errors = definition_from_form(form, access.project.timezone)
    action = str(form.get("op") or "save")[:20]
    preview = str(form.get("preview_language") or "")[:16]
    if action != "save":
        apply_action(definition, action, str(form.get("new_type") or "")[:32])
        return await _editor(request, access, definition, survey=survey, errors=errors, preview_language=preview)
    segment = definition["targeting"].get("segment_id")
    if segment is not None and segment not in await run_in_threadpool(_segments, request, access.project.id):
        errors.append(f"targeting.segment_id: no segment {segment} in this project")
    if not errors:
        manager, now, pid = _manager(request), dt.datetime.now(dt.UTC), access.project.id
        try:
            if survey is None:
                saved = await run_in_threadpool(lambda: manager.create(pid, definition, now=now))
            else:
                saved = await run_in_threadpool(lambda: manager.update(pid, survey.id, definition, now=now))
        except SurveyInvalid as exc:
            errors.append(str(exc))
        else:
            return RedirectResponse(f"/projects/{pid}/surveys/{saved.id}?done=saved", status_code=303)
    return await _editor(
        request, access, definition, survey=survey, errors=errors, preview_language=preview, status=400
    )


@router.get("/projects/{project_id}/surveys/new")
async def new_survey_page(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """The editor for a new survey (one NPS question to start from)."""
    return await _editor(request, access, blank_definition(), survey=None)


@router.post("/projects/{project_id}/surveys/new")
async def new_survey(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Create the survey as a draft (`op=save`), or apply an editor action and show the form again."""
    return await _submit(request, access, None)


@router.get("/projects/{project_id}/surveys/{survey_id}/edit")
async def edit_survey_page(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """The editor for a draft survey (409 for one that has run)."""
    survey = await _draft(request, access, survey_id)
    return await _editor(request, access, dict(survey.definition), survey=survey)


@router.post("/projects/{project_id}/surveys/{survey_id}/edit")
async def edit_survey(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Save the draft's new definition, or apply an editor action."""
    survey = await _draft(request, access, survey_id)
    return await _submit(request, access, survey)


@router.post("/projects/{project_id}/surveys/{survey_id}/copy")
async def copy_survey(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """A new draft with the survey's definition (to change a survey that has run), opened in the editor."""
    manager, now, pid = _manager(request), dt.datetime.now(dt.UTC), access.project.id
    try:
        survey = await run_in_threadpool(manager.get, pid, survey_id)
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    definition = {**survey.definition, "name": f"{survey.name} (2)"[:200]}
    copy = await run_in_threadpool(lambda: manager.create(pid, definition, now=now))
    return RedirectResponse(f"/projects/{pid}/surveys/{copy.id}/edit", status_code=303)
