"""Putting feedback into the inbox from the console (operators): one item by hand, or a CSV file whose bad rows
are reported by line number while the good rows are kept; thin shells over `runtime.feedback`."""

from __future__ import annotations

import io
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from opsloop.accounts.roles import Role
from opsloop.feedback.errors import FeedbackInvalid
from opsloop.feedback.schemas import ImportReport
from opsloop.web.console.access import ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, render

router = console_router()

#: Largest CSV file the console accepts (the API takes larger ones in a stream).
MAX_UPLOAD = 5 * 1024 * 1024
FEEDBACK_LANGUAGES = {"": N_("Detect"), "en": "English", "zh": "中文", "es": "Español"}


def _page(
    request: Request,
    values: dict[str, Any],
    *,
    error: str | None = None,
    report: ImportReport | None = None,
    import_error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "v": values,
        "error": error,
        "report": report,
        "import_error": import_error,
        "feedback_languages": FEEDBACK_LANGUAGES,
        "max_upload_mb": MAX_UPLOAD // (1024 * 1024),
        "added": request.query_params.get("done") == "added",
    }
    return render(request, "console/feedback_new.html", context, status=status)


@router.get("/projects/{project_id}/feedback/new")
async def new_feedback_page(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """The form to add one item and to import a CSV file."""
    return _page(request, {})


@router.post("/projects/{project_id}/feedback/new")
async def add_feedback(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Store one item written or pasted by an operator (source `import`)."""
    form = await request.form()
    limit = runtime_of(request).settings.feedback_max_text_chars
    values: dict[str, Any] = {"text": _field(form, "text", limit + 1)}
    if distinct_id := _field(form, "distinct_id", 401).strip():
        values["distinct_id"] = distinct_id
    values["tags"] = [t for t in _field(form, "tags", 3000).split(",") if t.strip()]
    if language := _field(form, "language", 8):
        values["language"] = language
    inbox = runtime_of(request).feedback
    try:
        item = inbox.validate(values, source="import")
        stored = await run_in_threadpool(inbox.create, access.project.id, item)
    except FeedbackInvalid as exc:
        shown = {**values, "tags": ", ".join(values["tags"])}
        return _page(request, shown, error=str(exc), status=exc.status)
    return RedirectResponse(f"/projects/{access.project.id}/feedback?done=added#item-{stored.id}", status_code=303)


@router.post("/projects/{project_id}/feedback/import")
async def import_feedback(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Import an uploaded CSV file (UTF-8, header row with a `text` column); shows what was stored and refused."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, {}, import_error="file: choose a CSV file", status=400)
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        message = f"file: larger than {MAX_UPLOAD // (1024 * 1024)} MB; import it with `opsloop feedback import`"
        return _page(request, {}, import_error=message, status=413)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(request, {}, import_error="file: the CSV file must be UTF-8", status=400)
    try:
        report = await run_in_threadpool(
            runtime_of(request).feedback.import_csv, access.project.id, io.StringIO(text, newline="")
        )
    except FeedbackInvalid as exc:
        return _page(request, {}, import_error=str(exc), status=exc.status)
    return _page(request, {}, report=report, status=200)
