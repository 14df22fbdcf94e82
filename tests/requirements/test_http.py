"""The requirements board over HTTP on a live server: API-key access, clear errors, PRD download,
annotations for charts, and the public roadmap (off by default, escaped, switchable)."""

from __future__ import annotations

import datetime as dt
import secrets

from tests.conftest import LiveServer


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _base(server: LiveServer) -> str:
    return f"/api/projects/{server.project.project.id}"


def _feedback(server: LiveServer, text: str, distinct_id: str) -> int:
    r = server.client.post(
        f"{_base(server)}/feedback",
        json={"text": text, "distinct_id": distinct_id},
        headers=_auth(server.project.token),
    )
    assert r.status_code == 200, r.text
    return int(r.json()["items"][0]["id"])


def test_board_over_http_with_clear_errors(live_server: LiveServer) -> None:
    client, auth, base = live_server.client, _auth(live_server.project.api_key), _base(live_server)
    item = _feedback(live_server, "Please add dark mode", "u1")
    r = client.post(
        f"{base}/requirements", json={"title": "Dark mode", "feedback_ids": [item], "impact": 2}, headers=auth
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["feedback_count"] == 1
    # Bad input: 400 naming the field, never a 500.
    for body, field in [
        ({"title": "x", "impact": 0.7}, "impact"),
        ({"title": "x", "confidence": 120}, "confidence"),
        ({"title": "x", "effort": 0}, "effort"),
        ({"title": "x", "target_metric": {"kind": "trends"}}, "target_metric"),
        ({"title": "x", "status": "done"}, "status"),
        ({"title": "x", "colour": "red"}, "colour"),
        ({"description": "no title"}, "title"),
    ]:
        bad = client.post(f"{base}/requirements", json=body, headers=auth)
        assert bad.status_code == 400, (body, bad.text)
        assert field in bad.json()["detail"], (field, bad.json())
    assert client.get(f"{base}/requirements", headers=auth).json()["total"] == 1, "nothing bad was stored"
    missing = client.get(f"{base}/requirements/999999", headers=auth)
    assert missing.status_code == 404 and "requirement_id" in missing.json()["detail"]
    assert client.get(f"{base}/requirements/99999999999", headers=auth).status_code == 404
    assert (
        client.post(f"{base}/requirements/{rid}/feedback", json={"item_ids": [424242]}, headers=auth).status_code == 404
    )
    assert client.get(f"{base}/requirements", params={"sort": "colour"}, headers=auth).status_code == 400
    # Votes: one per voter.
    assert client.post(f"{base}/requirements/{rid}/votes", json={"voter": "u2"}, headers=auth).json()["votes"] == 1
    again = client.post(f"{base}/requirements/{rid}/votes", json={"voter": "u2"}, headers=auth)
    assert again.status_code == 409 and "voter" in again.json()["detail"]
    # Ship it: the annotation is listed for charts of that range.
    shipped = client.patch(f"{base}/requirements/{rid}", json={"status": "shipped"}, headers=auth)
    assert shipped.status_code == 200 and shipped.json()["shipped_at"] is not None
    today = dt.datetime.now(dt.UTC).date()
    notes = client.get(
        f"{base}/annotations",
        params={"date_from": str(today - dt.timedelta(days=1)), "date_to": str(today)},
        headers=auth,
    )
    assert [n["text"] for n in notes.json()] == ["Shipped: Dark mode"]
    assert (
        client.get(
            f"{base}/annotations", params={"date_from": "2024-01-02", "date_to": "2024-01-01"}, headers=auth
        ).status_code
        == 400
    )
    manual = client.post(f"{base}/annotations", json={"date": "2024-03-01", "text": "Pricing change"}, headers=auth)
    assert manual.status_code == 200 and manual.json()["source"] == "manual"
    assert client.delete(f"{base}/annotations/99999999999", headers=auth).status_code == 404
    assert client.delete(f"{base}/annotations/{manual.json()['id']}", headers=auth).status_code == 204
    history = client.get(f"{base}/requirements/{rid}/history", headers=auth).json()
    assert [h["to_status"] for h in history] == ["under_review", "shipped"]
    detail = client.get(f"{base}/requirements/{rid}", headers=auth)
    assert detail.status_code == 200 and detail.json()["revenue"] == 0 and detail.json()["metric"] is None
    prd = client.get(f"{base}/requirements/{rid}/prd.md", headers=auth)
    assert prd.status_code == 200 and prd.headers["content-type"].startswith("text/markdown")
    assert prd.text.startswith("# Dark mode\n") and "> Please add dark mode" in prd.text


def test_another_projects_key_gets_nothing(live_server: LiveServer) -> None:
    client, base = live_server.client, _base(live_server)
    rid = client.post(
        f"{base}/requirements", json={"title": "Mine"}, headers=_auth(live_server.project.api_key)
    ).json()["id"]
    other = live_server.new_project()
    for method, path in [
        ("get", "/requirements"),
        ("get", f"/requirements/{rid}"),
        ("get", f"/requirements/{rid}/prd.md"),
        ("get", "/roadmap"),
    ]:
        r = client.request(method, f"{base}{path}", headers=_auth(other.api_key))
        assert r.status_code == 403, (path, r.text)
    assert client.get(f"{base}/requirements").status_code == 401
    # Through its own project id, the other key cannot reach this requirement either.
    r = client.get(f"/api/projects/{other.project.id}/requirements/{rid}", headers=_auth(other.api_key))
    assert r.status_code == 404


def test_public_roadmap_is_off_by_default_escaped_and_switchable(live_server: LiveServer) -> None:
    client, auth, base = live_server.client, _auth(live_server.project.api_key), _base(live_server)
    state = client.get(f"{base}/roadmap", headers=auth).json()
    assert state["enabled"] is False
    assert client.get(state["path"]).status_code == 404, "off by default"
    hostile = "<script>alert('x')</script> Sign in with Apple"
    made = [
        client.post(f"{base}/requirements", json=body, headers=auth).json()
        for body in [
            {
                "title": hostile,
                "status": "planned",
                "public": True,
                "public_summary": "<img src=x onerror=alert(1)> for iOS",
                "description": "Internal: ACME churn risk",
            },
            {"title": "Dark mode", "status": "in_progress", "public": True},
            {"title": "Secret deal for ACME", "status": "planned", "public": False},
            {"title": "Declined idea", "status": "declined", "public": True},
            {"title": "CSV export", "status": "shipped", "public": True},
        ]
    ]
    assert all("id" in m for m in made)
    slug = f"acme-{secrets.token_hex(4)}"  # PostgreSQL runs share one database
    on = client.put(f"{base}/roadmap", json={"enabled": True, "slug": slug, "title": "Acme & Co"}, headers=auth)
    assert on.status_code == 200 and on.json()["path"] == f"/roadmap/{slug}"
    page = client.get(f"/roadmap/{slug}")  # no credentials
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Sign in with Apple" in html
    assert "Acme &amp; Co" in html and "Dark mode" in html and "CSV export" in html
    assert "&lt;img src=x onerror=alert(1)&gt; for iOS" in html
    assert "Secret deal" not in html and "Declined idea" not in html and "Internal" not in html, "only what is public"
    changelog = html.split("Changelog")[1]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert f"{today}</time><strong>CSV export</strong>" in changelog and "Dark mode" not in changelog
    assert "script-src" not in page.headers["content-security-policy"]
    bad_slug = client.put(f"{base}/roadmap", json={"enabled": True, "slug": "Bad Slug!"}, headers=auth)
    assert bad_slug.status_code == 400 and "slug" in bad_slug.json()["detail"]
    other = live_server.new_project()
    taken = client.put(
        f"/api/projects/{other.project.id}/roadmap",
        json={"enabled": True, "slug": slug},
        headers=_auth(other.api_key),
    )
    assert taken.status_code == 409 and "slug" in taken.json()["detail"]
    chinese = client.put(f"{base}/roadmap", json={"enabled": True, "language": "zh"}, headers=auth)
    assert chinese.json()["language"] == "zh" and chinese.json()["slug"] == slug, "the slug is kept"
    zh = client.get(f"/roadmap/{slug}").text
    assert "<html lang='zh'>" in zh and "已计划" in zh and "更新日志" in zh and "Dark mode" in zh
    assert client.put(f"{base}/roadmap", json={"enabled": True, "language": "fr"}, headers=auth).status_code == 400
    client.put(f"{base}/roadmap", json={"enabled": False}, headers=auth)
    assert client.get(f"/roadmap/{slug}").status_code == 404, "switched off"
    assert client.get("/roadmap/" + "x" * 300).status_code == 404
