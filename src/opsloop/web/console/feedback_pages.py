"""Feedback console pages: the inbox (search, triage) and its themes (rename, merge, re-analyse); thin shells over
`runtime.feedback` and `runtime.themes`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.feedback.errors import FeedbackInvalid, ThemeError
from opsloop.feedback.schemas import FeedbackFilter, FeedbackUpdate, ThemeSummary
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, render

router = console_router()

PAGE_SIZE = 50
FEEDBACK_STATUSES = {
    "new": N_("New"),
    "triaged": N_("Triaged"),
    "linked": N_("Linked"),
    "closed": N_("Closed"),
}
SENTIMENTS = {"positive": N_("Positive"), "neutral": N_("Neutral"), "negative": N_("Negative")}
SOURCES = {"api": N_("API"), "widget": N_("Widget"), "survey": N_("Survey"), "import": N_("Import")}
_FILTER_FIELDS = ("q", "status", "tag", "theme_id", "sentiment")


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "query"
    return f"{field}: {first.get('msg', 'invalid value')}"


def _filter_values(request: Request) -> dict[str, str]:
    """The search form's values as sent (empty ones dropped)."""
    return {k: request.query_params.get(k, "").strip() for k in _FILTER_FIELDS if request.query_params.get(k)}


@router.get("/projects/{project_id}/feedback")
async def inbox_page(request: Request, access: ProjectAccess = Depends(require_member()), page: int = 1) -> Response:
    """The inbox: search by text, status, tag, theme and sentiment; newest first; triage for operators."""
    runtime = runtime_of(request)
    values = _filter_values(request)
    page = max(1, min(page, 10_000))
    error, status = None, 200
    try:
        query = FeedbackFilter.model_validate({**values, "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE})
    except ValidationError as exc:
        error, status = _first_error(exc), 400
        query = FeedbackFilter(limit=PAGE_SIZE)
    found = await run_in_threadpool(runtime.feedback.search, access.project.id, query)
    themes = await run_in_threadpool(runtime.themes.list_themes, access.project.id)
    requirements = []
    if access.can(Role.operator):  # for the "Link to requirement" menu of each item
        requirements = (await run_in_threadpool(runtime.requirements.list, access.project.id)).items
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "found": found,
        "values": values,
        "themes": {t.id: t.label for t in themes},
        "page": page,
        "has_next": page * PAGE_SIZE < found.total,
        "query_string": urlencode(values),
        "statuses": FEEDBACK_STATUSES,
        "sentiments": SENTIMENTS,
        "sources": SOURCES,
        "error": error,
        "notice": done == "saved",
        "done": done if done in {"added", "linked"} else "",
        "requirements": [r for r in requirements if r.status not in ("shipped", "declined")],
    }
    return render(request, "console/feedback.html", context, status=status)


def _back_to(form_next: str, project_id: int, fallback: str) -> str:
    """A redirect target inside this project's feedback pages only (no open redirect)."""
    prefix = f"/projects/{project_id}/feedback"
    return form_next if form_next.startswith(prefix) and "//" not in form_next else fallback


@router.post("/projects/{project_id}/feedback/{item_id}")
async def triage_item(
    item_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Change an item's status, assignee and tags (tags separated by commas)."""
    form = await request.form()
    raw: dict[str, Any] = {"assignee": _field(form, "assignee", 300)}
    if _field(form, "status", 16):
        raw["status"] = _field(form, "status", 16)
    raw["tags"] = [t for t in _field(form, "tags", 3000).split(",") if t.strip()]
    try:
        change = FeedbackUpdate.model_validate(raw)
        await run_in_threadpool(runtime_of(request).feedback.update, access.project.id, item_id, change)
    except ValidationError as exc:
        raise ConsoleError(400, _first_error(exc)) from None
    except FeedbackInvalid as exc:
        raise ConsoleError(exc.status, "not_found" if exc.status == 404 else str(exc)) from None
    base = f"/projects/{access.project.id}/feedback"
    target = _back_to(_field(form, "next", 2000), access.project.id, base)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}done=saved", status_code=303)


def _trend_chart(themes: list[ThemeSummary]) -> dict[str, Any]:
    """Weekly counts per theme for the sparklines (drawn by voice.js), weeks without items shown as 0."""
    chart: dict[str, Any] = {}
    for t in themes:
        counts = {w.week: w.count for w in t.trend}
        weeks = []
        if counts:
            week, last = min(counts), max(counts)
            while week <= last:
                weeks.append(week)
                week += dt.timedelta(days=7)
        chart[str(t.id)] = {"x": [w.isoformat() for w in weeks], "y": [counts.get(w, 0) for w in weeks]}
    return chart


async def _themes_page(
    request: Request, access: ProjectAccess, *, error: str | None = None, status: int = 200
) -> Response:
    themes = await run_in_threadpool(runtime_of(request).themes.list_themes, access.project.id)
    notice = request.query_params.get("done", "")
    context = {
        "themes": themes,
        "chart": _trend_chart(themes),
        "error": error,
        "notice": notice if notice in {"analysed", "renamed", "merged", "split"} else None,
        "sentiments": SENTIMENTS,
        "here": f"/projects/{access.project.id}/feedback/themes",
    }
    return render(request, "console/feedback_themes.html", context, status=status)


@router.get("/projects/{project_id}/feedback/themes")
async def themes_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Themes: label, size, sentiment split, weekly trend, example quotes."""
    return await _themes_page(request, access)


def _themes_done(access: ProjectAccess, done: str) -> Response:
    return RedirectResponse(f"/projects/{access.project.id}/feedback/themes?done={done}", status_code=303)


@router.post("/projects/{project_id}/feedback/themes/analyse")
async def analyse_themes(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Discover the themes again from the newest feedback (an operator's labels are kept where they fit)."""
    try:
        await run_in_threadpool(runtime_of(request).themes.analyse, access.project.id)
    except ThemeError as exc:
        return await _themes_page(request, access, error=str(exc), status=exc.status)
    return _themes_done(access, "analysed")


@router.post("/projects/{project_id}/feedback/themes/merge")
async def merge_themes(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Merge the ticked themes into the first of them, optionally with a new label."""
    form = await request.form()
    ids: list[int] = []
    for value in form.getlist("theme_id"):
        if not isinstance(value, str) or not value.isdigit() or len(value) > 10:
            return await _themes_page(request, access, error="theme_id: must be theme numbers", status=400)
        ids.append(int(value))
    label = _field(form, "label", 200).strip() or None
    try:
        await run_in_threadpool(runtime_of(request).themes.merge, access.project.id, ids, label)
    except ThemeError as exc:
        return await _themes_page(request, access, error=str(exc), status=exc.status)
    return _themes_done(access, "merged")


@router.post("/projects/{project_id}/feedback/themes/{theme_id}/rename")
async def rename_theme(
    theme_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Give a theme the operator's label (kept when the themes are analysed again)."""
    form = await request.form()
    try:
        await run_in_threadpool(runtime_of(request).themes.rename, access.project.id, theme_id, _field(form, "label"))
    except ThemeError as exc:
        return await _themes_page(request, access, error=str(exc), status=exc.status)
    return _themes_done(access, "renamed")


@router.post("/projects/{project_id}/feedback/themes/{theme_id}/split")
async def split_theme(
    theme_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Split a theme in two by clustering its items again."""
    try:
        await run_in_threadpool(runtime_of(request).themes.split, access.project.id, theme_id, 2)
    except ThemeError as exc:
        return await _themes_page(request, access, error=str(exc), status=exc.status)
    return _themes_done(access, "split")
