"""Who is asking: the session cookie, CSRF checks, and the role dependencies every console page uses.

Pages declare what they need with FastAPI dependencies:

    access: ProjectAccess = Depends(require_member(Role.operator))

gives the project, the member's role and the session, or answers 404 to a non-member (a project's existence
is not revealed) and 403 to a member whose role is too low. `require_user` only needs a signed-in user.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request, Response

from opsloop.accounts.roles import Role
from opsloop.accounts.sessions import ActiveSession
from opsloop.accounts.users import ProjectRole, UserInfo
from opsloop.projects import ProjectInfo
from opsloop.runtime import Runtime

SESSION_COOKIE = "opsloop_session"
CSRF_COOKIE = "opsloop_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleError(Exception):
    """A console request refused with an HTTP status and a message for the person (rendered as a page)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """The page needs a signed-in user; pages redirect to sign-in, fetch requests get 401."""


@dataclass(frozen=True)
class ProjectAccess:
    """A member's access to one project: the project, the role, and the session it came with."""

    project: ProjectInfo
    role: Role
    session: ActiveSession

    @property
    def user(self) -> UserInfo:
        """The signed-in user."""
        return self.session.user

    def can(self, role: Role | str) -> bool:
        """True when the member's role allows what `role` may do."""
        return self.role.allows(Role(role))


def runtime_of(request: Request) -> Runtime:
    """The process runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def current_session(request: Request) -> ActiveSession | None:
    """The request's valid session, if any (resolved once per request)."""
    if not hasattr(request.state, "console_session"):
        token = request.cookies.get(SESSION_COOKIE, "")
        request.state.console_session = runtime_of(request).accounts.sessions.resolve(token) if token else None
    session: ActiveSession | None = request.state.console_session
    return session


def require_user(request: Request) -> ActiveSession:
    """The signed-in session; sign-in redirect (pages) or 401 (fetch) otherwise."""
    session = current_session(request)
    if session is None:
        raise SignInRequired()
    return session


def require_member(min_role: Role = Role.viewer) -> Callable[..., ProjectAccess]:
    """A dependency giving a member at least `min_role` access to the path's `project_id`."""

    def dependency(project_id: int, request: Request, session: ActiveSession = Depends(require_user)) -> ProjectAccess:
        runtime = runtime_of(request)
        role = runtime.accounts.users.role_in(session.user.id, project_id)
        project = runtime.projects.get(project_id) if role is not None else None
        if role is None or project is None:
            raise ConsoleError(404, "not_found")
        if not role.allows(min_role):
            raise ConsoleError(403, "forbidden_role")
        access = ProjectAccess(project, role, session)
        request.state.project_access = access
        return access

    return dependency


def user_projects(request: Request) -> list[ProjectRole]:
    """The signed-in user's projects (for the project switcher); empty when signed out."""
    session = current_session(request)
    if session is None:
        return []
    if not hasattr(request.state, "user_projects"):
        request.state.user_projects = runtime_of(request).accounts.users.projects_of(session.user.id)
    projects: list[ProjectRole] = request.state.user_projects
    return projects


def expected_csrf_token(request: Request) -> str | None:
    """The CSRF token a form of this browser must send: the session's, or the sign-in cookie's when signed out."""
    session = current_session(request)
    if session is not None:
        return session.csrf_token
    return request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)


def page_csrf_token(request: Request) -> str:
    """The CSRF token to put in this page's forms (a new sign-in cookie is set when a signed-out browser has none)."""
    token = expected_csrf_token(request)
    if token:
        return token
    token = secrets.token_urlsafe(32)
    request.state.new_csrf_cookie = token
    return token


async def enforce_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without the right CSRF token in the form or `X-CSRF-Token`."""
    if request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    content_type = request.headers.get("content-type", "")
    if not sent and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    expected = expected_csrf_token(request)
    if not expected or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise ConsoleError(403, "csrf")


def cookie_secure(request: Request) -> bool:
    """Whether cookies get `Secure`: the setting, or else whether the request came over https."""
    configured = runtime_of(request).settings.cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def set_console_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """Set an HttpOnly, SameSite=Lax cookie (Secure over https or when configured)."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=cookie_secure(request)
    )


def client_ip(request: Request) -> str:
    """The client address (the proxy's unless uvicorn trusts forwarded headers)."""
    return request.client.host if request.client else "unknown"


LONG_COOKIE_MAX_AGE = 365 * 24 * 3600


def console_router() -> APIRouter:
    """A router for console pages: every POST / PUT / PATCH / DELETE must carry the CSRF token."""
    return APIRouter(dependencies=[Depends(enforce_csrf)], include_in_schema=False)
