"""XSS: names people type (projects, users, keys, members) are escaped on every console page."""

from __future__ import annotations

import re

from opsloop.accounts.roles import Role
from opsloop.projects import update_project_settings
from tests.web.console.conftest import ConsoleHarness

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_user_text_is_escaped_everywhere(console: ConsoleHarness) -> None:
    evil = console.runtime.projects.create("Shop " + PAYLOAD)
    pid = evil.project.id
    user = console.runtime.accounts.users.create("ana@example.com", "correct horse battery", display_name=PAYLOAD)
    console.runtime.accounts.users.set_role(pid, user.id, Role.admin)
    client = console.browser()
    assert console.sign_in(client, "ana@example.com").status_code == 303
    csrf = console.csrf(client, "/projects")
    client.post(f"/projects/{pid}/api-keys", data={"name": PAYLOAD, "csrf_token": csrf})
    client.post(f"/projects/{pid}/members", data={"email": "bo@example.com", "role": "viewer", "csrf_token": csrf})
    update_project_settings(console.runtime.projects, pid, timezone="Asia/Shanghai", week_start="monday")
    pages = ["/projects", f"/projects/{pid}", f"/projects/{pid}/settings", f"/projects/{pid}/audit", "/account"]
    for path in pages:
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path
        # The only script tags are the console's own.
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/console.js" defer>'], path
    # A reflected `next` parameter is escaped too.
    html = console.browser().get('/login?next=/x"><script>alert(1)</script>').text
    assert "<script>alert(1)" not in html
