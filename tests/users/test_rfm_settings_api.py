"""The project's RFM settings over HTTP on a real server: read, replace, clear 400s naming the field, the
saved map used by `rfm`, movement and one-click segments when a query gives none (an explicit map wins), and
project isolation."""

from __future__ import annotations

from typing import Any

from opsloop.users.rfm import STANDARD_MAP
from tests.conftest import LiveServer
from tests.users.test_user_ops_api import shop
from tests.users.test_users_api import auth, url

#: Two rules: "Best" holds R3-5 x F3-5, "Rest" every other cell.
TWO_RULES = [{"name": "Best", "r": [3, 5], "f": [3, 5]}, {"name": "Rest", "r": [1, 5], "f": [1, 5]}]
STANDARD = [rule.model_dump(mode="json") for rule in STANDARD_MAP]


def _persons(result: dict[str, Any]) -> dict[str, int]:
    return {s["segment"]: s["persons"] for s in result["segments"] if s["persons"]}


def test_settings_are_read_replaced_and_checked(live_server: LiveServer) -> None:
    project = live_server.project
    client, headers = live_server.client, auth(project)
    path = url(project, "/rfm/settings")
    # Nothing saved: the KPI settings' purchase event and revenue property, 365 days, the standard map.
    defaults = {"value_event": "purchase", "amount_property": "revenue", "lookback_days": 365, "segment_map": STANDARD}
    assert client.get(path, headers=headers).json() == defaults
    bad = [
        ({"segment_map": [{"name": "A", "r": [4, 2], "f": [1, 5]}]}, "segment_map.0: scores are 1 to 5"),
        ({"segment_map": [{"name": "A", "r": [6, 6], "f": [1, 5]}]}, "segment_map.0: scores are 1 to 5"),
        ({"segment_map": [{"name": "", "r": [1, 5], "f": [1, 5]}]}, "segment_map.0.name:"),
        ({"segment_map": TWO_RULES + [TWO_RULES[0]]}, "segment_map: the name 'Best' is used by two rules"),
        ({"segment_map": []}, "segment_map: List should have at least 1 item"),
        ({"lookback_days": "soon"}, "lookback_days:"),
        ({"value_event": ""}, "value_event: name must be 1 to 200"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ]
    for body, detail in bad:
        r = client.put(path, json=body, headers=headers)
        assert r.status_code == 400 and r.json()["detail"].startswith(detail), (body, r.text)
    r = client.put(path, content=b"[1]", headers=headers)
    assert r.status_code == 400 and r.json()["detail"].startswith("body:")
    r = client.put(path, content=b"{", headers=headers)
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    assert client.get(path, headers=headers).json() == defaults  # nothing bad was stored
    # A PUT replaces the whole: the fields it leaves out (value_event here) take the defaults.
    body = {"amount_property": "amount", "lookback_days": 30, "segment_map": TWO_RULES}
    r = client.put(path, json=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"value_event": "purchase", **body}
    assert client.get(path, headers=headers).json() == {"value_event": "purchase", **body}


def test_rfm_movement_and_segments_use_the_saved_map(live_server: LiveServer) -> None:
    project = live_server.project
    shop(live_server, project)
    live_server.flush()
    client, headers = live_server.client, auth(project)
    body = {"amount_property": "amount", "lookback_days": 30, "segment_map": TWO_RULES}
    assert client.put(url(project, "/rfm/settings"), json=body, headers=headers).status_code == 200
    # Two buyers in 30 days: ann (bought last, 120) in cell R3 F3, bob (30) in R1 F1 (see test_user_ops_api).
    # With the saved map, ann is "Best" and bob "Rest"; no field of the query is needed.
    r = client.post(url(project, "/rfm"), json={}, headers=headers)
    assert r.status_code == 200, r.text
    assert _persons(r.json()) == {"Best": 1, "Rest": 1} and r.json()["revenue"] == 150
    # An explicit map always wins: the standard map names the same cells Need Attention and Hibernating.
    r = client.post(url(project, "/rfm"), json={"segment_map": STANDARD}, headers=headers)
    assert _persons(r.json()) == {"Need Attention": 1, "Hibernating": 1}
    # An explicit look-back wins too: in the last day (today only) nobody bought.
    assert client.post(url(project, "/rfm"), json={"lookback_days": 1}, headers=headers).json()["persons"] == 0
    r = client.post(
        url(project, "/rfm"), json={"segment_map": [{"name": "X", "r": [1, 9], "f": [1, 5]}]}, headers=headers
    )
    assert r.status_code == 400 and r.json()["detail"].startswith("segment_map.0:")
    # Movement: 30 days ago nobody had bought; now one is Best and one Rest.
    r = client.post(url(project, "/rfm/movement"), json={"period_days": 30}, headers=headers)
    assert r.status_code == 200, r.text
    assert {(m["previous"], m["current"]) for m in r.json()["moves"]} == {("(none)", "Best"), ("(none)", "Rest")}
    # One click: a segment of the saved map by name, with no `rfm` at all; its definition keeps the map.
    r = client.post(url(project, "/rfm/segments"), json={"segment": "Best"}, headers=headers)
    assert r.status_code == 201, r.text
    best = r.json()
    assert best["name"] == "RFM Best"
    assert best["definition"]["conditions"][0]["rfm"]["segment_map"] == TWO_RULES
    assert client.get(url(project, f"/segments/{best['id']}/size"), headers=headers).json()["size"] == 1
    # A portrait's RFM dimension with no `rfm`: the saved settings. Best (ann) is all of the segment; of the
    # three persons, ann is Best, bob Rest and cat (no purchase) has no RFM segment.
    dims = {"dimensions": [{"type": "rfm_segment"}]}
    r = client.post(url(project, f"/segments/{best['id']}/portrait"), json=dims, headers=headers)
    assert r.status_code == 200, r.text
    rows = {row["value"]: (row["segment_persons"], row["all_persons"]) for row in r.json()["dimensions"][0]["rows"]}
    assert rows["Best"] == (1, 1) and rows["Rest"] == (0, 1)
    r = client.post(url(project, "/rfm/segments"), json={"rfm": {}, "segment": "Champions"}, headers=headers)
    assert r.status_code == 400 and "not a segment of the map" in r.json()["detail"]
    r = client.post(
        url(project, "/rfm/segments"), json={"rfm": {"segment_map": STANDARD}, "segment": "Champions"}, headers=headers
    )
    assert r.status_code == 201 and r.json()["name"] == "RFM Champions"
    # Changing the settings later leaves the saved segment as it was made.
    client.put(url(project, "/rfm/settings"), json={"amount_property": "amount"}, headers=headers)
    assert client.get(url(project, f"/segments/{best['id']}/size"), headers=headers).json()["size"] == 1


def test_settings_are_isolated_per_project(live_server: LiveServer) -> None:
    mine, other = live_server.project, live_server.new_project()
    client = live_server.client
    path = url(mine, "/rfm/settings")
    r = client.put(path, json={"segment_map": TWO_RULES}, headers=auth(other))
    assert r.status_code == 403
    assert client.get(path, headers=auth(other)).status_code == 403
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code in (401, 403)
    assert client.get(path, headers=auth(mine)).json()["segment_map"] == STANDARD
    # Each project's own settings: saving the other's leaves mine alone.
    r = client.put(url(other, "/rfm/settings"), json={"segment_map": TWO_RULES}, headers=auth(other))
    assert r.status_code == 200
    assert client.get(path, headers=auth(mine)).json()["segment_map"] == STANDARD
    assert client.get(url(other, "/rfm/settings"), headers=auth(other)).json()["segment_map"] == TWO_RULES
