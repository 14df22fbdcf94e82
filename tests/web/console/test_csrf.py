"""CSRF: every state-changing console request needs the session's token, in the form or X-CSRF-Token."""

from __future__ import annotations

from opsloop.projects import list_api_keys
from tests.web.console.conftest import PASSWORD, ConsoleHarness


def test_posts_without_the_token_are_refused(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    pid = console.pid
    keys_before = len(list_api_keys(console.runtime.projects, pid))
    for path, form in [
        (f"/projects/{pid}/api-keys", {"name": "sneaky"}),
        (f"/projects/{pid}/tokens", {}),
        (f"/projects/{pid}/settings", {"timezone": "Asia/Tokyo", "week_start": "sunday"}),
        (f"/projects/{pid}/members", {"email": "eve@example.com", "role": "admin"}),
        ("/account/password", {"current_password": PASSWORD, "new_password": "x" * 12, "confirm_password": "x" * 12}),
        ("/logout", {}),
    ]:
        for extra in ({}, {"csrf_token": "wrong"}):
            r = client.post(path, data={**form, **extra})
            assert r.status_code == 403, (path, extra, r.status_code)
            assert "Reload the page and try again" in r.text
    assert len(list_api_keys(console.runtime.projects, pid)) == keys_before
    assert console.runtime.projects.get(pid).timezone == "UTC"  # type: ignore[union-attr]
    assert console.runtime.accounts.users.find("eve@example.com") is None
    assert client.get("/projects").status_code == 200  # still signed in: /logout was refused too


def test_token_in_header_works_for_fetch(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    token = console.csrf(client, "/projects")
    r = client.post(f"/projects/{console.pid}/tokens", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "New capture token" in r.text
    r = client.post(f"/projects/{console.pid}/tokens", headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403 and r.json()["detail"] == "csrf"


def test_another_sessions_token_is_refused(console: ConsoleHarness) -> None:
    ana = console.signed_in("ana@example.com")
    bo = console.signed_in("bo@example.com")
    bos_token = console.csrf(bo, "/projects")
    r = ana.post(f"/projects/{console.pid}/tokens", data={"csrf_token": bos_token})
    assert r.status_code == 403


def test_sign_in_form_needs_its_token(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    client = console.browser()
    r = client.post("/login", data={"email": "ana@example.com", "password": PASSWORD})
    assert r.status_code == 403 and "opsloop_session" not in r.headers.get("set-cookie", "")
    # The sign-in page sets an HttpOnly token cookie that its form repeats (double submit).
    page = console.browser().get("/login")
    assert "opsloop_csrf=" in page.headers["set-cookie"] and "httponly" in page.headers["set-cookie"].lower()
