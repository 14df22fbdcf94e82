"""The whole capture -> identity -> query path on each events engine (DuckDB and embedded ClickHouse)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from opsloop.config import Settings
from tests.conftest import LiveServer, free_port, start_server


@pytest.fixture(params=["duckdb", "chdb"])
def engine_server(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[LiveServer]:
    """A live server whose events store is DuckDB or chdb."""
    url = f"{request.param}://{tmp_path / ('events.' + request.param)}"
    settings = make_settings(port=free_port(), events_url=url)
    server, thread, runtime = start_server(settings)
    project = runtime.projects.create("engine test")
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.port}", timeout=30) as client:
        yield LiveServer(client.base_url.__str__(), runtime, project, client)
    server.should_exit = True
    thread.join(timeout=30)


def test_capture_merge_and_query_on_each_engine(engine_server: LiveServer) -> None:
    server = engine_server
    token = server.project.token
    other = server.new_project("other")
    batch = [
        {"event": "$pageview", "distinct_id": "anon-1", "uuid": "0b7e5a1c-0000-4000-8000-000000000001"},
        {
            "event": "$identify",
            "distinct_id": "user-1",
            "properties": {"$anon_distinct_id": "anon-1"},
            "$set": {"plan": "pro"},
        },
        {"event": "purchase", "distinct_id": "user-1", "properties": {"revenue": 5}},
    ]
    for _ in range(2):  # the re-sent batch adds only the events without a client uuid
        assert server.client.post("/batch/", json={"api_key": token, "batch": batch}).status_code == 200
        server.flush()
    server.client.post("/batch/", json={"api_key": other.token, "batch": [{"event": "x", "distinct_id": "anon-1"}]})
    assert server.sql("select count(*), count(distinct person_id) from events") == [[5, 1]]
    assert server.sql("select count(*) from persons") == [[1]]
    assert server.sql("select event from events where event = 'x'") == []
    assert server.sql("select count(*) from events", other) == [[1]]
    r = server.client.post(
        f"/api/projects/{server.project.project.id}/query",
        json={"kind": "sql", "query": "select * from person_distinct_ids"},
        headers={"Authorization": f"Bearer {server.project.api_key}"},
    )
    assert r.status_code == 400
