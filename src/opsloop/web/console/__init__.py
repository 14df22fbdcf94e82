"""The web console: server-rendered pages (Jinja2) on the same app as the APIs.

Pages that need a signed-in member use `opsloop.web.console.access.require_member(min_role)`; routers made
with `console_router()` refuse state-changing requests without the CSRF token.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from opsloop.web.console import (
    auth_pages,
    catalogue_pages,
    dashboard_pages,
    feedback_entry_pages,
    feedback_pages,
    home_pages,
    insight_pages,
    person_pages,
    project_pages,
    requirement_edit_pages,
    requirement_pages,
    rfm_pages,
    segment_detail_pages,
    segment_pages,
    stage_pages,
    survey_editor_pages,
    survey_pages,
    tag_pages,
)
from opsloop.web.console.access import ConsoleError, SignInRequired, console_router, require_member, require_user

__all__ = ["console_router", "install_console", "require_member", "require_user"]
from opsloop.web.console.rendering import render_error

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_URL = "/static/vendor/plotly.min.js"


def _wants_html(request: Request) -> bool:
    """A page navigation (redirect to sign-in) rather than a fetch asking for JSON (401)."""
    accept = request.headers.get("accept", "*/*")
    return request.method == "GET" and "application/json" not in accept and ("text/html" in accept or "*/*" in accept)


def install_console(app: FastAPI) -> None:
    """Mount the console pages, static files and Plotly.js on the app, with HTML error pages."""

    async def plotly_js() -> Response:
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route(PLOTLY_URL, plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth_pages.router)
    app.include_router(project_pages.router)
    app.include_router(home_pages.router)
    app.include_router(dashboard_pages.router)
    app.include_router(person_pages.router)
    app.include_router(insight_pages.router)
    # Editor routes first: their fixed paths (`/surveys/new`...) come before the `{id}` routes of the same prefix.
    app.include_router(survey_editor_pages.router)
    app.include_router(feedback_entry_pages.router)
    app.include_router(requirement_edit_pages.router)
    app.include_router(feedback_pages.router)
    app.include_router(survey_pages.router)
    app.include_router(requirement_pages.router)
    app.include_router(segment_pages.router)  # before the segment page: `/segments/new` is not a segment id
    app.include_router(segment_detail_pages.router)
    app.include_router(catalogue_pages.router)
    app.include_router(rfm_pages.router)
    app.include_router(stage_pages.router)
    app.include_router(tag_pages.router)

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, exc: ConsoleError) -> Response:
        if not _wants_html(request) and request.headers.get("x-csrf-token") is not None:
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        return render_error(request, exc.status, exc.message)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if _wants_html(request):
            return auth_pages.login_redirect(request)
        return render_error(request, 401, "signed_out")
