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


def test_analytics_queries_over_http(live_server: LiveServer) -> None:
    project = live_server.project
    capture = {"api_key": project.token, "batch": []}
    for i, who in enumerate(["a", "b", "a"]):
        props = {"it's": "x'); drop table events; --"} if i == 0 else {}
        capture["batch"].append(
            {"event": "signup", "distinct_id": who, "timestamp": f"2026-11-0{i + 1}T12:00:00Z", "properties": props}
        )
    assert live_server.client.post("/batch/", json=capture).status_code == 200
    live_server.flush()
    url = f"/api/projects/{project.project.id}/query"
    auth = {"Authorization": f"Bearer {project.api_key}"}
    query = {
        "kind": "trends",
        "date_from": "2026-11-01",
        "date_to": "2026-11-03",
        "series": [{"event": "signup", "math": "persons"}],
    }
    r = live_server.client.post(url, json=query, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["series"][0]["values"] == [1, 1, 1] and r.json()["series"][0]["total"] == 2
    # A property name with quotes and SQL in it is only ever a name: it matches the one event that has it.
    weird = {**query, "filters": [{"property": "it's", "op": "contains", "value": "drop table"}]}
    r = live_server.client.post(url, json=weird, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["series"][0]["values"] == [1, 0, 0]


def test_bad_analytics_queries_name_the_field(live_server: LiveServer) -> None:
    project = live_server.project
    url = f"/api/projects/{project.project.id}/query"
    auth = {"Authorization": f"Bearer {project.api_key}"}
    cases = [
        ({"kind": "nope"}, "unknown query kind 'nope'"),
        ({"kind": "trends", "series": [{"event": "a"}], "colour": "red"}, "colour"),
        ({"kind": "trends", "series": []}, "series"),
        ({"kind": "trends", "series": [{"event": "a", "math": "sum"}]}, "series.0: math `sum` needs a `property`"),
        (
            {"kind": "trends", "series": [{"event": "a"}], "date_from": "2026-02-01", "date_to": "2026-01-01"},
            "date_to (2026-01-01) is before date_from (2026-02-01)",
        ),
        ({"kind": "trends", "series": [{"event": "a"}], "formula": "A + __import__('os')"}, "formula"),
        ({"kind": "trends", "series": [{"event": "a"}], "formula": "A / C"}, "formula uses 'C'"),
        (
            {"kind": "trends", "series": [{"event": "a"}], "filters": [{"property": "x", "op": "gt", "value": "1"}]},
            "filters.0: `gt` compares numbers",
        ),
        ({"kind": "trends", "series": [{"event": ""}]}, "series.0.event: event must be 1 to 200 characters"),
    ]
    for body, message in cases:
        r = live_server.client.post(url, json=body, headers=auth)
        assert r.status_code == 400, (body, r.text)
        assert message in r.json()["detail"], (body, r.json()["detail"])
