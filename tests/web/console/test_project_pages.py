"""Project pages: creating a project from the console (who may, what they see once, what is recorded)."""

from __future__ import annotations

import re

from opsloop.accounts.roles import Role
from tests.web.console.conftest import ConsoleHarness


def test_an_admin_creates_a_project_sees_its_key_once_and_becomes_its_admin(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com", Role.admin)
    page = client.get("/projects").text
    assert 'action="/projects"' in page and "New project" in page
    csrf = console.csrf(client, "/projects")
    form = {"name": "<i>App</i> 2", "timezone": "Europe/Madrid", "week_start": "sunday", "csrf_token": csrf}
    created = client.post("/projects", data=form)
    assert created.status_code == 200
    assert "Project created." in created.text and "&lt;i&gt;App&lt;/i&gt; 2" in created.text
    secret = re.search(r"<code class=\"secret\" data-secret>([^<]+)</code>", created.text)
    assert secret, "the new project's API key is shown"
    [project] = [p for p in console.runtime.projects.list() if p.name == "<i>App</i> 2"]
    assert (project.timezone, project.week_start) == ("Europe/Madrid", "sunday")
    # The key shown is the project's own, and it is not shown again.
    assert console.runtime.projects.project_for_api_key(secret.group(1)) == project.id
    again = client.get(f"/projects/{project.id}/settings").text
    assert secret.group(1) not in again
    user = console.runtime.accounts.users.find("ana@example.com")
    assert user is not None and console.runtime.accounts.users.role_in(user.id, project.id) == Role.admin
    [entry] = console.runtime.accounts.audit.entries(project.id)
    assert entry.action == "project_created" and entry.actor == "ana@example.com"


def test_bad_names_and_timezones_are_a_400_and_create_nothing(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com", Role.admin)
    csrf = console.csrf(client, "/projects")
    before = len(console.runtime.projects.list())
    blank = client.post("/projects", data={"name": " ", "timezone": "UTC", "csrf_token": csrf})
    assert blank.status_code == 400 and "project name must be 1 to 200 characters" in blank.text
    zone = client.post("/projects", data={"name": "X", "timezone": "Mars/Olympus", "csrf_token": csrf})
    assert zone.status_code == 400 and "unknown timezone" in zone.text
    assert client.post("/projects", data={"name": "X", "timezone": "UTC"}).status_code == 403  # no CSRF token
    assert len(console.runtime.projects.list()) == before


def test_operators_and_viewers_cannot_create_projects(console: ConsoleHarness) -> None:
    for email, role in (("op@example.com", Role.operator), ("view@example.com", Role.viewer)):
        client = console.signed_in(email, role)
        assert 'action="/projects"' not in client.get("/projects").text
        csrf = console.csrf(client, "/projects")
        refused = client.post("/projects", data={"name": "Mine", "timezone": "UTC", "csrf_token": csrf})
        assert refused.status_code == 403 and "only an admin of a project can create projects" in refused.text
    assert [p.name for p in console.runtime.projects.list()] == ["Shop"]
