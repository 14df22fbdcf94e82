"""The console shares the app with the APIs: static files, Plotly.js, and the API routes still answer."""

from __future__ import annotations

from tests.web.console.conftest import ConsoleHarness


def test_static_files_and_plotly(console: ConsoleHarness) -> None:
    client = console.browser()
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert client.get("/static/console.css").status_code == 200
    assert client.get("/static/console.js").status_code == 200


def test_apis_and_openapi_are_unchanged(console: ConsoleHarness) -> None:
    client = console.browser()
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/projects/{project_id}/query" in paths and "/login" not in paths  # console pages stay out
    assert client.get("/healthz").status_code == 200
    r = client.post("/batch/", json={"api_key": console.project.token, "batch": [{"event": "e", "distinct_id": "u"}]})
    assert r.status_code == 200
    # The query API takes API keys, not console cookies, and needs no CSRF token.
    signed_in = console.signed_in("ana@example.com")
    r = signed_in.post(f"/api/projects/{console.pid}/query", json={"kind": "sql", "query": "select 1"})
    assert r.status_code == 401
