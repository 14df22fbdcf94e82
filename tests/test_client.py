"""Tests for the Python SDK (`opsloop.client`) against a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

import opsloop
import opsloop.client as client_module
from opsloop.client import APIError, Client

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "phc_test_token"

#: (status, extra headers, seconds to wait before answering)
Reply = tuple[int, dict[str, str], float]


@dataclass
class Recorded:
    """One request the fake server received."""

    path: str
    headers: dict[str, str]
    raw: bytes
    payload: dict[str, Any]
    status: int
    at: float

    @property
    def uuids(self) -> list[str]:
        """The event uuids of the batch, in order."""
        return [event["uuid"] for event in self.payload["batch"]]


@dataclass
class FakeServer:
    """A PostHog-style capture endpoint that records requests and answers per a script."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    #: Replies for the next requests, in order; afterwards `decide` (default: 200).
    script: list[Reply] = field(default_factory=list)
    decide: Callable[[dict[str, Any]], Reply] | None = None
    #: Close each connection after answering without saying so, like a server dropping idle keep-alives.
    drop_connections: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply_for(self, payload: dict[str, Any]) -> Reply:
        """The reply to the next request."""
        with self.lock:
            if self.script:
                return self.script.pop(0)
        return self.decide(payload) if self.decide else (200, {}, 0.0)

    def ok(self) -> list[Recorded]:
        """Requests answered with 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def delivered(self) -> list[dict[str, Any]]:
        """Events of the requests answered with 2xx."""
        return [event for r in self.ok() for event in r.payload["batch"]]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll until predicate() holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real server
        # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms for an ACK.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            payload = json.loads(body)
            status, headers, delay = server.reply_for(payload)
            with server.lock:
                server.requests.append(
                    Recorded(
                        self.path,
                        dict(self.headers),
                        raw,
                        payload,
                        status,
                        time.monotonic(),
                    )
                )
            if delay:
                time.sleep(delay)
            answer = json.dumps({"status": 1} if status < 300 else {"error": "nope"}).encode()
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up waiting (timeout test)
            if server.drop_connections:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A running fake capture server on a random port."""
    fake = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def make_client(server: FakeServer) -> Iterator[Callable[..., Client]]:
    """Build clients for the fake server with fast backoff; they are shut down after the test."""
    clients: list[Client] = []

    def make(**kwargs: Any) -> Client:
        kwargs.setdefault("backoff_base", 0.01)
        kwargs.setdefault("backoff_cap", 0.05)
        client = Client(host=kwargs.pop("host", server.url), token=TOKEN, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=5)


# --- wire format -----------------------------------------------------------------------------------


def test_gzip_body_is_posthog_batch(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client()
    naive = dt.datetime(2024, 5, 1, 12, 30, 0)
    returned = client.capture("user-1", "signed_up", {"plan": "pro", "n": 3}, timestamp=naive)
    client.flush()

    [request] = server.requests
    assert request.path == "/batch/"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.raw[:2] == b"\x1f\x8b"
    assert request.headers["User-Agent"] == f"opsloop-python/{opsloop.__version__}"
    assert request.headers["Content-Type"] == "application/json"
    payload = request.payload
    assert set(payload) == {"api_key", "batch", "sent_at"}
    assert payload["api_key"] == TOKEN
    sent_at = dt.datetime.fromisoformat(payload["sent_at"])
    assert sent_at.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - sent_at).total_seconds()) < 30
    [event] = payload["batch"]
    assert event["event"] == "signed_up"
    assert event["distinct_id"] == "user-1"
    assert event["uuid"] == returned
    assert uuidlib.UUID(returned).version == 4
    # A naive timestamp is UTC, and the wire form always carries the offset.
    assert event["timestamp"] == "2024-05-01T12:30:00+00:00"
    assert event["properties"] == {
        "plan": "pro",
        "n": 3,
        "$lib": "opsloop-python",
        "$lib_version": opsloop.__version__,
    }


def test_plain_json_when_gzip_disabled(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(gzip=False)
    aware = dt.datetime(2024, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    client.capture("u", "e", timestamp=aware)
    client.capture("u", "e2", timestamp="2024-05-01T12:00:00")
    client.flush()

    [request] = server.requests
    assert "Content-Encoding" not in request.headers
    assert json.loads(request.raw) == request.payload
    assert [e["timestamp"] for e in request.payload["batch"]] == ["2024-05-01T12:00:00+00:00"] * 2


def test_default_timestamp_is_now_utc(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    client.capture("u", "e")
    stamp = dt.datetime.fromisoformat(server.requests[0].payload["batch"][0]["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) < 30


@pytest.mark.parametrize("use_orjson", [True, False])
def test_non_json_native_values_are_serialised(
    server: FakeServer, make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch, use_orjson: bool
) -> None:
    if not use_orjson:
        monkeypatch.setattr(client_module, "_orjson", None)  # the stdlib fallback must agree
    client = make_client(sync_mode=True)
    key = uuidlib.uuid4()
    when = dt.datetime(2024, 1, 2, 3, 4, 5)
    client.capture(
        "u",
        "e",
        {
            "when": when,
            "day": dt.date(2024, 1, 2),
            "id": key,
            "tags": {"a"},
            "bad": float("nan"),
            "big": 2**70,
        },
    )
    props = server.requests[0].payload["batch"][0]["properties"]
    assert props["when"] == "2024-01-02T03:04:05+00:00"
    assert props["day"] == "2024-01-02"
    assert props["id"] == str(key)
    assert props["tags"] == ["a"]
    assert props["bad"] is None
    assert props["big"] == 2**70


def test_payload_is_accepted_by_the_server_parser(server: FakeServer, make_client: Callable[..., Client]) -> None:
    from opsloop.ingest.capture import decode_body, parse_posthog

    client = make_client(sync_mode=True)
    uuids = [
        client.capture("u1", "page", {"x": 1}),
        client.identify("u1", {"email": "a@b.c"}, anon_distinct_id="anon-1"),
        client.alias("old-id", "u1"),
        client.set_person_properties("u1", {"first_seen": "today"}, once=True),
    ]
    for request in server.requests:
        payload = decode_body(
            request.raw,
            content_encoding="gzip",
            compression="",
            content_type="application/json",
            limit=1 << 20,
        )
        batch = parse_posthog(
            payload,
            1,
            dt.datetime.now(dt.UTC),
            max_events=100,
            max_event_bytes=1 << 20,
            body_bytes=len(request.raw),
        )
        assert batch.errors == []
        assert batch.count == 1
        # The server keeps the SDK's uuid, so a retried request is de-duplicated.
        assert [event["u"] for event in orjson.loads(batch.record)["e"]] == [payload["batch"][0]["uuid"]]
    parsed = [r.payload["batch"][0]["uuid"] for r in server.requests]
    assert parsed == uuids


# --- person events ---------------------------------------------------------------------------------


def test_identify_payload(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    returned = client.identify("user-1", {"email": "a@example.com"}, anon_distinct_id="anon-9")

    [event] = server.requests[0].payload["batch"]  # sync mode: sent without flush
    assert event["event"] == "$identify"
    assert event["distinct_id"] == "user-1"
    assert event["uuid"] == returned
    assert event["$set"] == {"email": "a@example.com"}
    assert event["properties"]["$anon_distinct_id"] == "anon-9"
    assert event["properties"]["$lib"] == "opsloop-python"


def test_identify_without_anon_id(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    client.identify("user-1")
    [event] = server.requests[0].payload["batch"]
    assert event["$set"] == {}
    assert "$anon_distinct_id" not in event["properties"]


def test_alias_payload(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    client.alias("anon-9", "user-1")
    [event] = server.requests[0].payload["batch"]
    assert event["event"] == "$create_alias"
    assert event["distinct_id"] == "user-1"
    assert event["properties"]["alias"] == "anon-9"


def test_set_person_properties_payloads(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    client.set_person_properties("user-1", {"plan": "pro"})
    client.set_person_properties("user-1", {"signup": "2024"}, once=True)
    first, second = (r.payload["batch"][0] for r in server.requests)
    assert first["event"] == second["event"] == "$set"
    assert first["$set"] == {"plan": "pro"} and "$set_once" not in first
    assert second["$set_once"] == {"signup": "2024"} and "$set" not in second


# --- batching --------------------------------------------------------------------------------------


def test_batches_split_by_flush_at(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(flush_at=10, flush_interval=30)
    uuids = [client.capture("u", f"e{i}") for i in range(25)]
    client.flush()

    assert [len(r.payload["batch"]) for r in server.requests] == [10, 10, 5]
    assert [e["uuid"] for e in server.delivered()] == uuids  # order kept


def test_batches_split_by_size(server: FakeServer, make_client: Callable[..., Client]) -> None:
    limit = 4096
    client = make_client(flush_at=100, flush_interval=30, gzip=False, max_batch_bytes=limit)
    uuids = [client.capture("u", "big", {"blob": "x" * 1000}) for i in range(10)]
    client.flush()

    assert len(server.requests) >= 3
    assert all(len(r.raw) <= limit for r in server.requests)
    assert [e["uuid"] for e in server.delivered()] == uuids


def test_event_larger_than_a_batch_is_refused(make_client: Callable[..., Client]) -> None:
    client = make_client(max_batch_bytes=2048)
    with pytest.raises(ValueError, match="more than a batch may hold"):
        client.capture("u", "e", {"blob": "x" * 4000})


def test_flush_interval_sends_without_flush(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(flush_at=100, flush_interval=0.1)
    client.capture("u", "e")
    assert server.wait_for(lambda: len(server.requests) == 1, timeout=3)


def test_flush_delivers_and_returns_quickly_when_idle(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(flush_at=100, flush_interval=30)
    client.flush()  # nothing queued, no thread yet
    client.capture("u", "e")
    started = time.monotonic()
    client.flush()
    assert time.monotonic() - started < 5  # not the 30 s flush_interval
    assert len(server.delivered()) == 1


def test_flush_timeout_returns_early(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.script = [(200, {}, 0.5)]
    client = make_client()
    client.capture("u", "e")
    started = time.monotonic()
    client.flush(timeout=0.1)
    assert time.monotonic() - started < 0.4
    client.flush()
    assert len(server.delivered()) == 1


# --- retries ---------------------------------------------------------------------------------------


def test_503_is_retried_with_the_same_uuids(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.script = [(503, {}, 0.0), (503, {}, 0.0)]
    errors: list[Any] = []
    client = make_client(on_error=lambda exc, batch: errors.append(exc))
    uuids = [client.capture("u", f"e{i}") for i in range(3)]
    client.flush()

    assert [r.status for r in server.requests] == [503, 503, 200]
    assert all(r.uuids == uuids for r in server.requests)
    # Events are byte-identical across attempts; only sent_at moves (the server uses it for clock skew).
    batches = [r.payload["batch"] for r in server.requests]
    assert batches[0] == batches[1] == batches[2]
    assert errors == []


def test_429_honours_retry_after(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.script = [(429, {"Retry-After": "1"}, 0.0)]
    client = make_client()
    client.capture("u", "e")
    client.flush()

    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.9
    assert second.uuids == first.uuids


def test_400_is_not_retried_and_calls_on_error(
    server: FakeServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    server.script = [(400, {}, 0.0)]
    errors: list[tuple[BaseException, list[dict[str, Any]]]] = []
    client = make_client(on_error=lambda exc, batch: errors.append((exc, batch)))
    with caplog.at_level(logging.WARNING, logger="opsloop.client"):
        uuid = client.capture("u", "e", {"k": "v"})
        client.flush()
        time.sleep(0.1)  # a wrong retry would show up by now (backoff is 10 ms)

    assert len(server.requests) == 1
    [(exc, batch)] = errors
    assert isinstance(exc, APIError) and exc.status == 400
    assert [event["uuid"] for event in batch] == [uuid]
    assert batch[0]["properties"]["k"] == "v"
    assert any("dropped a batch" in record.getMessage() for record in caplog.records)


def test_timeout_is_retried(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.script = [(200, {}, 1.0)]  # answers after the client stopped waiting
    errors: list[Any] = []
    client = make_client(timeout=0.3, on_error=lambda exc, batch: errors.append(exc))
    uuid = client.capture("u", "e")
    client.flush()

    assert len(server.requests) == 2
    assert server.requests[0].uuids == server.requests[1].uuids == [uuid]
    assert errors == []


def test_connection_errors_retried_then_given_up(make_client: Callable[..., Client]) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    errors: list[tuple[BaseException, list[dict[str, Any]]]] = []
    client = make_client(
        host=f"http://127.0.0.1:{port}",
        max_retries=2,
        on_error=lambda exc, batch: errors.append((exc, batch)),
    )
    client.capture("u", "e")
    client.flush(timeout=10)

    [(exc, batch)] = errors
    assert isinstance(exc, OSError)
    assert len(batch) == 1


def test_server_closed_keepalive_is_reopened(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.drop_connections = True
    errors: list[Any] = []
    client = make_client(sync_mode=True, backoff_base=5, backoff_cap=5, on_error=lambda exc, batch: errors.append(exc))
    started = time.monotonic()
    for i in range(3):
        client.capture("u", f"e{i}")
        time.sleep(0.05)  # let the server's close reach the client's idle connection
    assert [e["event"] for e in server.delivered()] == ["e0", "e1", "e2"]
    assert len(server.requests) == 3
    assert errors == []
    assert time.monotonic() - started < 2  # reconnected at once, not after a 5 s backoff


def test_5xx_gives_up_after_max_retries(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.decide = lambda payload: (500, {}, 0.0)
    errors: list[Any] = []
    client = make_client(max_retries=3, on_error=lambda exc, batch: errors.append(exc))
    client.capture("u", "e")
    client.flush()

    assert len(server.requests) == 4  # the first try and 3 retries
    assert len(errors) == 1 and errors[0].status == 500


def test_413_halves_the_batch(server: FakeServer, make_client: Callable[..., Client]) -> None:
    server.decide = lambda payload: (413, {}, 0.0) if len(payload["batch"]) > 2 else (200, {}, 0.0)
    client = make_client(flush_at=100, flush_interval=30)
    uuids = [client.capture("u", f"e{i}") for i in range(7)]
    client.flush()

    assert sorted(e["uuid"] for e in server.delivered()) == sorted(uuids)
    assert all(len(r.payload["batch"]) <= 2 for r in server.ok())


# --- queue, threads, exit --------------------------------------------------------------------------


def test_queue_full_drops_are_counted(
    server: FakeServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(flush_at=100, flush_interval=30, max_queue_size=5)
    with caplog.at_level(logging.WARNING, logger="opsloop.client"):
        uuids = [client.capture("u", f"e{i}") for i in range(8)]
    assert client.dropped == 3
    assert any("queue is full" in record.getMessage() for record in caplog.records)
    client.flush()
    assert [e["uuid"] for e in server.delivered()] == uuids[:5]


def test_concurrent_capture_loses_nothing(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(flush_at=50, flush_interval=0.05)
    per_thread, threads_n = 500, 8
    returned: list[list[str]] = [[] for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)

    def work(index: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            returned[index].append(client.capture(f"user-{index}", "tick", {"i": i}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.flush()

    delivered = [e["uuid"] for e in server.delivered()]
    expected = [u for chunk in returned for u in chunk]
    assert len(delivered) == len(expected) == per_thread * threads_n
    assert set(delivered) == set(expected)
    assert client.dropped == 0
    assert all(len(r.payload["batch"]) <= 50 for r in server.requests)


def test_capture_after_shutdown_is_sent_synchronously(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(flush_at=100, flush_interval=30)
    client.capture("u", "before")
    client.shutdown()
    assert len(server.delivered()) == 1
    client.capture("u", "after")
    assert [e["event"] for e in server.delivered()] == ["before", "after"]


def test_context_manager_flushes(server: FakeServer) -> None:
    with Client(host=server.url, token=TOKEN, flush_interval=30) as client:
        client.capture("u", "e")
    assert len(server.delivered()) == 1


def test_atexit_delivers_without_flush(server: FakeServer) -> None:
    script = textwrap.dedent(f"""
        from opsloop.client import Client
        client = Client(host={server.url!r}, token={TOKEN!r}, flush_interval=60)
        for i in range(3):
            client.capture("script-user", f"event-{{i}}")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode()
    assert [e["event"] for e in server.delivered()] == ["event-0", "event-1", "event-2"]


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("", "e"), {}, ValueError),
        (("   ", "e"), {}, ValueError),
        ((None, "e"), {}, TypeError),
        ((42, "e"), {}, TypeError),
        (("u", ""), {}, ValueError),
        (("u", None), {}, TypeError),
        (("u", "x" * 201), {}, ValueError),
        (("u", "e"), {"properties": ["not", "a", "dict"]}, TypeError),
        (("u", "e"), {"properties": {"obj": object()}}, TypeError),
        (("u", "e"), {"timestamp": 12345}, TypeError),
        (("u", "e"), {"timestamp": "yesterday"}, ValueError),
        (("u", "e"), {"uuid": "not-a-uuid"}, ValueError),
    ],
)
def test_capture_validates_arguments(
    make_client: Callable[..., Client], args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    client = make_client()
    with pytest.raises(error):
        client.capture(*args, **kwargs)
    assert client._enqueued == 0


def test_other_methods_validate_arguments(make_client: Callable[..., Client]) -> None:
    client = make_client()
    with pytest.raises(TypeError, match="properties must be a dict"):
        client.identify("u", "email")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="anon_distinct_id"):
        client.identify("u", anon_distinct_id="")
    with pytest.raises(ValueError, match="previous_id"):
        client.alias("", "u")
    with pytest.raises(ValueError, match="distinct_id"):
        client.alias("old", "")
    with pytest.raises(TypeError, match="properties must be a dict"):
        client.set_person_properties("u", None)  # type: ignore[arg-type]


def test_caller_uuid_is_kept(server: FakeServer, make_client: Callable[..., Client]) -> None:
    client = make_client(sync_mode=True)
    mine = uuidlib.uuid4()
    assert client.capture("u", "e", uuid=mine) == str(mine)
    assert server.requests[0].uuids == [str(mine)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"host": "127.0.0.1:8000"},
        {"host": "ftp://example.com"},
        {"token": ""},
        {"flush_at": 0},
        {"flush_interval": 0},
        {"max_queue_size": 0},
        {"max_retries": -1},
        {"timeout": 0},
    ],
)
def test_constructor_validates(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"host": "http://127.0.0.1:8000", "token": TOKEN, **kwargs}
    with pytest.raises(ValueError):
        Client(**args)


# -- end to end against a real opsloop server ------------------------------------------------------------


def test_sdk_against_real_opsloop_server(live_server) -> None:  # type: ignore[no-untyped-def]
    """The SDK's batches, identify and alias land in opsloop and merge into one person."""
    sdk = Client(live_server.url, live_server.project.token, flush_at=10, flush_interval=0.05)
    for i in range(25):
        sdk.capture("anon-e2e", "viewed", {"i": i})
    sdk.identify("user-e2e", {"email": "e2e@example.com"}, anon_distinct_id="anon-e2e")
    sdk.alias("legacy-e2e", "user-e2e")
    sdk.capture("legacy-e2e", "purchased", {"revenue": 12.5})
    sdk.set_person_properties("user-e2e", {"plan": "pro"})
    sdk.flush()
    sdk.shutdown()
    rows = live_server.sql("select event, count(*), count(distinct person_id) from events group by 1 order by 1")
    assert rows == [
        ["$create_alias", 1, 1],
        ["$identify", 1, 1],
        ["$set", 1, 1],
        ["purchased", 1, 1],
        ["viewed", 25, 1],
    ]
    assert live_server.sql("select count(distinct person_id) from events") == [[1]]
    assert live_server.sql("select properties->>'email', properties->>'plan' from persons") == [
        ["e2e@example.com", "pro"]
    ]
