"""Survey console pages: the list, a survey's results (with CSV export), activate / stop; thin shells over
`opsloop.surveys` (the editor is in `survey_editor_pages`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from opsloop.accounts.roles import Role
from opsloop.surveys.definitions import SurveyInvalid, SurveyStatus
from opsloop.surveys.delivery import SurveyNotFound
from opsloop.surveys.management import SurveyManager
from opsloop.surveys.results import SurveyResults, load_responses, load_results, response_counts, responses_csv
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, render, request_language

router = console_router()

SURVEY_STATUSES = {"draft": N_("Draft"), "active": N_("Active"), "stopped": N_("Stopped")}
QUESTION_TYPES = {
    "nps": N_("NPS"),
    "csat": N_("CSAT"),
    "ces": N_("Customer effort"),
    "rating": N_("Rating"),
    "single_choice": N_("Single choice"),
    "multiple_choice": N_("Multiple choice"),
    "open_text": N_("Open text"),
}
OPEN_TEXT_SHOWN = 100
_STATUS_CHANGES: dict[str, SurveyStatus] = {"active": "active", "stopped": "stopped"}


def _manager(request: Request) -> SurveyManager:
    return SurveyManager(runtime_of(request).metadata)


@router.get("/projects/{project_id}/surveys")
async def surveys_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The project's surveys with their status and response counts."""
    metadata = runtime_of(request).metadata
    surveys = await run_in_threadpool(_manager(request).list, access.project.id)
    counts = await run_in_threadpool(response_counts, metadata, access.project.id)
    context = {
        "surveys": surveys,
        "counts": counts,
        "statuses": SURVEY_STATUSES,
        "deleted": request.query_params.get("done") == "deleted",
    }
    return render(request, "console/surveys.html", context)


def _charts(results: SurveyResults) -> dict[str, Any]:
    """Weekly NPS (with its interval) and CSAT per question, for the charts drawn by voice.js."""
    charts: dict[str, Any] = {}
    for q in results.questions:
        weeks = [w for w in q.weekly if w.nps or w.csat]
        if not weeks:
            continue
        scores = [w.nps or w.csat for w in weeks]
        charts[q.id] = {
            "kind": q.type,
            "x": [w.key for w in weeks],
            "y": [round(s.value, 1) for s in scores if s],
            "low": [round(s.low, 1) for s in scores if s],
            "high": [round(s.high, 1) for s in scores if s],
        }
    return charts


@router.get("/projects/{project_id}/surveys/{survey_id}")
async def results_page(
    survey_id: int,
    request: Request,
    access: ProjectAccess = Depends(require_member()),
    breakdown: str = Query("", max_length=200),
) -> Response:
    """A survey's results: response rate, NPS / CSAT with 95% intervals, over time, choices, open text."""
    runtime = runtime_of(request)
    project = access.project
    language = request_language(request)  # questions and choices in the page's language when the survey has it
    try:
        survey = await run_in_threadpool(_manager(request).get, project.id, survey_id)
        results = await run_in_threadpool(
            lambda: load_results(
                runtime.metadata,
                project.id,
                survey_id,
                timezone=project.timezone,
                first_day=project.week_start,
                breakdown=breakdown.strip() or None,
                language=language,
                themes=runtime.themes,  # open-text answers with the feedback theme they belong to
            )
        )
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    context = {
        "survey": survey,
        "results": results,
        "charts": _charts(results),
        "definition_json": json.dumps(survey.definition, ensure_ascii=False, indent=2),
        "statuses": SURVEY_STATUSES,
        "question_types": QUESTION_TYPES,
        "breakdown": breakdown.strip(),
        "open_text_shown": OPEN_TEXT_SHOWN,
        "notice": request.query_params.get("done") in {"active", "stopped"},
        "saved": request.query_params.get("done") == "saved",
    }
    return render(request, "console/survey_results.html", context)


@router.get("/projects/{project_id}/surveys/{survey_id}/responses.csv")
async def responses_export(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """Every response as CSV (UTF-8 with BOM; formula-like cells neutralised)."""
    try:
        definition, records, _ = await run_in_threadpool(
            load_responses, runtime_of(request).metadata, access.project.id, survey_id
        )
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    return Response(
        responses_csv(definition, records).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id}-responses.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/projects/{project_id}/surveys/{survey_id}/status")
async def change_status(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Activate (`status=active`) or stop (`status=stopped`) a survey."""
    form = await request.form()
    status = _STATUS_CHANGES.get(_field(form, "status", 16))
    if status is None:
        raise ConsoleError(400, "status: choose active or stopped")
    now = dt.datetime.now(dt.UTC)
    try:
        await run_in_threadpool(lambda: _manager(request).set_status(access.project.id, survey_id, status, now=now))
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    except SurveyInvalid as exc:
        raise ConsoleError(400, str(exc)) from None
    return RedirectResponse(f"/projects/{access.project.id}/surveys/{survey_id}?done={status}", status_code=303)


@router.post("/projects/{project_id}/surveys/{survey_id}/delete")
async def delete_survey(
    survey_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Delete a survey with its impressions and responses (its events stay in the events store)."""
    try:
        await run_in_threadpool(_manager(request).delete, access.project.id, survey_id)
    except SurveyNotFound:
        raise ConsoleError(404, "not_found") from None
    return RedirectResponse(f"/projects/{access.project.id}/surveys?done=deleted", status_code=303)
