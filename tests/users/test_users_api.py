"""The catalogue and segments over HTTP, on a real server: CRUD, sizes, refresh and history, CSV export and
import, clear errors (unknown names, cycles, malformed CSV) and project isolation."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from opsloop.projects import NewProject
from tests.conftest import LiveServer


def auth(project: NewProject) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.api_key}"}


def send(server: LiveServer, project: NewProject, events: list[dict[str, Any]]) -> None:
    r = server.client.post("/batch/", json={"api_key": project.token, "batch": events})
    assert r.status_code == 200, r.text
    server.flush()


def shop(server: LiveServer, project: NewProject) -> None:
    """ann (pro, born 1990) bought twice; bob (free) bought once; cat (pro) only viewed."""
    send(
        server,
        project,
        [
            {
                "event": "purchase",
                "distinct_id": "ann",
                "timestamp": "2026-01-02T10:00:00Z",
                "properties": {"amount": 10, "$set": {"plan": "pro", "birth_year": 1990}},
            },
            {
                "event": "purchase",
                "distinct_id": "ann",
                "timestamp": "2026-01-03T10:00:00Z",
                "properties": {"amount": 25.5, "paid_at": "2026-01-03T10:00:00Z"},
            },
            {
                "event": "purchase",
                "distinct_id": "bob",
                "timestamp": "2026-01-04T10:00:00Z",
                "properties": {"amount": 5, "$set": {"plan": "free"}},
            },
            {
                "event": "pageview",
                "distinct_id": "cat",
                "timestamp": "2026-01-05T10:00:00Z",
                "properties": {"mobile": True, "$set": {"plan": "pro"}},
            },
        ],
    )


def url(project: NewProject, path: str) -> str:
    return f"/api/projects/{project.project.id}{path}"


def test_catalogue(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client = live_server.client
    r = client.get(url(project, "/catalogue"), headers=auth(project))
    assert r.status_code == 200, r.text
    entries = {(e["kind"], e["name"]): e for e in r.json()}
    assert entries[("event", "purchase")]["volume"] == 3
    assert entries[("event", "pageview")]["first_seen"].startswith("2026-01-05T10:00:00")
    amount = entries[("event_property", "amount")]
    assert amount["type"] == "number" and amount["volume"] == 3
    assert amount["top_values"] == [
        {"value": "10", "count": 1},
        {"value": "25.5", "count": 1},
        {"value": "5", "count": 1},
    ]
    assert entries[("event_property", "paid_at")]["type"] == "datetime"
    assert entries[("event_property", "mobile")]["type"] == "boolean"
    plan = entries[("person_property", "plan")]
    # Two pro persons and one free: the top value first.
    assert plan["type"] == "string" and plan["volume"] == 3
    assert plan["top_values"][0] == {"value": "pro", "count": 2}
    edit = {"description": "Paid orders", "display_name": "Purchase", "hidden": True}
    r = client.patch(url(project, "/catalogue/event/purchase"), json=edit, headers=auth(project))
    assert r.status_code == 200 and r.json()["display_name"] == "Purchase"
    # Edits survive a refresh; hidden entries can be left out.
    assert client.post(url(project, "/catalogue/refresh"), headers=auth(project)).json()["entries"] == len(entries)
    r = client.get(url(project, "/catalogue"), params={"include_hidden": False, "kind": "event"}, headers=auth(project))
    assert [e["name"] for e in r.json()] == ["pageview"]
    r = client.get(url(project, "/catalogue"), params={"kind": "event"}, headers=auth(project))
    assert r.json()[1]["description"] == "Paid orders"
    r = client.patch(url(project, "/catalogue/event/nope"), json={"hidden": True}, headers=auth(project))
    assert r.status_code == 404
    r = client.patch(url(project, "/catalogue/event/purchase"), json={"colour": 1}, headers=auth(project))
    assert r.status_code == 400 and "colour" in r.json()["detail"]


def test_segments_lifecycle(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client = live_server.client
    buyers = {"conditions": [{"type": "event", "event": "purchase", "count_op": "gte", "count": 2}]}
    r = client.post(url(project, "/segments/size"), json=buyers, headers=auth(project))
    assert r.status_code == 200 and r.json() == {"size": 1}  # ann bought twice
    r = client.post(
        url(project, "/segments"), json={"name": "repeat buyers", "definition": buyers}, headers=auth(project)
    )
    assert r.status_code == 201, r.text
    repeat = r.json()["id"]
    pro = {"conditions": [{"type": "person", "property": "plan", "value": "pro"}]}
    pro_id = client.post(
        url(project, "/segments"), json={"name": "pro", "definition": pro}, headers=auth(project)
    ).json()["id"]
    either = {
        "operator": "or",
        "conditions": [{"type": "segment", "segment_id": repeat}, {"type": "segment", "segment_id": pro_id}],
    }
    r = client.post(url(project, "/segments"), json={"name": "either", "definition": either}, headers=auth(project))
    either_id = r.json()["id"]
    r = client.get(url(project, f"/segments/{either_id}/size"), headers=auth(project))
    assert r.json() == {"size": 2, "history": []}  # ann, cat
    # Refresh twice: the history holds both sizes; export lists the members with their distinct ids.
    assert client.post(url(project, f"/segments/{either_id}/refresh"), headers=auth(project)).json()["size"] == 2
    client.post(url(project, f"/segments/{either_id}/refresh"), headers=auth(project))
    history = client.get(url(project, f"/segments/{either_id}/size"), headers=auth(project)).json()["history"]
    assert [p["size"] for p in history] == [2, 2]
    r = client.get(url(project, f"/segments/{either_id}/members.csv"), headers=auth(project))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["distinct_ids"] for row in rows) == ["ann", "cat"]
    # A cycle is refused on save, naming the loop.
    loop = {"conditions": [{"type": "segment", "segment_id": either_id}]}
    r = client.put(
        url(project, f"/segments/{repeat}"), json={"name": "repeat buyers", "definition": loop}, headers=auth(project)
    )
    assert r.status_code == 400
    assert "cycle" in r.json()["detail"] and "'either'" in r.json()["detail"]
    # A segment in use cannot be deleted; an unused one can.
    assert client.delete(url(project, f"/segments/{pro_id}"), headers=auth(project)).status_code == 400
    assert client.delete(url(project, f"/segments/{either_id}"), headers=auth(project)).status_code == 204
    assert client.get(url(project, f"/segments/{either_id}"), headers=auth(project)).status_code == 404
    # Analytics queries take the segment as a filter: repeat buyers' purchases.
    query = {
        "kind": "trends",
        "date_from": "2026-01-02",
        "date_to": "2026-01-04",
        "series": [{"event": "purchase"}],
        "filters": [{"type": "segment", "segment_id": repeat}],
    }
    r = client.post(url(project, "/query"), json=query, headers=auth(project))
    assert r.status_code == 200, r.text
    assert r.json()["series"][0]["values"] == [1, 1, 0]
    query["filters"] = [{"type": "segment", "segment_id": 999}]
    r = client.post(url(project, "/query"), json=query, headers=auth(project))
    assert r.status_code == 400 and "no segment 999" in r.json()["detail"]


def test_bad_definitions_get_clear_errors(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client = live_server.client

    def create(body: dict[str, Any]) -> httpx.Response:
        return client.post(url(project, "/segments"), json=body, headers=auth(project))

    typo = {"conditions": [{"type": "group", "conditions": [{"type": "person", "property": "plann", "value": "x"}]}]}
    r = create({"name": "typo", "definition": typo})
    assert r.status_code == 400
    assert r.json()["detail"].startswith(
        "definition.conditions.0.conditions.0.property: unknown person property 'plann'"
    )
    unknown_event = {"conditions": [{"type": "event", "event": "purchse"}]}
    assert "unknown event 'purchse'" in create({"name": "x", "definition": unknown_event}).json()["detail"]
    bad_filter = {
        "conditions": [{"type": "event", "event": "purchase", "filters": [{"property": "amnt", "op": "is_set"}]}]
    }
    assert (
        "filters.0.property: unknown event property 'amnt'"
        in create({"name": "x", "definition": bad_filter}).json()["detail"]
    )
    r = create({"name": "x", "definition": {"conditions": [{"type": "segment", "segment_id": 42}]}})
    assert r.status_code == 400 and "no segment 42" in r.json()["detail"]
    r = create({"name": "x", "definition": {"conditions": [{"type": "age"}]}})
    assert r.status_code == 400 and "definition.conditions.0.age" in r.json()["detail"]
    r = create({"name": "x"})
    assert r.status_code == 400 and "needs a definition" in r.json()["detail"]
    r = client.post(url(project, "/segments/size"), content="{nope", headers=auth(project))
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    good = {"conditions": [{"type": "person", "property": "plan", "op": "is_set"}]}
    assert create({"name": "dup", "definition": good}).status_code == 201
    r = create({"name": "dup", "definition": good})
    assert r.status_code == 400 and "already has a segment named 'dup'" in r.json()["detail"]


def test_static_lists(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client = live_server.client
    r = client.post(url(project, "/segments"), json={"name": "vip", "kind": "static"}, headers=auth(project))
    vip = r.json()["id"]
    bad = "distinct_id\nann\nbob,extra\n\ncat,x,y\n"
    r = client.post(url(project, f"/segments/{vip}/import"), content=bad, headers=auth(project))
    assert r.status_code == 400
    assert "line 3: expected 1 value, found 2" in r.json()["detail"]
    assert "line 5: expected 1 value, found 3" in r.json()["detail"]
    r = client.post(
        url(project, f"/segments/{vip}/import"), content="distinct_id\nann\nnobody\n", headers=auth(project)
    )
    assert r.status_code == 200 and r.json()["list_size"] == 2
    r = client.post(
        url(project, f"/segments/{vip}/import?replace=false"), content="distinct_id\ncat\n", headers=auth(project)
    )
    assert r.json()["list_size"] == 3
    assert client.get(url(project, f"/segments/{vip}/size"), headers=auth(project)).json()["size"] == 2  # ann, cat
    query = {
        "kind": "trends",
        "date_from": "2026-01-02",
        "date_to": "2026-01-05",
        "series": [{"event": "$any"}],
        "breakdown": {"type": "segment", "segment_ids": [vip]},
    }
    r = client.post(url(project, "/query"), json=query, headers=auth(project))
    assert {s["breakdown_value"]: s["total"] for s in r.json()["series"]} == {"vip": 3, None: 1}
    buyers = {"name": "b", "definition": {"conditions": [{"type": "event", "event": "purchase"}]}}
    dynamic = client.post(url(project, "/segments"), json=buyers, headers=auth(project)).json()["id"]
    r = client.post(url(project, f"/segments/{dynamic}/import"), content="distinct_id\nann\n", headers=auth(project))
    assert r.status_code == 400 and "only static segments" in r.json()["detail"]


def test_isolation(live_server: LiveServer) -> None:
    mine, other = live_server.project, live_server.new_project()
    shop(live_server, mine)
    client = live_server.client
    body = {"name": "pro", "definition": {"conditions": [{"type": "person", "property": "plan", "value": "pro"}]}}
    segment = client.post(url(mine, "/segments"), json=body, headers=auth(mine)).json()["id"]
    # The other project's key cannot read or write this project's segments or catalogue.
    for method, path in [
        ("GET", "/segments"),
        ("GET", f"/segments/{segment}"),
        ("GET", "/catalogue"),
        ("POST", f"/segments/{segment}/refresh"),
        ("GET", f"/segments/{segment}/members.csv"),
    ]:
        r = client.request(method, url(mine, path), headers=auth(other))
        assert r.status_code == 403, (path, r.text)
    assert client.get(url(mine, "/segments")).status_code == 401
    # Through its own project, the segment id does not exist, and queries cannot reach it.
    assert client.get(url(other, f"/segments/{segment}"), headers=auth(other)).status_code == 404
    assert client.get(url(other, "/segments"), headers=auth(other)).json() == []
    query = {"kind": "trends", "series": [{"event": "$any"}], "filters": [{"type": "segment", "segment_id": segment}]}
    r = client.post(url(other, "/query"), json=query, headers=auth(other))
    assert r.status_code == 400 and f"no segment {segment}" in r.json()["detail"]
    # A segment of the other project referring to this one's id is refused.
    ref = {"name": "sneaky", "definition": {"conditions": [{"type": "segment", "segment_id": segment}]}}
    assert client.post(url(other, "/segments"), json=ref, headers=auth(other)).status_code == 400


def test_rfm(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client = live_server.client
    body = {"value_event": "purchase", "amount_property": "amount", "lookback_days": 3660}
    r = client.post(url(project, "/rfm"), json=body, headers=auth(project))
    assert r.status_code == 200, r.text
    # ann: 2 purchases (35.5), last 01-03; bob: 1 (5), last 01-04. Places 1, 2 score 1, 3.
    result = r.json()
    assert result["persons"] == 2 and result["revenue"] == 40.5
    assert {(c["r"], c["f"], c["segment"]) for c in result["cells"] if c["persons"]} == {
        (1, 3, "At Risk"),
        (3, 1, "About to Sleep"),
    }
    r = client.post(url(project, "/rfm"), json={**body, "lookback_days": 0}, headers=auth(project))
    assert r.status_code == 400 and r.json()["detail"].startswith("lookback_days")
