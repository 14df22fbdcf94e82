"""Roles and isolation: viewers read only, only admins administer, members of A never see B."""

from __future__ import annotations

import re

from opsloop.accounts.roles import Role
from opsloop.projects import hash_api_key, list_api_keys, list_tokens
from tests.web.console.conftest import ConsoleHarness


def test_admin_creates_a_key_whose_secret_is_shown_once(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    csrf = console.csrf(client, "/projects")
    r = client.post(f"/projects/{console.pid}/api-keys", data={"name": "reporting", "csrf_token": csrf})
    assert r.status_code == 200 and "shown only this once" in r.text
    secret = re.search(r"data-secret>(olk_[^<]+)<", r.text).group(1)  # type: ignore[union-attr]
    assert console.runtime.projects.project_for_api_key(secret) == console.pid
    later = client.get(f"/projects/{console.pid}/settings").text
    assert secret not in later and secret[:10] in later  # listed by prefix only
    assert all(k.label != secret for k in list_api_keys(console.runtime.projects, console.pid))
    assert hash_api_key(secret) not in later
    # The key works on the query API right away.
    query = {"kind": "sql", "query": "select 1 as one"}
    api = client.post(f"/api/projects/{console.pid}/query", json=query, headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200 and api.json()["rows"] == [[1]]
    key_id = next(k.id for k in list_api_keys(console.runtime.projects, console.pid) if k.name == "reporting")
    r = client.post(f"/projects/{console.pid}/api-keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].endswith("done=key_revoked")
    api = client.post(f"/api/projects/{console.pid}/query", json=query, headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_viewer_and_operator_cannot_administer(console: ConsoleHarness) -> None:
    pid = console.pid
    token_id = list_tokens(console.runtime.projects, pid)[0].id
    key_id = list_api_keys(console.runtime.projects, pid)[0].id
    for email, role in [("vi@example.com", Role.viewer), ("op@example.com", Role.operator)]:
        client = console.signed_in(email, role)
        csrf = console.csrf(client, "/projects")
        settings = client.get(f"/projects/{pid}/settings")
        assert settings.status_code == 200 and "Only project admins can change settings." in settings.text
        assert "Create API key" not in settings.text and "Revoke" not in settings.text
        for path in [
            f"/projects/{pid}/api-keys",
            f"/projects/{pid}/api-keys/{key_id}/revoke",
            f"/projects/{pid}/tokens",
            f"/projects/{pid}/tokens/{token_id}/revoke",
            f"/projects/{pid}/settings",
            f"/projects/{pid}/members",
        ]:
            r = client.post(path, data={"csrf_token": csrf, "name": "x", "email": "z@example.com", "role": "admin"})
            assert r.status_code == 403, (role, path, r.status_code)
            assert "does not allow this" in r.text
        assert client.get(f"/projects/{pid}/audit").status_code == 403
    assert list_api_keys(console.runtime.projects, pid)[0].revoked_at is None
    assert list_tokens(console.runtime.projects, pid)[0].revoked_at is None
    assert console.runtime.accounts.users.find("z@example.com") is None


def test_members_of_one_project_cannot_reach_another(console: ConsoleHarness) -> None:
    other = console.runtime.projects.create("Other company")
    oid = other.project.id
    client = console.signed_in("ana@example.com", Role.admin)  # admin of Shop only
    csrf = console.csrf(client, "/projects")
    assert "Other company" not in client.get("/projects").text
    for path in [f"/projects/{oid}", f"/projects/{oid}/settings", f"/projects/{oid}/audit", "/projects/999999"]:
        r = client.get(path)
        assert r.status_code == 404 and "not a member of this project" in r.text, path
    other_key = list_api_keys(console.runtime.projects, oid)[0].id
    r = client.post(f"/projects/{oid}/api-keys/{other_key}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 404
    # Shop's admin revoking Other's key through Shop's URL: the key is 'not found' in Shop.
    r = client.post(f"/projects/{console.pid}/api-keys/{other_key}/revoke", data={"csrf_token": csrf})
    assert r.status_code == 400 and "not found in project" in r.text
    assert list_api_keys(console.runtime.projects, oid)[0].revoked_at is None
    # Shop's API key cannot query Other's data either.
    api = client.post(
        f"/api/projects/{oid}/query",
        json={"kind": "sql", "query": "select 1"},
        headers={"Authorization": f"Bearer {console.project.api_key}"},
    )
    assert api.status_code == 403


def test_admin_manages_members_and_the_audit_log_shows_it(console: ConsoleHarness) -> None:
    client = console.signed_in("ana@example.com")
    csrf = console.csrf(client, "/projects")
    pid = console.pid
    r = client.post(f"/projects/{pid}/members", data={"email": "Bo@Example.com", "role": "viewer", "csrf_token": csrf})
    assert r.status_code == 200 and "one-time password" in r.text
    password = re.search(r"data-secret>([^<]+)<", r.text).group(1)  # type: ignore[union-attr]
    bo = console.browser()
    assert console.sign_in(bo, "bo@example.com", password).status_code == 303
    assert bo.get(f"/projects/{pid}").status_code == 200
    bo_id = console.runtime.accounts.users.find("bo@example.com").id  # type: ignore[union-attr]
    r = client.post(f"/projects/{pid}/members/{bo_id}", data={"role": "operator", "csrf_token": csrf})
    assert r.status_code == 303
    assert console.runtime.accounts.users.role_in(bo_id, pid) is Role.operator
    ana_id = console.runtime.accounts.users.find("ana@example.com").id  # type: ignore[union-attr]
    r = client.post(f"/projects/{pid}/members/{ana_id}", data={"action": "remove", "csrf_token": csrf})
    assert r.status_code == 400 and "at least one admin" in r.text
    r = client.post(f"/projects/{pid}/members/{bo_id}", data={"action": "remove", "csrf_token": csrf})
    assert r.status_code == 303 and bo.get(f"/projects/{pid}").status_code == 404
    r = client.post(
        f"/projects/{pid}/settings", data={"timezone": "Mars/Base", "week_start": "monday", "csrf_token": csrf}
    )
    assert r.status_code == 400 and "unknown timezone" in r.text
    r = client.post(
        f"/projects/{pid}/settings", data={"timezone": "Europe/Madrid", "week_start": "sunday", "csrf_token": csrf}
    )
    assert r.status_code == 303 and console.runtime.projects.get(pid).timezone == "Europe/Madrid"  # type: ignore[union-attr]
    audit = client.get(f"/projects/{pid}/audit").text
    for label in [
        "Member added",
        "Member role changed",
        "Member removed",
        "Settings changed",
        "UTC -&gt; Europe/Madrid",
    ]:
        assert label in audit, label
    assert audit.count("ana@example.com") >= 4
