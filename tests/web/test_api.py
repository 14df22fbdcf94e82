"""The read API as clients call it: any Content-Type, clear errors."""

from __future__ import annotations

from tests.conftest import LiveServer


def test_query_body_is_json_whatever_the_content_type(live_server: LiveServer) -> None:
    project = live_server.project
    url = f"/api/projects/{project.project.id}/query"
    auth = {"Authorization": f"Bearer {project.api_key}"}
    body = '{"kind": "sql", "query": "select 41 + 1 AS answer"}'
    # `curl -d` sends application/x-www-form-urlencoded; the README's examples rely on it working.
    for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
        r = live_server.client.post(url, content=body, headers={**auth, "Content-Type": content_type})
        assert r.status_code == 200, (content_type, r.text)
        assert r.json()["rows"] == [[42]]
    r = live_server.client.post(url, content="{not json", headers=auth)
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["detail"]
