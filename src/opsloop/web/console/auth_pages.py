"""Sign-in, sign-out, language switch and the account page (thin: accounts services do the work)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from opsloop.accounts.passwords import MIN_PASSWORD_LENGTH
from opsloop.accounts.sessions import ActiveSession
from opsloop.accounts.signin import SignInRefused
from opsloop.accounts.users import AccountError
from opsloop.web.console.access import (
    LONG_COOKIE_MAX_AGE,
    SESSION_COOKIE,
    client_ip,
    console_router,
    current_session,
    require_user,
    runtime_of,
    set_console_cookie,
)
from opsloop.web.console.languages import LANGUAGE_CODES, LANGUAGE_COOKIE
from opsloop.web.console.rendering import gettext_for, render

router = console_router()


def safe_next(target: str | None) -> str:
    """A post-sign-in destination on this site only (no open redirects)."""
    # "//host" and "/\\host" are other sites to browsers, which also drop tabs and newlines inside URLs.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(ord(c) >= 0x20 for c in target)
    ):
        return target
    return "/projects"


def _field(form: FormData, name: str, limit: int = 1024) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


@router.get("/")
def home(request: Request) -> Response:
    """Signed in: the project list; otherwise the sign-in page."""
    return RedirectResponse("/projects" if current_session(request) else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    if current_session(request):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "console/login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password (throttled), start a new session, set the cookie."""
    form = await request.form()
    email = _field(form, "email", 320)
    password = _field(form, "password")
    target = safe_next(_field(form, "next"))
    _ = gettext_for(request)
    accounts = runtime_of(request).accounts
    try:
        signed_in = accounts.sign_in(
            email,
            password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            replacing=request.cookies.get(SESSION_COOKIE),
        )
    except SignInRefused as refused:
        if refused.throttled:
            minutes = max(1, -(-refused.retry_after // 60))
            error = _("Too many failed sign-ins. Try again in %(minutes)d minute(s).") % {"minutes": minutes}
            status = 429
        else:
            error = _("Wrong email or password.")
            status = 401
        page = render(request, "console/login.html", {"next": target, "email": email, "error": error}, status=status)
        if refused.throttled:
            page.headers["Retry-After"] = str(refused.retry_after)
        return page
    response = RedirectResponse(target, status_code=303)
    max_age = int(accounts.sessions.lifetime.total_seconds())
    set_console_cookie(request, response, SESSION_COOKIE, signed_in.session.token, max_age=max_age)
    if signed_in.user.language in LANGUAGE_CODES and LANGUAGE_COOKIE not in request.cookies:
        set_console_cookie(request, response, LANGUAGE_COOKIE, signed_in.user.language, max_age=LONG_COOKIE_MAX_AGE)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session and clear the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        runtime_of(request).accounts.sessions.end(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def switch_language(request: Request) -> Response:
    """Remember the chosen language in a cookie (and on the user, when signed in)."""
    form = await request.form()
    code = _field(form, "language", 16)
    response = RedirectResponse(safe_next(_field(form, "next")), status_code=303)
    if code not in LANGUAGE_CODES:
        return response
    set_console_cookie(request, response, LANGUAGE_COOKIE, code, max_age=LONG_COOKIE_MAX_AGE)
    session = current_session(request)
    if session is not None:
        runtime_of(request).accounts.users.set_language(session.user.id, code)
    return response


@router.get("/account")
def account_page(request: Request, session: ActiveSession = Depends(require_user), done: str | None = None) -> Response:
    """The account page: password change."""
    return render(request, "console/account.html", {"error": None, "done": done == "password"})


@router.post("/account/password")
async def change_password(request: Request, session: ActiveSession = Depends(require_user)) -> Response:
    """Change the password; every other session of the user ends."""
    form = await request.form()
    _ = gettext_for(request)
    accounts = runtime_of(request).accounts
    if _field(form, "new_password") != _field(form, "confirm_password"):
        error = _("The new passwords do not match.")
        return render(request, "console/account.html", {"error": error, "done": False}, status=400)
    try:
        accounts.change_password(
            session.user,
            _field(form, "current_password"),
            _field(form, "new_password"),
            keep_session_id=session.id,
        )
    except SignInRefused as refused:
        minutes = max(1, -(-refused.retry_after // 60))
        error = _("Too many wrong passwords. Try again in %(minutes)d minute(s).") % {"minutes": minutes}
        return render(request, "console/account.html", {"error": error, "done": False}, status=429)
    except AccountError as exc:
        if exc.code == "wrong_password":
            error = _("The current password is not correct.")
        elif exc.code == "weak_password":
            error = _("The new password must be at least %(count)d characters.") % {"count": MIN_PASSWORD_LENGTH}
        else:
            error = str(exc)
        return render(request, "console/account.html", {"error": error, "done": False}, status=400)
    return RedirectResponse("/account?done=password", status_code=303)


def login_redirect(request: Request) -> Response:
    """Where a signed-out browser goes: the sign-in page, coming back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
