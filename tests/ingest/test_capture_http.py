"""Every capture path through real HTTP on loopback: shapes, tokens, compression, dedup, bad input."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import uuid

import pytest

from tests.conftest import LiveServer

POSTHOG_PATHS = ["/i/v0/e/", "/i/v0/e", "/e/", "/e", "/capture/", "/capture", "/batch/", "/batch"]


def count(server: LiveServer, where: str = "true") -> int:
    """Stored events of the server's project matching a SQL condition."""
    return int(server.sql(f"select count(*) from events where {where}")[0][0])


@pytest.mark.parametrize("path", POSTHOG_PATHS)
def test_posthog_paths_accept_single_array_and_batch(live_server: LiveServer, path: str) -> None:
    token = live_server.project.token
    single = {"api_key": token, "event": "single", "distinct_id": "d1", "properties": {"a": 1}}
    array = [{"event": "arr", "distinct_id": "d1", "properties": {"token": token}} for _ in range(2)]
    batch = {"api_key": token, "batch": [{"event": "bat", "distinct_id": "d1"} for _ in range(3)]}
    for body in (single, array, batch):
        response = live_server.client.post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == 1
    assert count(live_server, "event = 'single'") == 1
    assert count(live_server, "event = 'arr'") == 2
    assert count(live_server, "event = 'bat'") == 3


@pytest.mark.parametrize("field", ["api_key", "token", "$token"])
def test_token_in_any_posthog_field(live_server: LiveServer, field: str) -> None:
    body = {field: live_server.project.token, "event": f"via {field}", "distinct_id": "d"}
    assert live_server.client.post("/capture/", json=body).status_code == 200
    assert count(live_server, f"event = 'via {field}'") == 1


def test_gzip_bodies_header_and_query_param(live_server: LiveServer) -> None:
    body = {"api_key": live_server.project.token, "batch": [{"event": "gz", "distinct_id": "d"}] * 1}
    raw = gzip.compress(json.dumps(body).encode())
    r1 = live_server.client.post("/batch/", content=raw, headers={"Content-Encoding": "gzip"})
    r2 = live_server.client.post("/batch/?compression=gzip-js", content=raw, headers={"Content-Type": "text/plain"})
    form = "data=" + base64.b64encode(json.dumps(body).encode()).decode()
    r3 = live_server.client.post("/e/", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [r1.status_code, r2.status_code, r3.status_code] == [200, 200, 200]
    assert count(live_server, "event = 'gz'") == 3


def test_timestamps_skew_offset_and_properties(live_server: LiveServer) -> None:
    now = dt.datetime.now(dt.UTC)
    # The client clock is 1 hour fast: event 10 s before its sent_at must land ~10 s before now.
    fast = now + dt.timedelta(hours=1)
    body = {
        "api_key": live_server.project.token,
        "sent_at": fast.isoformat(),
        "batch": [
            {
                "event": "skewed",
                "distinct_id": "d",
                "timestamp": (fast - dt.timedelta(seconds=10)).isoformat(),
            },
            {"event": "offset", "distinct_id": "d", "offset": 60_000},
            {
                "event": "props",
                "distinct_id": "d",
                "properties": {"$session_id": "s-1", "plan": "pro", "n": 3},
            },
        ],
    }
    assert live_server.client.post("/batch/", json=body).status_code == 200
    rows = dict(
        (r[0], r[1:])
        for r in live_server.sql(
            "select event, epoch(timestamp), session_id, properties->>'plan', (properties->>'n')::int from events"
        )
    )
    assert abs(rows["skewed"][0] - (now.timestamp() - 10)) < 5
    assert abs(rows["offset"][0] - (now.timestamp() - 60)) < 5
    assert rows["props"][1:] == ["s-1", "pro", 3]


def test_resent_batch_is_not_counted_twice(live_server: LiveServer) -> None:
    events = [{"event": "retry", "distinct_id": "d", "uuid": str(uuid.uuid4())} for _ in range(5)]
    body = {"api_key": live_server.project.token, "batch": events}
    for _ in range(3):
        assert live_server.client.post("/batch/", json=body).status_code == 200
        live_server.flush()
    assert count(live_server, "event = 'retry'") == 5


def test_identify_merges_anonymous_history_into_one_person(live_server: LiveServer) -> None:
    token = live_server.project.token
    before = [{"event": "$pageview", "distinct_id": "anon-1"} for _ in range(3)]
    live_server.client.post("/batch/", json={"api_key": token, "batch": before})
    live_server.flush()  # the anonymous person exists on its own first
    assert live_server.sql("select count(distinct person_id) from events")[0][0] == 1
    live_server.client.post(
        "/batch/",
        json={
            "api_key": token,
            "batch": [
                {"event": "$pageview", "distinct_id": "user-1"},
                {
                    "event": "$identify",
                    "distinct_id": "user-1",
                    "properties": {"$anon_distinct_id": "anon-1"},
                    "$set": {"email": "u1@example.com"},
                },
                {"event": "purchase", "distinct_id": "user-1"},
            ],
        },
    )
    # 6 events from two ids, before and after the merge: one person.
    assert live_server.sql("select count(distinct person_id), count(*) from events") == [[1, 6]]
    persons = live_server.sql("select properties->>'email', is_identified from persons")
    assert persons == [["u1@example.com", True]]
    detail = live_server.client.get(
        f"/api/projects/{live_server.project.project.id}/persons/anon-1",
        headers={"Authorization": f"Bearer {live_server.project.api_key}"},
    ).json()
    assert detail["distinct_ids"] == ["anon-1", "user-1"]
    assert len(detail["recent_events"]) == 6


def test_alias_and_set_once(live_server: LiveServer) -> None:
    token = live_server.project.token
    live_server.client.post(
        "/batch/",
        json={
            "api_key": token,
            "batch": [
                {"event": "x", "distinct_id": "crm-9", "$set_once": {"first": "a"}, "$set": {"plan": "free"}},
                {"event": "y", "distinct_id": "app-9", "$set_once": {"first": "b"}},
                {"event": "$create_alias", "distinct_id": "crm-9", "properties": {"alias": "app-9"}},
                {
                    "event": "$set",
                    "distinct_id": "app-9",
                    "$set": {"plan": "pro"},
                    "$set_once": {"first": "c"},
                },
            ],
        },
    )
    assert live_server.sql("select count(distinct person_id) from events") == [[1]]
    # $set overwrites; $set_once keeps the first value the surviving person had.
    assert live_server.sql("select properties->>'plan', properties->>'first' from persons") == [["pro", "a"]]


def test_groupidentify_is_stored(live_server: LiveServer) -> None:
    body = {
        "api_key": live_server.project.token,
        "event": "$groupidentify",
        "distinct_id": "d",
        "properties": {"$group_type": "company", "$group_key": "acme", "$group_set": {"seats": 12}},
    }
    assert live_server.client.post("/capture/", json=body).status_code == 200
    assert count(live_server, "event = '$groupidentify'") == 1
    from opsloop.store.models import Group

    with live_server.runtime.metadata.session() as session:
        group = session.query(Group).filter_by(project_id=live_server.project.project.id).one()
    assert (group.group_type, group.group_key, group.properties) == ("company", "acme", {"seats": 12})


# -- Segment -----------------------------------------------------------------------------------------------


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_segment_endpoints_and_auth_styles(live_server: LiveServer) -> None:
    key = live_server.project.token
    client = live_server.client
    assert client.post(
        "/v1/track",
        json={"userId": "s1", "event": "Signed Up", "properties": {"plan": "x"}},
        headers=_basic(key),
    ).json() == {"success": True}
    assert (
        client.post(
            "/v1/page",
            json={"anonymousId": "a1", "name": "Home", "context": {"page": {"url": "https://x.test/"}}},
            headers={"Authorization": f"Bearer {key}"},
        ).status_code
        == 200
    )
    assert client.post("/v1/screen", json={"writeKey": key, "userId": "s1", "name": "Feed"}).status_code == 200
    assert (
        client.post(
            "/v1/identify",
            json={
                "writeKey": key,
                "userId": "s1",
                "anonymousId": "a1",
                "traits": {"email": "s1@example.com"},
            },
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/v1/group", json={"writeKey": key, "userId": "s1", "groupId": "g1", "traits": {"name": "G"}}
        ).status_code
        == 200
    )
    assert client.post("/v1/alias", json={"writeKey": key, "userId": "s1", "previousId": "old-s1"}).status_code == 200
    events = dict(live_server.sql("select event, count(*) from events group by 1"))
    assert events == {
        "Signed Up": 1,
        "$pageview": 1,
        "$screen": 1,
        "$identify": 1,
        "$groupidentify": 1,
        "$create_alias": 1,
    }
    assert live_server.sql("""select properties->>'$."$current_url"' from events where event = '$pageview'""") == [
        ["https://x.test/"]
    ]
    # a1 (page) and s1 (everything else) are one person after identify.
    assert live_server.sql("select count(distinct person_id) from events") == [[1]]


def test_segment_batch_message_id_dedup_and_sentat_skew(live_server: LiveServer) -> None:
    now = dt.datetime.now(dt.UTC)
    slow = now - dt.timedelta(minutes=30)  # device clock 30 minutes slow
    body = {
        "writeKey": live_server.project.token,
        "sentAt": slow.isoformat(),
        "batch": [
            {
                "type": "track",
                "userId": "u",
                "event": "E",
                "messageId": "m-1",
                "timestamp": (slow - dt.timedelta(seconds=5)).isoformat(),
            },
            {"type": "track", "userId": "u", "event": "E", "messageId": "m-2", "timestamp": slow.isoformat()},
        ],
    }
    for _ in range(2):
        assert live_server.client.post("/v1/batch", json=body).status_code == 200
        live_server.flush()
    rows = live_server.sql("select epoch(timestamp) from events order by timestamp")
    assert len(rows) == 2
    assert abs(rows[0][0] - (now.timestamp() - 5)) < 5


def test_segment_errors_are_code_and_message(live_server: LiveServer) -> None:
    r = live_server.client.post("/v1/track", json={"userId": "u", "event": "E"}, headers=_basic("nope"))
    assert r.status_code == 401
    assert set(r.json()) == {"code", "message"}
    r = live_server.client.post("/v1/track", json={"writeKey": live_server.project.token, "userId": "u"})
    assert r.status_code == 400 and "event" in r.json()["message"]


# -- bad input ---------------------------------------------------------------------------------------------


def test_unknown_token_is_401_and_nothing_stored(live_server: LiveServer) -> None:
    r = live_server.client.post("/capture/", json={"api_key": "olp_not_a_token", "event": "x", "distinct_id": "d"})
    assert r.status_code == 401 and "token" in r.json()["detail"]
    r = live_server.client.post("/capture/", json={"event": "x", "distinct_id": "d"})
    assert r.status_code == 401
    assert count(live_server) == 0


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"{not json", {}, 400, "JSON"),
        (b"", {}, 400, "empty"),
        (b"\x1f\x8b\x08garbage", {"Content-Encoding": "gzip"}, 400, "gzip"),
        (b"42", {}, 400, "event object"),
        (b'{"api_key": "%s", "batch": "nope"}', {}, 400, "batch"),
    ],
)
def test_malformed_bodies_get_400_with_reason(
    live_server: LiveServer, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    if b"%s" in body:
        body = body.replace(b"%s", live_server.project.token.encode())
    r = live_server.client.post("/batch/", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["detail"].lower()


def test_oversized_bodies_get_413(live_server: LiveServer) -> None:
    limit = live_server.runtime.settings.max_body_bytes
    huge = b'{"x": "' + b"a" * (limit + 10) + b'"}'
    assert live_server.client.post("/batch/", content=huge).status_code == 413
    # A small gzip body that inflates past the limit (a "zip bomb") is refused too.
    bomb = gzip.compress(huge)
    assert len(bomb) < limit
    r = live_server.client.post("/batch/", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed" in r.json()["detail"]
    too_many = {
        "api_key": live_server.project.token,
        "batch": [{"event": "e", "distinct_id": "d"}] * (live_server.runtime.settings.max_events_per_request + 1),
    }
    assert live_server.client.post("/batch/", json=too_many).status_code == 413


def test_bad_event_in_batch_is_reported_and_good_ones_stored(live_server: LiveServer) -> None:
    good = {"event": "good", "distinct_id": "d"}
    body = {
        "api_key": live_server.project.token,
        "batch": [
            good,
            {"event": "", "distinct_id": "d"},
            good,
            {"distinct_id": "d"},
            {"event": "x"},
            {"event": "bad ts", "distinct_id": "d", "timestamp": "yesterday"},
            "not an object",
            {"event": "bad uuid", "distinct_id": "d", "uuid": "123"},
            {"event": "p", "distinct_id": "d", "properties": []},
            good,
        ],
    }
    r = live_server.client.post("/batch/", json=body)
    assert r.status_code == 200
    result = r.json()
    assert result["accepted"] == 3
    assert [e["index"] for e in result["errors"]] == [1, 3, 4, 5, 6, 7, 8]
    reasons = " | ".join(e["reason"] for e in result["errors"])
    for words in (
        "event is empty",
        "event must be a string",
        "distinct_id",
        "ISO-8601",
        "JSON object",
        "UUID",
    ):
        assert words in reasons
    assert count(live_server, "event = 'good'") == 3
    metrics = live_server.client.get("/metrics").text
    assert "opsloop_events_rejected_total 7" in metrics


def test_event_too_deep_to_store_is_reported_and_the_rest_stored(live_server: LiveServer) -> None:
    # JSON parses this (the parser allows deeper nesting than the encoder writes to the ingest log).
    deep = '{"a":' * 300 + "1" + "}" * 300
    events = ['{"event": "ok", "distinct_id": "d"}', f'{{"event": "deep", "distinct_id": "d", "properties": {deep}}}']
    body = f'{{"api_key": "{live_server.project.token}", "batch": [{events[0]}, {events[1]}, {events[0]}]}}'
    r = live_server.client.post("/batch/", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    assert [e["index"] for e in r.json()["errors"]] == [1]
    assert count(live_server, "event = 'ok'") == 2
    assert count(live_server, "event = 'deep'") == 0


def test_garbage_never_causes_a_500(live_server: LiveServer) -> None:
    token = live_server.project.token
    bodies = [
        b"null",
        b"[]",
        b"[null]",
        b'{"batch": null}',
        b'{"api_key": 5}',
        b'{"api_key": ["x"]}',
        json.dumps({"api_key": token, "batch": [{"event": {"a": 1}, "distinct_id": [1]}]}).encode(),
        json.dumps({"api_key": token, "event": "e", "distinct_id": "d", "timestamp": 1e30}).encode(),
        json.dumps({"api_key": token, "event": "e", "distinct_id": "d", "timestamp": "1970-01-01"}).encode(),
        json.dumps({"api_key": token, "event": "e", "distinct_id": "d", "sent_at": "bad"}).encode(),
        json.dumps({"api_key": token, "event": "e" * 500, "distinct_id": "d"}).encode(),
        json.dumps({"api_key": token, "event": "e", "distinct_id": "d", "$set": "x"}).encode(),
        '{"api_key": "\ud800"}'.encode("utf-8", "surrogatepass"),
    ]
    for body in bodies:
        for path in ("/batch/", "/capture/", "/v1/batch", "/v1/track"):
            r = live_server.client.post(path, content=body)
            assert r.status_code < 500, (path, body, r.status_code, r.text)


def test_healthz_and_metrics(live_server: LiveServer) -> None:
    live_server.client.post(
        "/batch/",
        json={"api_key": live_server.project.token, "batch": [{"event": "m", "distinct_id": "d"}] * 4},
    )
    live_server.flush()
    assert live_server.client.get("/healthz").json()["status"] == "ok"
    metrics = live_server.client.get("/metrics").text
    assert "opsloop_events_received_total 4" in metrics
    assert "opsloop_events_stored_total 4" in metrics
    assert "# TYPE opsloop_ingest_lag_seconds gauge" in metrics


def test_what_the_capture_fast_path_does_not_name_goes_to_the_router(live_server: LiveServer) -> None:
    """Capture routes skip the router (`CaptureFastPath`); other methods and unknown `/v1/` kinds still get the
    router's answers, and a CORS pre-flight is answered on the fast path too."""
    client = live_server.client
    unknown = client.post("/v1/nope", json={"writeKey": live_server.project.token})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_endpoint"
    assert client.get("/batch/").status_code == 405
    preflight = client.options("/batch/")
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    segment = client.post("/v1/track", json={"writeKey": live_server.project.token, "event": "fast", "userId": "u"})
    assert segment.status_code == 200 and segment.json() == {"success": True}
    live_server.flush()
    assert count(live_server, "event = 'fast'") == 1


def test_an_unexpected_failure_in_capture_is_a_json_500_and_the_server_keeps_serving(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("opsloop.web.capture.parse_posthog", broken)
    body = {"api_key": live_server.project.token, "event": "x", "distinct_id": "d"}
    response = live_server.client.post("/capture/", json=body)
    assert response.status_code == 500 and response.json() == {"detail": "internal error; see the server log"}
    assert live_server.client.get("/healthz").status_code == 200
