"""Tags, lifecycle stages, RFM movement and one-click segments, portraits and refresh over HTTP, on a real
server: clear 400s naming the field, and project isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from opsloop.users.persons import find_person
from tests.conftest import LiveServer
from tests.users.test_users_api import auth, send, url

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def at(days_ago: int) -> str:
    return (NOW - dt.timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def shop(server: LiveServer, project: Any) -> None:
    """ann (pro) bought for 120 yesterday and viewed shoes; bob (free) bought for 30 two days ago; cat (pro)
    viewed books 100 days ago."""
    rows = [
        ("purchase", "ann", 1, {"amount": 120, "$set": {"plan": "pro"}}),
        ("view", "ann", 1, {"category": "shoes"}),
        ("purchase", "bob", 2, {"amount": 30, "$set": {"plan": "free"}}),
        ("view", "cat", 100, {"category": "books", "$set": {"plan": "pro"}}),
    ]
    events = [{"event": e, "distinct_id": d, "timestamp": at(n), "properties": p} for e, d, n, p in rows]
    send(server, project, events)


def test_tags_over_http(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client, headers = live_server.client, auth(project)
    body = {"tags": [{"distinct_id": "ann", "tag": "vip", "value": "gold"}, {"distinct_id": "zed", "tag": "vip"}]}
    r = client.post(url(project, "/tags"), json=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"stored": 1, "errors": ["item 2: no person has the distinct_id 'zed'"]}
    r = client.post(url(project, "/tags"), json={"tags": [{"distinct_id": "ann", "tag": ""}]}, headers=headers)
    assert r.status_code == 400 and r.json()["detail"].startswith("tags.0.tag:")
    r = client.post(
        url(project, "/tags/import"), content="distinct_id,tag,value\nbob,vip,silver\nbob\n", headers=headers
    )
    assert r.json() == {"stored": 1, "errors": ["line 3: expected distinct_id,tag[,value]; found 1 value(s)"]}
    # A rule tag: 90-day revenue, ann 120 (high), bob 30 (low).
    rule = {"event": "purchase", "aggregate": "sum", "property": "amount",
            "thresholds": [{"value": "high", "min": 100}, {"value": "low", "min": 0}]}  # fmt: skip
    r = client.put(url(project, "/tags/value_tier/rule"), json=rule, headers=headers)
    assert r.status_code == 200 and r.json() == {"tag": "value_tier", "persons": 2}
    r = client.put(url(project, "/tags/bad/rule"), json={**rule, "aggregate": "count"}, headers=headers)
    assert r.status_code == 400 and "property: `count` takes no property" in r.json()["detail"]
    r = client.put(url(project, "/tags/bad/rule"), json={**rule, "event": "purchased"}, headers=headers)
    assert r.status_code == 400 and r.json()["detail"].startswith("event: unknown event 'purchased'")
    r = client.put(url(project, "/tags/bad/rule"), json={**rule, "property": "amt"}, headers=headers)
    assert r.status_code == 400 and r.json()["detail"].startswith("property: unknown event property 'amt'")
    preview = {"event": "view", "aggregate": "most_frequent", "property": "category", "within_days": 365}
    r = client.post(url(project, "/tags/preview"), json=preview, headers=headers)
    assert r.json() == {"persons": 2, "values": {"books": 1, "shoes": 1}}
    tags = {t["tag"]: (t["kind"], t["values"]) for t in client.get(url(project, "/tags"), headers=headers).json()}
    assert tags == {"value_tier": ("rule", {"high": 1, "low": 1}), "vip": ("manual", {"gold": 1, "silver": 1})}
    # Tags in segments and in analytics.
    high = {"conditions": [{"type": "tag", "tag": "value_tier", "value": "high"}]}
    assert client.post(url(project, "/segments/size"), json=high, headers=headers).json() == {"size": 1}
    unknown = {"conditions": [{"type": "tag", "tag": "nope", "op": "is_set"}]}
    r = client.post(url(project, "/segments/size"), json=unknown, headers=headers)
    assert r.status_code == 400 and r.json()["detail"].startswith("definition.conditions.0.tag: unknown tag 'nope'")
    query = {"kind": "trends", "date_from": at(3)[:10], "series": [{"event": "purchase"}],
             "breakdown": {"type": "tag", "property": "value_tier"}}  # fmt: skip
    r = client.post(url(project, "/query"), json=query, headers=headers)
    assert r.status_code == 200, r.text
    assert {s["breakdown_value"]: s["total"] for s in r.json()["series"]} == {"high": 1, "low": 1}
    # A person's page: stage and tags.
    ann = find_person(live_server.runtime.metadata, live_server.runtime.store, project.project.id, "ann")
    assert ann is not None
    r = client.get(url(project, f"/persons/{ann.id}/profile"), headers=headers)
    assert r.json() == {"person_id": ann.id, "stage": "new", "tags": {"value_tier": "high", "vip": "gold"}}
    assert client.delete(url(project, "/tags/vip"), params={"distinct_id": "ann"}, headers=headers).json() == {
        "removed": 1
    }
    assert client.post(url(project, "/tags/nope/compute"), headers=headers).status_code == 404


def test_lifecycle_rfm_portrait_refresh(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    client, headers = live_server.client, auth(project)
    assert client.get(url(project, "/lifecycle/settings"), headers=headers).json() == {
        "new_days": 7, "active_days": 30, "churn_days": 90}  # fmt: skip
    r = client.put(url(project, "/lifecycle/settings"), json={"new_days": 40}, headers=headers)
    assert r.status_code == 400 and "new_days" in r.json()["detail"]
    # ann and bob first seen in the last 7 days: new; cat last seen 100 days ago: churned.
    counts = client.get(url(project, "/lifecycle/counts"), params={"date_from": at(0)[:10]}, headers=headers).json()
    assert counts[-1]["counts"] == {"new": 2, "active": 0, "resurrected": 0, "dormant": 0, "churned": 1}
    # With churn after 120 days, cat is dormant.
    client.put(
        url(project, "/lifecycle/settings"), json={"new_days": 7, "active_days": 30, "churn_days": 120}, headers=headers
    )
    stage = {"conditions": [{"type": "lifecycle_stage", "stages": ["dormant"]}]}
    assert client.post(url(project, "/segments/size"), json=stage, headers=headers).json() == {"size": 1}
    # RFM over 30 days: two buyers, ann last (R 3) and bob (R 1); F ties broken by the last purchase: bob 1, ann 3.
    rfm = {"value_event": "purchase", "amount_property": "amount", "lookback_days": 30}
    r = client.post(url(project, "/rfm/segments"), json={"rfm": rfm, "cell": [3, 3]}, headers=headers)
    assert r.status_code == 201, r.text
    cell = r.json()
    assert cell["name"] == "RFM R3 F3"
    assert client.get(url(project, f"/segments/{cell['id']}/size"), headers=headers).json()["size"] == 1
    r = client.post(url(project, "/rfm/segments"), json={"rfm": rfm, "segment": "Hibernating"}, headers=headers)
    assert r.status_code == 201 and r.json()["name"] == "RFM Hibernating"
    r = client.post(url(project, "/rfm/segments"), json={"rfm": rfm, "segment": "Nope"}, headers=headers)
    assert r.status_code == 400 and "not a segment of the map" in r.json()["detail"]
    r = client.post(url(project, "/rfm/segments"), json={"rfm": rfm}, headers=headers)
    assert r.status_code == 400 and "one of them" in r.json()["detail"]
    r = client.post(url(project, "/rfm/movement"), json={"rfm": rfm, "period_days": 30}, headers=headers)
    # 30 days ago nobody had bought: both buyers come from "(none)".
    assert r.status_code == 200 and r.json()["moved"] == 2
    # Portrait of the cell (ann) against all three persons.
    dims = {"dimensions": [{"type": "person", "property": "plan"}, {"type": "lifecycle_stage"}]}
    r = client.post(url(project, f"/segments/{cell['id']}/portrait"), json=dims, headers=headers)
    assert r.status_code == 200, r.text
    plan = {
        row["value"]: (row["segment_persons"], row["all_persons"], row["lift"])
        for row in r.json()["dimensions"][0]["rows"]
    }
    assert plan == {"pro": (1, 2, 1.5), "free": (0, 1, 0.0)}  # 1/1 in the segment against 2/3 overall
    r = client.post(
        url(project, f"/segments/{cell['id']}/portrait"), params={"format": "csv"}, json=dims, headers=headers
    )
    assert r.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(r.text)))[1][:3] == ["person:plan", "pro", "1"]
    r = client.post(
        url(project, "/portrait"), json={"dimensions": [{"type": "tag"}], "definition": stage}, headers=headers
    )
    assert r.status_code == 400 and r.json()["detail"].startswith("dimensions.0:")
    # Refresh: every dynamic segment (three) and rule tag (none yet).
    report = client.post(url(project, "/refresh"), headers=headers).json()
    assert report["tags"] == {} and sorted(report["segments"].values()) == [1, 1] and report["errors"] == []


def test_isolation(live_server: LiveServer) -> None:
    mine, other = live_server.project, live_server.new_project()
    client = live_server.client
    for method, path in [
        ("GET", "/tags"),
        ("POST", "/refresh"),
        ("GET", "/lifecycle/settings"),
        ("POST", "/tags/import"),
    ]:
        assert client.request(method, url(mine, path), headers=auth(other)).status_code == 403, path
