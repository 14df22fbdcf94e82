"""Feedback API: apps and support tools send feedback with the project token; the inbox and its themes are
read and triaged with an API key (thin: `opsloop.feedback` does the work)."""

from __future__ import annotations

import io
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from opsloop.feedback.errors import FeedbackInvalid, ThemeError
from opsloop.feedback.schemas import (
    BatchResult,
    FeedbackFilter,
    FeedbackItemOut,
    FeedbackPage,
    FeedbackUpdate,
    ImportReport,
    ThemeAnalysis,
    ThemeSummary,
)
from opsloop.projects import API_KEY_PREFIX
from opsloop.runtime import Runtime
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(prefix="/api/projects/{project_id}/feedback")

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
}
_SEND_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"type": "object"},
            "example": {"text": "Login with Google spins forever", "distinct_id": "user-42", "tags": ["ios"]},
        }
    },
}


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=_CORS)


async def _body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise FeedbackInvalid("body", f"the body is {length} bytes; the limit is {limit}", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FeedbackInvalid("body", f"the body is larger than {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _sender_project(request: Request, runtime: Runtime, project_id: int) -> None:
    """Check the project token (or an API key) in `Authorization: Bearer` or `?token=` against the path."""
    auth = request.headers.get("authorization", "")
    credential = auth[7:].strip() if auth.lower().startswith("bearer ") else request.query_params.get("token", "")
    if not credential:
        raise FeedbackInvalid("token", "send the project token as `Authorization: Bearer <token>` or ?token=", 401)
    if credential.startswith(API_KEY_PREFIX):
        owner = runtime.projects.project_for_api_key(credential)
    else:
        owner = runtime.projects.project_for_token(credential)
    if owner is None:
        raise FeedbackInvalid("token", "the project token is not valid", 401)
    if owner != project_id:
        raise FeedbackInvalid("token", f"this token does not write to project {project_id}", 403)


@router.post("", openapi_extra={"requestBody": _SEND_BODY}, response_model=BatchResult)
async def send_feedback(project_id: int, request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    """Store one item (`{"text": ...}`) or a batch (`{"batch": [...]}`); authenticated by the project token."""
    try:
        _sender_project(request, runtime, project_id)
        body = await _body(request, runtime.settings.max_body_bytes)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise FeedbackInvalid("body", f"the body is not valid JSON: {exc}") from None
        inbox = runtime.feedback
        if isinstance(payload, dict) and "batch" in payload:
            if not isinstance(payload["batch"], list):
                raise FeedbackInvalid("batch", "`batch` must be a list of feedback items")
            result = await run_in_threadpool(inbox.create_batch, project_id, payload["batch"])
            if not result.accepted and result.errors:
                first = result.errors[0]
                return _json(
                    400,
                    {
                        "detail": f"no valid items: batch.{first.index}.{first.field}: {first.reason}",
                        "errors": [e.model_dump() for e in result.errors],
                    },
                )
        else:
            item = inbox.validate(payload)
            stored = await run_in_threadpool(inbox.create, project_id, item)
            result = BatchResult(accepted=1, items=[stored], errors=[])
    except FeedbackInvalid as exc:
        return _json(exc.status, {"detail": str(exc)})
    return _json(200, result.model_dump(mode="json"))


@router.options("", include_in_schema=False)
async def preflight(project_id: int) -> Response:
    """CORS pre-flight for the in-product widget."""
    return Response(status_code=204, headers=_CORS)


def _fail(exc: FeedbackInvalid | ThemeError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.get("")
async def search_feedback(
    query: Annotated[FeedbackFilter, Query()],
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> FeedbackPage:
    """Search the inbox: text contains `q`, status, tag, theme, source, sentiment, date range; newest first."""
    return await run_in_threadpool(runtime.feedback.search, project_id, query)


@router.post("/import")
async def import_feedback(
    request: Request, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> ImportReport:
    """Import a CSV body (header row with a `text` column); bad rows come back with their line numbers."""
    try:
        body = await _body(request, runtime.settings.max_body_bytes)
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FeedbackInvalid("body", "the CSV file must be UTF-8") from None
        return await run_in_threadpool(runtime.feedback.import_csv, project_id, io.StringIO(text, newline=""))
    except FeedbackInvalid as exc:
        raise _fail(exc) from None


class RenameTheme(BaseModel):
    """New label of a theme."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=200)


class MergeThemes(BaseModel):
    """Themes to merge into the first one, and optionally its new label."""

    model_config = ConfigDict(extra="forbid")
    theme_ids: list[int] = Field(min_length=2)
    label: str | None = Field(default=None, max_length=200)


class SplitTheme(BaseModel):
    """Into how many themes to split one."""

    model_config = ConfigDict(extra="forbid")
    parts: int = Field(default=2, ge=2, le=10)


@router.get("/themes")
async def list_themes(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[ThemeSummary]:
    """The project's themes: label, keywords, size, sentiment, weekly trend and example quotes."""
    try:
        return await run_in_threadpool(runtime.themes.list_themes, project_id)
    except ThemeError as exc:
        raise _fail(exc) from None


@router.post("/themes/analyse")
async def analyse_themes(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> ThemeAnalysis:
    """Discover themes again from the project's feedback (operators' labels survive)."""
    try:
        return await run_in_threadpool(runtime.themes.analyse, project_id)
    except ThemeError as exc:
        raise _fail(exc) from None


@router.post("/themes/merge")
async def merge_themes(
    body: MergeThemes, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> ThemeSummary:
    """Merge themes into the first one listed."""
    try:
        return await run_in_threadpool(runtime.themes.merge, project_id, body.theme_ids, body.label)
    except ThemeError as exc:
        raise _fail(exc) from None


@router.patch("/themes/{theme_id}")
async def rename_theme(
    theme_id: int,
    body: RenameTheme,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> ThemeSummary:
    """Rename a theme."""
    try:
        return await run_in_threadpool(runtime.themes.rename, project_id, theme_id, body.label)
    except ThemeError as exc:
        raise _fail(exc) from None


@router.post("/themes/{theme_id}/split")
async def split_theme(
    theme_id: int,
    body: Annotated[SplitTheme, Body()] = SplitTheme(),  # noqa: B008
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> list[ThemeSummary]:
    """Split a theme in `parts` by clustering its items again."""
    try:
        return await run_in_threadpool(runtime.themes.split, project_id, theme_id, body.parts)
    except ThemeError as exc:
        raise _fail(exc) from None


@router.get("/{item_id}")
async def get_feedback(
    item_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> FeedbackItemOut:
    """One feedback item."""
    found = await run_in_threadpool(runtime.feedback.get, project_id, item_id)
    if found is None:
        raise HTTPException(404, f"no feedback item {item_id} in project {project_id}")
    return found


@router.patch("/{item_id}")
async def update_feedback(
    item_id: int,
    change: FeedbackUpdate,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> FeedbackItemOut:
    """Triage an item: status, assignee, tags, theme."""
    try:
        return await run_in_threadpool(runtime.feedback.update, project_id, item_id, change)
    except FeedbackInvalid as exc:
        raise _fail(exc) from None
