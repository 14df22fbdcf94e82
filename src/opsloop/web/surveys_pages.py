"""The hosted survey page `/s/{public_id}` (server-rendered, one question per step, no JavaScript needed)
and the widget script `/static/surveys.js`."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from opsloop.runtime import Runtime
from opsloop.surveys.definitions import END, Answer, SurveyDefinition, SurveyInvalid, next_question
from opsloop.surveys.delivery import SurveyClosed, SurveyNotFound, closed_reason
from opsloop.surveys.language import LocalSurvey, localise, pick_language
from opsloop.surveys.tables import Survey
from opsloop.surveys.tracking import capture_survey_events
from opsloop.web.surveys_api import delivery_for

router = APIRouter(tags=["surveys"])

_WORDS = {
    "en": ("Next", "Thank you!", "Your answers", "Please answer this question."),
    "zh_Hans": ("下一步", "谢谢！", "您的回答", "请回答这个问题。"),
    "es": ("Siguiente", "¡Gracias!", "Tus respuestas", "Responde a esta pregunta."),
}


@cache
def _template() -> jinja2.Template:
    text = resources.files("opsloop.surveys").joinpath("templates/hosted.html").read_text("utf-8")
    return jinja2.Environment(autoescape=True).from_string(text)


@cache
def _widget() -> bytes:
    return resources.files("opsloop.surveys").joinpath("static/surveys.js").read_bytes()


@router.get("/static/surveys.js", include_in_schema=False)
async def widget_script() -> Response:
    """The in-product survey widget (dependency-free JavaScript)."""
    return Response(_widget(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "max-age=300"})


def _page(status: int = 200, **values: Any) -> HTMLResponse:
    html = _template().render(**values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"},
    )


def _render_step(
    survey: LocalSurvey, question_id: str, *, distinct_id: str, response_id: str, message: str = "", status: int = 200
) -> HTMLResponse:
    words = _WORDS.get(survey.language, _WORDS["en"])
    question = next(q for q in survey.questions if q.id == question_id)
    return _page(
        status,
        title=survey.name,
        html_lang=survey.language.replace("_", "-"),
        public_id=survey.public_id,
        question=question,
        distinct_id=distinct_id,
        response_id=response_id,
        lang=survey.language,
        button=words[0],
        message=message,
    )


def _load(runtime: Runtime, public_id: str) -> tuple[Survey, SurveyDefinition]:
    survey = delivery_for(runtime).survey(None, public_id=public_id)
    return survey, SurveyDefinition.model_validate(survey.definition)


@router.get("/s/{public_id}", response_class=HTMLResponse, include_in_schema=False)
async def hosted_survey(request: Request, public_id: str, distinct_id: str = "", lang: str | None = None) -> Response:
    """The first question of a survey, for a link shared outside the product."""
    runtime: Runtime = request.app.state.runtime
    try:
        survey, definition = await run_in_threadpool(_load, runtime, public_id[:64])
    except SurveyNotFound:
        return _page(404, title="Survey not found", html_lang="en", message="This survey does not exist.")
    language = pick_language(
        definition.languages, lang, request.headers.get("accept-language"), definition.default_language
    )
    local = localise(survey.id, survey.public_id, definition, language)
    reason = closed_reason(survey, definition, dt.datetime.now(dt.UTC))
    if reason:
        return _page(409, title=local.name, html_lang=language.replace("_", "-"), message="This survey is closed.")
    who = distinct_id[:400] or f"anon-{uuid.uuid4()}"
    if distinct_id:
        # A link made for a known person counts as shown to them (anonymous visits are not counted: each
        # would look like a new person and deflate the response rate).
        now = dt.datetime.now(dt.UTC)
        event = await run_in_threadpool(
            delivery_for(runtime).record, survey.project_id, survey.id, who, "shown", now=now
        )
        await capture_survey_events(runtime, survey.project_id, [event], now)
    return _render_step(local, definition.questions[0].id, distinct_id=who, response_id="")


def _answer_from_form(definition: SurveyDefinition, question_id: str, values: list[str]) -> object | None:
    question = definition.question(question_id)
    if question is None:
        raise SurveyInvalid("question_id: the survey has no such question")
    values = [v for v in values if v.strip()]
    if not values:
        return None
    if question.scale is not None:
        try:
            return int(values[0])
        except ValueError:
            raise SurveyInvalid(f"answers.{question_id}: must be a whole number") from None
    return values if question.type == "multiple_choice" else values[0]


@router.post("/s/{public_id}", response_class=HTMLResponse, include_in_schema=False)
async def hosted_answer(request: Request, public_id: str) -> Response:
    """Store one step's answer and show the next question (following the branching) or the thank-you page."""
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    distinct_id = str(form.get("distinct_id") or "")[:400] or f"anon-{uuid.uuid4()}"
    response_id = str(form.get("response_id") or "") or None
    question_id = str(form.get("question_id") or "")
    try:
        survey, definition = await run_in_threadpool(_load, runtime, public_id[:64])
    except SurveyNotFound:
        return _page(404, title="Survey not found", html_lang="en", message="This survey does not exist.")
    language = pick_language(definition.languages, str(form.get("lang") or ""), None, definition.default_language)
    local = localise(survey.id, survey.public_id, definition, language)
    words = _WORDS.get(language, _WORDS["en"])
    now = dt.datetime.now(dt.UTC)
    answers: dict[str, Answer] = {}
    try:
        answer = _answer_from_form(definition, question_id, [str(v) for v in form.getlist("answer")])
        question = definition.question(question_id)
        assert question is not None
        if answer is None and question.required:
            return _render_step(
                local, question_id, distinct_id=distinct_id, response_id=response_id or "", message=words[3], status=400
            )
        if answer is not None:
            saved = await run_in_threadpool(
                delivery_for(runtime).respond,
                survey.project_id,
                survey.id,
                distinct_id,
                {question_id: answer},
                now=now,
                response_id=response_id,
                lang=language,
            )
            await capture_survey_events(runtime, survey.project_id, saved.events, now)
            response_id, answers = saved.response_id, saved.answers
    except SurveyInvalid as exc:
        return _render_step(
            local, question_id, distinct_id=distinct_id, response_id=response_id or "", message=str(exc), status=400
        )
    except (SurveyClosed, SurveyNotFound) as exc:
        return _page(409, title=local.name, html_lang=language.replace("_", "-"), message=str(exc))
    target = next_question(definition, question_id, answers.get(question_id))
    if target != END:
        return _render_step(local, target, distinct_id=distinct_id, response_id=response_id or "")
    texts = {q.id: q for q in local.questions}
    summary = []
    for qid, value in answers.items():
        q = texts[qid]
        labels = {c.id: c.text for c in q.choices}
        shown = (
            ", ".join(labels.get(v, v) for v in value)
            if isinstance(value, list)
            else labels.get(str(value), str(value))
        )
        summary.append((q.text, shown))
    return _page(title=local.thank_you or words[1], html_lang=language.replace("_", "-"), summary=summary, message="")
