"""Sign-in over HTTP: cookies, redirects, wrong passwords, throttling, session fixation, sign-out."""

from __future__ import annotations

from tests.web.console.conftest import PASSWORD, ConsoleHarness


def _set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return next(h for h in headers if h.startswith(f"{name}="))


def test_signed_out_pages_redirect_to_sign_in(console: ConsoleHarness) -> None:
    client = console.browser()
    assert client.get("/").headers["location"] == "/login"
    r = client.get(f"/projects/{console.pid}/settings")
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/projects/{console.pid}/settings"
    # A fetch (no HTML accepted) gets a 401 instead of a redirect.
    assert client.get("/projects", headers={"Accept": "application/json"}).status_code == 401


def test_sign_in_sets_a_secure_session_cookie(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    client = console.browser()
    r = console.sign_in(client, "ANA@example.com")
    assert r.status_code == 303 and r.headers["location"] == "/projects"
    cookie = _set_cookie(r, "opsloop_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
    assert "secure" not in cookie  # plain http in this test; see the https test below
    page = client.get("/projects")
    assert page.status_code == 200 and "Shop" in page.text and "ana@example.com" in page.text


def test_cookie_is_secure_over_https(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    client = console.browser(base_url="https://testserver")
    r = console.sign_in(client, "ana@example.com")
    assert "; secure" in _set_cookie(r, "opsloop_session").lower()


def test_next_only_goes_to_this_site(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    client = console.browser()
    token = console.csrf(client)
    for target, expected in [(f"/projects/{console.pid}", f"/projects/{console.pid}"), ("//evil.example", "/projects")]:
        client.cookies.clear()
        token = console.csrf(client)
        r = client.post(
            "/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert r.headers["location"] == expected


def test_wrong_password_is_refused_then_throttled(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    client = console.browser()
    for _ in range(4):
        r = console.sign_in(client, "ana@example.com", "wrong password!!")
        assert r.status_code == 401 and "Wrong email or password." in r.text
        assert "opsloop_session" not in r.headers.get("set-cookie", "")
    # The 5th failure (OPSLOOP_LOGIN_MAX_FAILURES_PER_EMAIL) locks the email out for 60 s...
    r = console.sign_in(client, "ana@example.com", "wrong password!!")
    assert r.status_code == 429 and "Try again in 1 minute(s)" in r.text and r.headers["retry-after"] == "60"
    # ...during which even the right password is not accepted, from any browser.
    r = console.sign_in(console.browser(), "ana@example.com")
    assert r.status_code == 429 and "opsloop_session" not in r.headers.get("set-cookie", "")


def test_session_fixation_is_prevented(console: ConsoleHarness) -> None:
    console.user("ana@example.com")
    console.user("mallory@example.com")
    # A made-up token planted in the victim's browser is never adopted.
    victim = console.browser()
    victim.cookies.set("opsloop_session", "planted-token", domain="testserver.local")
    r = console.sign_in(victim, "ana@example.com")
    issued = _set_cookie(r, "opsloop_session").split(";")[0].split("=", 1)[1]
    assert issued != "planted-token" and console.runtime.accounts.sessions.resolve("planted-token") is None
    # The attacker's own valid session, planted before the victim signs in, ends at the victim's sign-in.
    attacker = console.browser()
    console.sign_in(attacker, "mallory@example.com")
    mallory_token = attacker.cookies.get("opsloop_session")
    assert console.runtime.accounts.sessions.resolve(mallory_token) is not None
    victim2 = console.browser()
    victim2.cookies.set("opsloop_session", mallory_token, domain="testserver.local")
    csrf = console.runtime.accounts.sessions.resolve(mallory_token).csrf_token  # type: ignore[union-attr]
    r = victim2.post("/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": csrf})
    new_token = _set_cookie(r, "opsloop_session").split(";")[0].split("=", 1)[1]
    assert new_token != mallory_token
    assert console.runtime.accounts.sessions.resolve(mallory_token) is None
    assert console.runtime.accounts.sessions.resolve(new_token).user.email == "ana@example.com"  # type: ignore[union-attr]


def test_sign_out_ends_the_session(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    token = client.cookies.get("opsloop_session")
    csrf = console.csrf(client, "/projects")
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert console.runtime.accounts.sessions.resolve(token) is None
    client.cookies.set("opsloop_session", token, domain="testserver.local")  # replaying the old cookie
    assert client.get("/projects").status_code == 303


def test_password_change_signs_out_other_sessions(console: ConsoleHarness) -> None:
    here = console.signed_in("ana@example.com")
    elsewhere = console.browser()
    console.sign_in(elsewhere, "ana@example.com")
    csrf = console.csrf(here, "/account")
    form = {"csrf_token": csrf, "current_password": PASSWORD, "new_password": "a new long password"}
    r = here.post("/account/password", data={**form, "confirm_password": "something else"})
    assert r.status_code == 400 and "do not match" in r.text
    r = here.post("/account/password", data={**form, "confirm_password": "a new long password"})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
    assert here.get("/projects").status_code == 200
    assert elsewhere.get("/projects").status_code == 303  # signed out
    assert console.sign_in(console.browser(), "ana@example.com", "a new long password").status_code == 303


def test_guessing_the_current_password_is_throttled(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    csrf = console.csrf(client, "/account")
    form = {"csrf_token": csrf, "new_password": "a new long password", "confirm_password": "a new long password"}
    for _ in range(4):
        r = client.post("/account/password", data={**form, "current_password": "a wrong guess"})
        assert r.status_code == 400 and "The current password is not correct." in r.text
    r = client.post("/account/password", data={**form, "current_password": "a wrong guess"})
    assert r.status_code == 400  # the 5th failure locks (OPSLOOP_LOGIN_MAX_FAILURES_PER_EMAIL applies)
    r = client.post("/account/password", data={**form, "current_password": PASSWORD})
    assert r.status_code == 429 and "Too many wrong passwords" in r.text
    assert console.runtime.accounts.users.authenticate("ana@example.com", PASSWORD) is not None  # unchanged


def test_safe_next_refuses_other_sites() -> None:
    from opsloop.web.console.auth_pages import safe_next

    assert safe_next("/projects/3/settings?x=1") == "/projects/3/settings?x=1"
    for bad in ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "", None, "projects"]:
        assert safe_next(bad) == "/projects", bad
