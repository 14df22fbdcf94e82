"""Feedback over HTTP: token-authenticated sending, API-key reading and triage, themes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import LiveServer

DATA = Path(__file__).parents[1] / "feedback" / "data" / "feedback_eval.jsonl"


def _url(server: LiveServer, suffix: str = "") -> str:
    return f"/api/projects/{server.project.project.id}/feedback{suffix}"


def test_send_with_the_token_and_read_with_the_api_key(live_server: LiveServer) -> None:
    client, project = live_server.client, live_server.project
    script = "<script>alert('pwned')</script><b>Login</b> fails & the app crashes"
    r = client.post(
        _url(live_server),
        json={"text": script, "distinct_id": "user-1", "tags": ["ios"], "source": "widget"},
        headers={"Authorization": f"Bearer {project.token}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "*"  # the widget posts from the product's pages
    item = r.json()["items"][0]
    assert (item["source"], item["language"], item["sentiment"]) == ("widget", "en", "negative")
    # Text round-trips exactly; JSON escaping is all a JSON API needs (pages must HTML-escape it).
    assert item["text"] == script
    # The token is write-only: reading needs the API key.
    assert client.get(_url(live_server), headers={"Authorization": f"Bearer {project.token}"}).status_code == 401
    auth = {"Authorization": f"Bearer {project.api_key}"}
    page = client.get(_url(live_server), params={"q": "login", "tag": "ios"}, headers=auth).json()
    assert page["total"] == 1 and page["items"][0]["text"] == script
    one = client.get(_url(live_server, f"/{item['id']}"), headers=auth)
    assert one.status_code == 200 and one.json()["distinct_id"] == "user-1"
    changed = client.patch(
        _url(live_server, f"/{item['id']}"), json={"status": "triaged", "assignee": "li"}, headers=auth
    )
    assert changed.status_code == 200 and changed.json()["status"] == "triaged"
    # ?token= works too (SDKs and the widget).
    r = client.post(_url(live_server), params={"token": project.token}, json={"text": "second"})
    assert r.status_code == 200


def test_bad_requests_get_clear_errors_and_store_nothing(live_server: LiveServer) -> None:
    client, project = live_server.client, live_server.project
    token = {"Authorization": f"Bearer {project.token}"}
    other = live_server.new_project()
    cases = [
        ({}, {"text": "hi"}, 401, "send the project token"),
        ({"Authorization": "Bearer olp_unknown"}, {"text": "hi"}, 401, "not valid"),
        ({"Authorization": f"Bearer {other.token}"}, {"text": "hi"}, 403, f"project {project.project.id}"),
        (token, {"text": "x" * (1024 * 1024)}, 413, "the limit is 10,000"),
        (token, {"text": ""}, 400, "text: the text is empty"),
        (token, {"text": "hi", "status": "closed"}, 400, "status: Extra inputs"),
        (token, {"batch": "nope"}, 400, "batch"),
        (token, {"batch": [{"text": ""}, {}]}, 400, "no valid items: batch.0.text"),
    ]
    for headers, body, status, words in cases:
        r = client.post(_url(live_server), json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["detail"], (body, r.text)
    r = client.post(_url(live_server), content=b"{not json", headers=token)
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    auth = {"Authorization": f"Bearer {project.api_key}"}
    assert client.get(_url(live_server), headers=auth).json()["total"] == 0
    # Reading another project's inbox with this key is refused.
    r = client.get(f"/api/projects/{other.project.id}/feedback", headers=auth)
    assert r.status_code == 403
    r = client.get(_url(live_server), params={"status": "pending"}, headers=auth)
    assert r.status_code == 400 and "status" in r.json()["detail"]
    r = client.patch(_url(live_server, "/999"), json={"status": "closed"}, headers=auth)
    assert r.status_code == 404


def test_batch_csv_import_and_themes(live_server: LiveServer) -> None:
    client, project = live_server.client, live_server.project
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()][::3]  # 100 texts
    batch = [{"text": r["text"]} for r in rows] + [{"text": "bad", "tags": [""]}]
    r = client.post(_url(live_server), json={"batch": batch}, headers={"Authorization": f"Bearer {project.token}"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 100 and r.json()["errors"][0]["index"] == 100
    auth = {"Authorization": f"Bearer {project.api_key}"}
    csv_body = "text,distinct_id\nLa app se cierra al abrirla,u9\n,u10\n"
    r = client.post(_url(live_server, "/import"), content=csv_body.encode(), headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1 and r.json()["errors"][0]["line"] == 3
    analysed = client.post(_url(live_server, "/themes/analyse"), headers=auth)
    assert analysed.status_code == 200, analysed.text
    themes = analysed.json()["themes"]
    assert len(themes) >= 3 and all(t["examples"] and t["trend"] for t in themes)
    assert client.get(_url(live_server, "/themes"), headers=auth).json() == themes
    first, second = themes[0]["id"], themes[1]["id"]
    r = client.patch(_url(live_server, f"/themes/{first}"), json={"label": "<i>Crashes</i>"}, headers=auth)
    assert r.status_code == 200 and r.json()["label"] == "<i>Crashes</i>"
    r = client.post(_url(live_server, "/themes/merge"), json={"theme_ids": [first, second]}, headers=auth)
    assert r.status_code == 200 and r.json()["size"] == themes[0]["size"] + themes[1]["size"]
    r = client.post(_url(live_server, f"/themes/{first}/split"), json={"parts": 2}, headers=auth)
    assert r.status_code == 200 and len(r.json()) == 2
    r = client.post(_url(live_server, "/themes/merge"), json={"theme_ids": [first]}, headers=auth)
    assert r.status_code == 400 and "theme_ids" in r.json()["detail"]
    r = client.patch(_url(live_server, "/themes/99999"), json={"label": "x"}, headers=auth)
    assert r.status_code == 404
