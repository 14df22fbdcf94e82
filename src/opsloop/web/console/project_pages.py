"""Project pages: the list, the overview, settings (credentials, members) and the audit log (thin shells)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from opsloop.accounts.administration import ProjectAdministration, create_project
from opsloop.accounts.roles import Role
from opsloop.accounts.sessions import ActiveSession
from opsloop.accounts.users import AccountError
from opsloop.projects import ProjectError, list_api_keys, list_tokens
from opsloop.web.console.access import ProjectAccess, console_router, require_member, require_user, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()

NOTICES = {
    "settings": N_("Settings saved."),
    "key_revoked": N_("API key revoked. Requests with it are refused from now on."),
    "token_revoked": N_("Capture token revoked. Events sent with it are refused within a minute."),
    "member_updated": N_("Member updated."),
    "member_removed": N_("Member removed."),
}
AUDIT_PAGE = 50


def _can_create(request: Request, session: ActiveSession) -> bool:
    projects = runtime_of(request).accounts.users.projects_of(session.user.id)
    return any(p.role == Role.admin for p in projects)


@router.get("/projects")
def project_list(request: Request, session: ActiveSession = Depends(require_user)) -> Response:
    """The projects the user is a member of, and (for admins) a form to create one."""
    context = {"can_create": _can_create(request, session), "timezones": sorted(zoneinfo.available_timezones())}
    return render(request, "console/projects.html", context)


@router.post("/projects")
async def new_project(request: Request, session: ActiveSession = Depends(require_user)) -> Response:
    """Create a project (admins of a project only); the creator is its admin and sees its first API key once."""
    form = await request.form()
    runtime = runtime_of(request)
    try:
        created = create_project(
            runtime.accounts,
            runtime.projects,
            actor=session.user,
            name=_field(form, "name", 300),
            timezone=_field(form, "timezone", 100) or "UTC",
            week_start=_field(form, "week_start", 20) or "monday",
        )
    except AccountError as exc:
        context = {
            "can_create": _can_create(request, session),
            "timezones": sorted(zoneinfo.available_timezones()),
            "error": str(exc),
        }
        return render(request, "console/projects.html", context, status=403 if exc.code == "forbidden" else 400)
    access = ProjectAccess(created.project, Role.admin, session)
    request.state.project_access = access
    _ = gettext_for(request)
    shown = {"label": _("The new project's API key"), "value": created.api_key}
    notice = _("Project created. Send events with its capture token; query and administer it with the API key.")
    return render(request, "console/settings.html", _settings_context(request, access, new_secret=shown, notice=notice))


@router.get("/projects/{project_id}")
def project_overview(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """A project's start page: how to send data, where to go next."""
    tokens = [t for t in list_tokens(runtime_of(request).projects, access.project.id) if t.revoked_at is None]
    return render(request, "console/project.html", {"token": tokens[0].label if tokens else None})


def _settings_context(request: Request, access: ProjectAccess, **extra: Any) -> dict[str, Any]:
    projects = runtime_of(request).projects
    notice = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "tokens": list_tokens(projects, access.project.id),
        "api_keys": list_api_keys(projects, access.project.id) if access.can(Role.admin) else [],
        "members": runtime_of(request).accounts.users.members(access.project.id) if access.can(Role.admin) else [],
        "timezones": sorted(zoneinfo.available_timezones()),
        "notice": gettext_for(request)(NOTICES[notice]) if notice in NOTICES else None,
        "error": None,
        "new_secret": None,
        "new_member": None,
        "here": f"/projects/{access.project.id}/settings",
    }
    context.update(extra)
    return context


@router.get("/projects/{project_id}/settings")
def settings_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Settings: everyone sees them; only admins change them and see keys and members."""
    return render(request, "console/settings.html", _settings_context(request, access))


def _admin(request: Request, access: ProjectAccess) -> ProjectAdministration:
    runtime = runtime_of(request)
    return ProjectAdministration(runtime.accounts, runtime.projects, actor=access.user, project_id=access.project.id)


def _refused(request: Request, access: ProjectAccess, error: str) -> Response:
    return render(request, "console/settings.html", _settings_context(request, access, error=error), status=400)


def _back(access: ProjectAccess, done: str) -> Response:
    return RedirectResponse(f"/projects/{access.project.id}/settings?done={done}", status_code=303)


@router.post("/projects/{project_id}/settings")
async def save_settings(request: Request, access: ProjectAccess = Depends(require_member(Role.admin))) -> Response:
    """Change timezone and week start."""
    form = await request.form()
    try:
        info = _admin(request, access).update_settings(
            timezone=_field(form, "timezone", 64), week_start=_field(form, "week_start", 8)
        )
    except ProjectError as exc:
        return _refused(request, access, str(exc))
    request.state.project_access = ProjectAccess(info, access.role, access.session)
    return _back(access, "settings")


@router.post("/projects/{project_id}/api-keys")
async def create_api_key(request: Request, access: ProjectAccess = Depends(require_member(Role.admin))) -> Response:
    """Create an API key and show its secret on this response only."""
    form = await request.form()
    try:
        secret = _admin(request, access).create_api_key(_field(form, "name", 300))
    except AccountError as exc:
        return _refused(request, access, str(exc))
    _ = gettext_for(request)
    shown = {"label": _("New API key"), "value": secret}
    return render(request, "console/settings.html", _settings_context(request, access, new_secret=shown))


@router.post("/projects/{project_id}/api-keys/{key_id}/revoke")
def revoke_api_key(
    key_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.admin))
) -> Response:
    """Revoke an API key of this project."""
    try:
        _admin(request, access).revoke_api_key(key_id)
    except ProjectError as exc:
        return _refused(request, access, str(exc))
    return _back(access, "key_revoked")


@router.post("/projects/{project_id}/tokens")
def create_token(request: Request, access: ProjectAccess = Depends(require_member(Role.admin))) -> Response:
    """Add a capture token."""
    token = _admin(request, access).create_token()
    _ = gettext_for(request)
    shown = {"label": _("New capture token"), "value": token}
    return render(request, "console/settings.html", _settings_context(request, access, new_secret=shown))


@router.post("/projects/{project_id}/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.admin))
) -> Response:
    """Revoke a capture token of this project."""
    try:
        _admin(request, access).revoke_token(token_id)
    except ProjectError as exc:
        return _refused(request, access, str(exc))
    return _back(access, "token_revoked")


def _role(form_value: str) -> Role | None:
    try:
        return Role(form_value)
    except ValueError:
        return None


@router.post("/projects/{project_id}/members")
async def add_member(request: Request, access: ProjectAccess = Depends(require_member(Role.admin))) -> Response:
    """Add a member by email (a new user gets a one-time password, shown once)."""
    form = await request.form()
    role = _role(_field(form, "role", 16))
    if role is None:
        return _refused(request, access, "role: choose admin, operator or viewer")
    try:
        added = _admin(request, access).add_member(_field(form, "email", 320), role)
    except AccountError as exc:
        return _refused(request, access, str(exc))
    if added.password is None:
        return _back(access, "member_updated")
    return render(request, "console/settings.html", _settings_context(request, access, new_member=added))


@router.post("/projects/{project_id}/members/{user_id}")
async def change_member(
    user_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.admin))
) -> Response:
    """Change a member's role, or remove the member (`action=remove`)."""
    form = await request.form()
    admin = _admin(request, access)
    try:
        if _field(form, "action", 16) == "remove":
            admin.remove_member(user_id)
            return _back(access, "member_removed")
        role = _role(_field(form, "role", 16))
        if role is None:
            return _refused(request, access, "role: choose admin, operator or viewer")
        admin.change_role(user_id, role)
    except AccountError as exc:
        return _refused(request, access, str(exc))
    return _back(access, "member_updated")


@router.get("/projects/{project_id}/audit")
def audit_page(
    request: Request, access: ProjectAccess = Depends(require_member(Role.admin)), page: int = 1
) -> Response:
    """The project's audit log, newest first."""
    audit = runtime_of(request).accounts.audit
    page = max(1, page)
    entries = audit.entries(access.project.id, limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE)
    total = audit.count(access.project.id)
    return render(
        request,
        "console/audit.html",
        {"entries": entries, "page": page, "has_next": page * AUDIT_PAGE < total, "total": total},
    )
