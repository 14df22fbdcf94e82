"""Surveys over HTTP: the respondent side (project token, for the widget and SDKs) and management (API key)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from opsloop.runtime import Runtime
from opsloop.surveys.definitions import SurveyInvalid
from opsloop.surveys.delivery import SurveyClosed, SurveyDelivery, SurveyNotFound
from opsloop.surveys.management import SurveyManager, SurveySettingsView, SurveyView
from opsloop.surveys.results import SurveyResults, load_responses, load_results, responses_csv
from opsloop.surveys.tracking import capture_survey_events
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(tags=["surveys"])

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}
#: Largest respondent request body (answers included).
MAX_BODY = 64 * 1024


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=_CORS)


def _error(status: int, detail: str) -> Response:
    return _json(status, {"detail": detail})


def delivery_for(runtime: Runtime) -> SurveyDelivery:
    """The runtime's respondent-side survey service (segment checker: `runtime.survey_segments` when set)."""
    service = getattr(runtime, "_survey_delivery", None)
    if service is None:
        service = SurveyDelivery(runtime.metadata, getattr(runtime, "survey_segments", None))
        runtime._survey_delivery = service  # type: ignore[attr-defined]
    return service


def _token_project(runtime: Runtime, token: Any) -> int:
    if not isinstance(token, str) or not token:
        raise _Refused(401, "token: send the project token")
    project_id = runtime.projects.project_for_token(token)
    if project_id is None:
        raise _Refused(401, "token: the project token is not valid")
    return project_id


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise _Refused(413, f"the body is {len(raw)} bytes; the limit is {MAX_BODY}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Refused(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Refused(400, "the body must be a JSON object")
    return body


def _refusal(exc: Exception) -> Response:
    if isinstance(exc, _Refused):
        return _error(exc.status, exc.detail)
    if isinstance(exc, SurveyNotFound):
        return _error(404, str(exc))
    if isinstance(exc, SurveyClosed):
        return _error(409, str(exc))
    return _error(400, str(exc))


_EXPECTED = (_Refused, SurveyNotFound, SurveyClosed, SurveyInvalid)


@router.get("/api/surveys/active")
async def active_surveys(
    request: Request,
    token: str = "",
    distinct_id: str = "",
    event: str | None = None,
    lang: str | None = None,
) -> Response:
    """Surveys this person should see now, in their language (`lang`, else Accept-Language, else default)."""
    runtime: Runtime = request.app.state.runtime
    try:
        project_id = _token_project(runtime, token)
        found = await run_in_threadpool(
            delivery_for(runtime).active,
            project_id,
            distinct_id,
            now=dt.datetime.now(dt.UTC),
            event=event,
            lang=lang,
            accept_language=request.headers.get("accept-language"),
        )
    except _EXPECTED as exc:
        return _refusal(exc)
    return _json(200, {"surveys": [s.model_dump(mode="json") for s in found]})


async def _impression(request: Request, survey_id: int, kind: Literal["shown", "dismissed"]) -> Response:
    runtime: Runtime = request.app.state.runtime
    now = dt.datetime.now(dt.UTC)
    try:
        body = await _body(request)
        project_id = _token_project(runtime, body.get("token"))
        event = await run_in_threadpool(
            delivery_for(runtime).record, project_id, survey_id, str(body.get("distinct_id") or ""), kind, now=now
        )
        await capture_survey_events(runtime, project_id, [event], now)
    except _EXPECTED as exc:
        return _refusal(exc)
    return _json(200, {"ok": True})


@router.post("/api/surveys/{survey_id}/shown")
async def survey_shown(request: Request, survey_id: int) -> Response:
    """Record that the survey was shown (body: token, distinct_id); also captured as `survey shown`."""
    return await _impression(request, survey_id, "shown")


@router.post("/api/surveys/{survey_id}/dismissed")
async def survey_dismissed(request: Request, survey_id: int) -> Response:
    """Record that the person closed the survey (body: token, distinct_id); captured as `survey dismissed`."""
    return await _impression(request, survey_id, "dismissed")


@router.post("/api/surveys/{survey_id}/responses")
async def survey_response(request: Request, survey_id: int) -> Response:
    """Store answers (body: token, distinct_id, answers, optional response_id and lang); partial answers kept."""
    runtime: Runtime = request.app.state.runtime
    now = dt.datetime.now(dt.UTC)
    try:
        body = await _body(request)
        project_id = _token_project(runtime, body.get("token"))
        answers = body.get("answers")
        if not isinstance(answers, dict):
            raise SurveyInvalid("answers: must be an object from question id to answer")
        response_id = body.get("response_id")
        if response_id is not None and not isinstance(response_id, str):
            raise SurveyInvalid("response_id: must be text")
        lang = body.get("lang") if isinstance(body.get("lang"), str) else None
        saved = await run_in_threadpool(
            delivery_for(runtime).respond,
            project_id,
            survey_id,
            str(body.get("distinct_id") or ""),
            answers,
            now=now,
            response_id=response_id,
            lang=lang,
        )
        await capture_survey_events(runtime, project_id, saved.events, now)
    except _EXPECTED as exc:
        return _refusal(exc)
    return _json(200, {"response_id": saved.response_id, "completed": saved.completed, "answers": saved.answers})


async def _preflight() -> Response:
    return Response(status_code=204, headers=_CORS)


for _path in (
    "/api/surveys/active",
    "/api/surveys/{survey_id}/shown",
    "/api/surveys/{survey_id}/dismissed",
    "/api/surveys/{survey_id}/responses",
):
    router.add_api_route(_path, _preflight, methods=["OPTIONS"], include_in_schema=False)


# ---- management (API key) ----

_BASE = "/api/projects/{project_id}/surveys"


def _manager(runtime: Runtime) -> SurveyManager:
    return SurveyManager(runtime.metadata)


async def _json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from None


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except SurveyNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except SurveyInvalid as exc:
        raise HTTPException(400, str(exc)) from None


@router.get(_BASE)
async def list_surveys(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[SurveyView]:
    """The project's surveys."""
    return await run_in_threadpool(_manager(runtime).list, project_id)


@router.post(_BASE, status_code=201)
async def create_survey(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SurveyView:
    """Create a draft survey from a definition."""
    body = await _json_body(request)
    return await run_in_threadpool(_call, _manager(runtime).create, project_id, body, now=dt.datetime.now(dt.UTC))


@router.get(_BASE + "/settings")
async def survey_settings(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SurveySettingsView:
    """The project's survey settings (cooldown between surveys)."""
    return await run_in_threadpool(_manager(runtime).settings, project_id)


@router.put(_BASE + "/settings")
async def save_survey_settings(
    settings: SurveySettingsView,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> SurveySettingsView:
    """Change the project's survey settings."""
    return await run_in_threadpool(_manager(runtime).save_settings, project_id, settings)


@router.get(_BASE + "/{survey_id}")
async def get_survey(
    survey_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SurveyView:
    """One survey."""
    return await run_in_threadpool(_call, _manager(runtime).get, project_id, survey_id)


@router.put(_BASE + "/{survey_id}")
async def update_survey(
    survey_id: int,
    request: Request,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> SurveyView:
    """Replace a survey's definition."""
    body = await _json_body(request)
    now = dt.datetime.now(dt.UTC)
    return await run_in_threadpool(_call, _manager(runtime).update, project_id, survey_id, body, now=now)


@router.delete(_BASE + "/{survey_id}", status_code=204)
async def delete_survey(
    survey_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> None:
    """Delete a survey, its impressions and responses."""
    await run_in_threadpool(_call, _manager(runtime).delete, project_id, survey_id)


@router.post(_BASE + "/{survey_id}/activate")
async def activate_survey(
    survey_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SurveyView:
    """Start showing the survey."""
    now = dt.datetime.now(dt.UTC)
    return await run_in_threadpool(_call, _manager(runtime).set_status, project_id, survey_id, "active", now=now)


@router.post(_BASE + "/{survey_id}/stop")
async def stop_survey(
    survey_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> SurveyView:
    """Stop the survey: no longer shown, answers refused."""
    now = dt.datetime.now(dt.UTC)
    return await run_in_threadpool(_call, _manager(runtime).set_status, project_id, survey_id, "stopped", now=now)


@router.get(_BASE + "/{survey_id}/results")
async def survey_results(
    survey_id: int,
    breakdown: str | None = Query(None, max_length=200, description="person property to break scores down by"),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> SurveyResults:
    """Response rate, NPS / CSAT with 95% intervals, weekly scores, breakdown, choices, open-text answers."""
    ctx = runtime.project_context(project_id)
    return await run_in_threadpool(
        _call,
        load_results,
        runtime.metadata,
        project_id,
        survey_id,
        timezone=ctx.timezone,
        first_day=ctx.week_start,
        breakdown=breakdown,
    )


@router.get(_BASE + "/{survey_id}/responses.csv")
async def survey_responses_csv(
    survey_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> Response:
    """Every response as CSV (UTF-8 with BOM; formula-like cells neutralised)."""
    definition, records, _ = await run_in_threadpool(_call, load_responses, runtime.metadata, project_id, survey_id)
    return Response(
        responses_csv(definition, records).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{survey_id}-responses.csv"'},
    )
