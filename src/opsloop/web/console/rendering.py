"""Page rendering: one Jinja2 environment (autoescaped), the translations of the request, the shared layout data."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from opsloop.accounts.audit import AuditAction
from opsloop.accounts.roles import Role
from opsloop.web.console.access import (
    CSRF_COOKIE,
    LONG_COOKIE_MAX_AGE,
    ProjectAccess,
    current_session,
    page_csrf_token,
    runtime_of,
    set_console_cookie,
    user_projects,
)
from opsloop.web.console.languages import LANGUAGE_COOKIE, LANGUAGES, choose_language, html_lang, translations

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext name for "translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class NavItem:
    """An entry of a project's navigation: a label (translated when shown), a path under the project, a role."""

    label: str
    path: str
    min_role: Role = Role.viewer


# The project navigation, in order (each entry's pages live in their own module).
PROJECT_NAV: list[NavItem] = [
    NavItem(N_("Overview"), ""),
    NavItem(N_("Home"), "/home"),
    NavItem(N_("Insights"), "/insights"),
    NavItem(N_("Dashboards"), "/dashboards"),
    NavItem(N_("Persons"), "/persons"),
    NavItem(N_("Segments"), "/segments"),
    NavItem(N_("Catalogue"), "/catalogue"),
    NavItem(N_("RFM"), "/rfm"),
    NavItem(N_("User stages"), "/lifecycle-stages"),
    NavItem(N_("Tags"), "/tags"),
    NavItem(N_("Live events"), "/events"),
    NavItem(N_("Feedback"), "/feedback"),
    NavItem(N_("Surveys"), "/surveys"),
    NavItem(N_("Requirements"), "/requirements"),
    NavItem(N_("Settings"), "/settings"),
    NavItem(N_("Audit log"), "/audit", Role.admin),
]


ROLE_LABELS = {Role.admin: N_("Admin"), Role.operator: N_("Operator"), Role.viewer: N_("Viewer")}
ACTION_LABELS = {
    AuditAction.user_created: N_("User created"),
    AuditAction.member_added: N_("Member added"),
    AuditAction.member_role_changed: N_("Member role changed"),
    AuditAction.member_removed: N_("Member removed"),
    AuditAction.api_key_created: N_("API key created"),
    AuditAction.api_key_revoked: N_("API key revoked"),
    AuditAction.token_created: N_("Capture token created"),
    AuditAction.token_revoked: N_("Capture token revoked"),
    AuditAction.project_settings_changed: N_("Settings changed"),
    AuditAction.project_created: N_("Project created"),
    AuditAction.password_changed: N_("Password changed"),
    AuditAction.rfm_settings_changed: N_("RFM settings changed"),
}


# Scripts only from opsloop's own files (no inline script, no eval): an injected <script> does not run even if
# escaping were ever missed. Pages pass data to scripts in <script type="application/json"> blocks.
# Styles allow inline because Plotly.js sets them on the charts it draws.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@cache
def environment() -> Environment:
    """The console's Jinja2 environment: every variable is HTML-escaped unless marked safe."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["localtime"] = _localtime
    env.filters["codespans"] = _code_spans
    return env


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _code_spans(text: str) -> Markup:
    """Escape a (translated) text, then show its `back-quoted` parts as code."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


def _localtime(value: dt.datetime | None, timezone: str = "UTC") -> str:
    """A UTC time shown in the project's timezone, minutes precision."""
    if value is None:
        return ""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def request_language(request: Request) -> str:
    """The language of the page for this request."""
    if not hasattr(request.state, "language"):
        session = current_session(request)
        request.state.language = choose_language(
            cookie=request.cookies.get(LANGUAGE_COOKIE),
            user_language=session.user.language if session else None,
            accept_language=request.headers.get("accept-language", ""),
        )
    language: str = request.state.language
    return language


def gettext_for(request: Request) -> Any:
    """The `gettext` function of the request's language."""
    return translations(request_language(request)).gettext


def _here(request: Request) -> str:
    if request.method != "GET":
        return "/"
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a console page with the layout's data: user, projects, current project, language, CSRF token."""
    language = request_language(request)
    tr = translations(language)
    access: ProjectAccess | None = getattr(request.state, "project_access", None)
    csrf = page_csrf_token(request)
    values: dict[str, Any] = {
        "request": request,
        "_": tr.gettext,
        "ngettext": tr.ngettext,
        "language": language,
        "html_lang": html_lang(language),
        "languages": LANGUAGES,
        "session": current_session(request),
        "user_projects": user_projects(request),
        "access": access,
        "project_nav": [item for item in PROJECT_NAV if access and access.can(item.min_role)],
        "csrf_token": csrf,
        # Where the language switcher comes back to: this page, or for a form's answer a page one can GET.
        "here": _here(request),
        "roles": list(Role),
        "role_label": lambda role: tr.gettext(ROLE_LABELS[Role(role)]),
        "action_label": lambda action: tr.gettext(ACTION_LABELS.get(action) or str(action)),
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if getattr(request.state, "new_csrf_cookie", None) == csrf:
        set_console_cookie(request, response, CSRF_COOKIE, csrf, max_age=LONG_COOKIE_MAX_AGE)
    return response


ERROR_MESSAGES = {
    "not_found": N_("This page does not exist, or you are not a member of this project."),
    "forbidden_role": N_("Your role in this project does not allow this. Ask a project admin."),
    "csrf": N_("This form has expired or did not come from opsloop. Reload the page and try again."),
    "signed_out": N_("Sign in to continue."),
}


def render_error(request: Request, status: int, code: str) -> HTMLResponse:
    """An error page whose message says what went wrong and what to do."""
    _ = gettext_for(request)
    message = _(ERROR_MESSAGES[code]) if code in ERROR_MESSAGES else code
    return render(request, "console/error.html", {"status": status, "message": message}, status=status)


__all__ = ["N_", "NavItem", "PROJECT_NAV", "render", "render_error", "runtime_of"]
