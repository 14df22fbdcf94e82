"""Project isolation: one project's token and key can never read or write another project's data."""

from __future__ import annotations

from tests.conftest import LiveServer


def test_keys_tokens_and_sql_are_confined_to_their_project(live_server: LiveServer) -> None:
    a, b = live_server.project, live_server.new_project("B")
    client = live_server.client
    client.post("/batch/", json={"api_key": a.token, "batch": [{"event": "a-event", "distinct_id": "shared-id"}] * 3})
    client.post("/batch/", json={"api_key": b.token, "batch": [{"event": "b-event", "distinct_id": "shared-id"}] * 2})
    live_server.flush()

    # Each project's SQL sees its own events and persons only, even with the same distinct id.
    assert live_server.sql("select event, count(*) from events group by 1", a) == [["a-event", 3]]
    assert live_server.sql("select event, count(*) from events group by 1", b) == [["b-event", 2]]
    assert live_server.sql("select count(*) from persons", a) == [[1]]
    person_a = live_server.sql("select id from persons", a)[0][0]
    assert live_server.sql(f"select count(*) from persons where id = '{person_a}'", b) == [[0]]

    # A's key cannot query B, nor read B's persons; B's id in A's path with B's key is refused too.
    headers_a = {"Authorization": f"Bearer {a.api_key}"}
    sql = {"kind": "sql", "query": "select count(*) from events"}
    r = client.post(f"/api/projects/{b.project.id}/query", json=sql, headers=headers_a)
    assert r.status_code == 403
    assert client.get(f"/api/projects/{b.project.id}/persons/shared-id", headers=headers_a).status_code == 403
    # The capture token is write-only: it is not an API key.
    r = client.post(f"/api/projects/{a.project.id}/query", json=sql, headers={"Authorization": f"Bearer {a.token}"})
    assert r.status_code == 401
    assert client.post(f"/api/projects/{a.project.id}/query", json=sql).status_code == 401

    # Escapes through SQL are refused with a reason, never executed.
    for attempt, words in [
        ("select * from person_distinct_ids", "unknown table"),
        ("with events as (select * from events) select * from events", "reserved"),
        ("select * from main.events", "qualified"),
        ("select * from read_parquet('/etc/passwd')", "not available"),
        ("select * from '/etc/passwd'", "unknown table"),
        ("attach '/tmp/x.db' as x", "only SELECT"),
        ("select 1; select 2", "exactly one"),
        ("select count(*) from information_schema.tables", "qualified"),
        ("select * from duckdb_tables()", "table functions"),
    ]:
        r = client.post(
            f"/api/projects/{a.project.id}/query", json={"kind": "sql", "query": attempt}, headers=headers_a
        )
        assert r.status_code == 400, (attempt, r.text)
        assert words in r.json()["detail"], (attempt, r.json())


def test_persons_endpoint_and_unknown_ids(live_server: LiveServer) -> None:
    p = live_server.project
    headers = {"Authorization": f"Bearer {p.api_key}"}
    r = live_server.client.get(f"/api/projects/{p.project.id}/persons/nobody", headers=headers)
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    r = live_server.client.post(f"/api/projects/{p.project.id}/query", json={"kind": "nope"}, headers=headers)
    assert r.status_code == 400 and "unknown query kind" in r.json()["detail"]
    r = live_server.client.post(f"/api/projects/{p.project.id}/query", json={"kind": "sql"}, headers=headers)
    assert r.status_code == 400 and "query" in r.json()["detail"]
