"""opsloop Python SDK: capture events into an opsloop (or any PostHog-compatible) server.

Standard library only (orjson is used when importable). Events are validated and serialised on the
caller's thread, queued, and sent in batches to `POST {host}/batch/` by one background daemon thread;
failed batches are retried with exponential backoff and the same event uuids, so the server can
de-duplicate a batch it already stored. Whatever is still queued is flushed at interpreter exit.

    from opsloop.client import Client

    client = Client(host="http://127.0.0.1:8000", token="phc_...")
    client.capture("user-1", "signed_up", {"plan": "pro"})
"""

from __future__ import annotations

import atexit
import collections
import datetime as dt
import email.utils
import gzip as gziplib
import http.client
import json
import logging
import math
import os
import random
import ssl
import threading
import time
import urllib.parse
import uuid as uuidlib
import weakref
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from opsloop import __version__, client_voice

try:  # orjson is several times faster, but the SDK must work without it
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only where orjson is missing
    _orjson = None  # type: ignore[assignment]

__all__ = ["APIError", "Client", "DEFAULT_MAX_BATCH_BYTES", "LIB_NAME"]

logger = logging.getLogger("opsloop.client")

LIB_NAME = "opsloop-python"
USER_AGENT = f"{LIB_NAME}/{__version__}"
#: Largest JSON body of one request; the server accepts 20 MiB by default, this leaves ample headroom.
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
#: Mirrors the server's limit on event names and distinct ids, so a bad value fails at the call site.
MAX_NAME_CHARS = 200
#: A Retry-After beyond this is treated as this: a misbehaving header must not stall the client for hours.
MAX_RETRY_AFTER = 300.0
#: Room for `{"api_key": ..., "batch": [...], "sent_at": ...}` around the events of a batch.
_ENVELOPE_BYTES = 128
#: At most one "queue full" warning per this many seconds: a full queue can drop thousands of events a second.
_DROP_WARNING_INTERVAL = 5.0

OnError = Callable[[BaseException, list[dict[str, Any]]], Any]


class APIError(Exception):
    """The capture API answered a batch with an error status."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


# --- serialisation ---------------------------------------------------------------------------------


def _iso(value: dt.datetime) -> str:
    """ISO-8601 in UTC; a naive datetime is taken as UTC (not local time), like the server does."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC).isoformat()
    return value.astimezone(dt.UTC).isoformat()


def _default(obj: Any) -> Any:
    """JSON fallback for values the encoders do not know natively."""
    if isinstance(obj, dt.datetime):
        return _iso(obj)
    if isinstance(obj, dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, uuidlib.UUID):
        return str(obj)
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).decode("utf-8", "replace")
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _finite(obj: Any) -> Any:
    """Replace NaN / infinity with null, as orjson does: they are not valid JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj


def _json_dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON via the standard library."""
    text = json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # A lone surrogate cannot be UTF-8 encoded; replacing it beats losing the whole event.
    return text.encode("utf-8", "replace")


def _dumps(obj: Any) -> bytes:
    """Serialise to compact JSON bytes; raises TypeError for values that have no JSON form."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, default=_default, option=_orjson.OPT_NON_STR_KEYS | _orjson.OPT_NAIVE_UTC)
        except TypeError:
            pass  # e.g. an int beyond 64 bits, which the standard library encodes fine
    try:
        return _json_dumps(obj)
    except ValueError:
        return _json_dumps(_finite(obj))


# --- validation ------------------------------------------------------------------------------------


def _check_name(value: Any, field: str) -> str:
    """A non-empty string of at most MAX_NAME_CHARS characters."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must be a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{field} is longer than {MAX_NAME_CHARS} characters")
    return value


def _check_properties(value: Any, field: str = "properties") -> dict[str, Any]:
    """A dict (None means empty); copied so later changes by the caller do not leak into the event."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{field} must be a dict, got {type(value).__name__}")
    return dict(value)


def _check_timestamp(value: Any) -> str:
    """The event time as ISO-8601 UTC: a datetime (naive means UTC), an ISO-8601 string, or None for now."""
    if value is None:
        return dt.datetime.now(dt.UTC).isoformat()
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp {value[:40]!r} is not an ISO-8601 date-time") from None
    if not isinstance(value, dt.datetime):
        raise TypeError(f"timestamp must be a datetime or ISO-8601 str, got {type(value).__name__}")
    return _iso(value)


def _check_uuid(value: Any) -> str:
    """The event uuid: a new uuid4, or the caller's (for idempotent re-capture) in canonical form."""
    if value is None:
        return str(uuidlib.uuid4())
    if isinstance(value, uuidlib.UUID):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"uuid must be a str or uuid.UUID, got {type(value).__name__}")
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise ValueError(f"uuid {value[:40]!r} is not a valid UUID") from None


# --- transport -------------------------------------------------------------------------------------

#: Errors that mean a kept-alive connection was closed by the server while idle.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Transport:
    """Requests to one server over a kept-alive connection per thread (http.client objects are not thread-safe);
    `post` sends a batch to the capture path."""

    def __init__(self, host: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(host.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"host must be an http:// or https:// URL, got {host!r}")
        self.scheme = parts.scheme
        self.netloc = parts.netloc.rsplit("@", 1)[-1]
        self.base = parts.path.rstrip("/")
        self.path = self.base + "/batch/"
        self.timeout = timeout
        self._local = threading.local()

    def _connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.netloc, timeout=self.timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(self.netloc, timeout=self.timeout)

    def close(self) -> None:
        """Close this thread's connection, if any."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one batch to the capture path; returns (status, headers, body). Network errors propagate."""
        return self.request("POST", self.path, body, headers)

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request to `path` (under the host's path); returns (status, headers, body)."""
        conn = getattr(self._local, "conn", None)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect()
                self._local.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE_CONNECTION:
                self.close()
                conn = None
                if not reused:
                    raise
                # The server dropped the idle connection: one immediate retry on a fresh one, which
                # is not a failed attempt (if it had stored the batch, the uuids de-duplicate it).
                reused = False
                continue
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, response.headers, data
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


# --- client ----------------------------------------------------------------------------------------

_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child inherits locks possibly held by now-missing threads, and no worker thread."""
    for client in list(_CLIENTS):
        client._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _shutdown_at_exit(ref: weakref.ref[Client]) -> None:
    """atexit hook; holds the client weakly so that registering does not keep it alive forever."""
    client = ref()
    if client is not None:
        client.shutdown()


class Client:
    """Captures events and person updates and sends them in batches from a background thread."""

    def __init__(
        self,
        host: str,
        token: str,
        *,
        flush_at: int = 100,
        flush_interval: float = 0.5,
        max_queue_size: int = 10_000,
        max_retries: int = 5,
        timeout: float = 10.0,
        gzip: bool = True,
        on_error: OnError | None = None,
        sync_mode: bool = False,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        """Configure the client; nothing is sent and no thread starts until the first capture."""
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a non-empty string (the project token)")
        if not isinstance(host, str):
            raise TypeError(f"host must be a str, got {type(host).__name__}")
        for name, value, minimum in (
            ("flush_at", flush_at, 1),
            ("max_queue_size", max_queue_size, 1),
            ("max_retries", max_retries, 0),
            ("max_batch_bytes", max_batch_bytes, 1024),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        for name, number in (("flush_interval", flush_interval), ("timeout", timeout)):
            if not isinstance(number, int | float) or not number > 0:
                raise ValueError(f"{name} must be a positive number, got {number!r}")
        for name, number in (("backoff_base", backoff_base), ("backoff_cap", backoff_cap)):
            if not isinstance(number, int | float) or not number >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {number!r}")
        if on_error is not None and not callable(on_error):
            raise TypeError("on_error must be callable as on_error(exception, batch)")

        self.host = host
        self.token = token
        self.flush_at = flush_at
        self.flush_interval = float(flush_interval)
        self.max_queue_size = max_queue_size
        self.max_retries = max_retries
        self.timeout = float(timeout)
        self.gzip = gzip
        self.on_error = on_error
        self.sync_mode = sync_mode
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.max_batch_bytes = max_batch_bytes
        #: Events dropped because the queue was full.
        self.dropped = 0

        self._transport = _Transport(host, self.timeout)
        self._token_json = _dumps(token)
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._init_state()
        _CLIENTS.add(self)
        atexit.register(_shutdown_at_exit, weakref.ref(self))

    def _init_state(self) -> None:
        """Queue, counters and worker; also run in a forked child, which must not share them."""
        # A plain Lock: capture() takes it once per event and never re-enters.
        self._cond = threading.Condition(threading.Lock())
        # (monotonic enqueue time, event JSON); the time lets the worker honour flush_interval per event.
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._enqueued = 0  # events ever queued
        self._done = 0  # events ever taken by the worker and sent or given up on
        self._flush_target = 0  # the worker sends without waiting while _done is below this
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_drop_warning = -math.inf

    def _reset_after_fork(self) -> None:
        """Start over in a forked child; the parent still owns (and sends) what was queued before."""
        self._init_state()
        self._transport = _Transport(self.host, self.timeout)

    def __enter__(self) -> Client:
        """Use as a context manager that shuts down on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Flush and stop."""
        self.shutdown()

    # --- public API --------------------------------------------------------------------------------

    def capture(
        self,
        distinct_id: str,
        event: str,
        properties: dict[str, Any] | None = None,
        timestamp: dt.datetime | str | None = None,
        uuid: str | uuidlib.UUID | None = None,
    ) -> str:
        """Queue an event; returns its uuid. Raises TypeError / ValueError for invalid arguments."""
        return self._enqueue(event, distinct_id, _check_properties(properties), timestamp, uuid)

    def identify(
        self,
        distinct_id: str,
        properties: dict[str, Any] | None = None,
        anon_distinct_id: str | None = None,
    ) -> str:
        """Send `$identify`: set person properties and, if given, merge the anonymous id into this one."""
        props: dict[str, Any] = {}
        if anon_distinct_id is not None:
            props["$anon_distinct_id"] = _check_name(anon_distinct_id, "anon_distinct_id")
        person = _check_properties(properties)
        return self._enqueue("$identify", distinct_id, props, None, None, {"$set": person})

    def alias(self, previous_id: str, distinct_id: str) -> str:
        """Send `$create_alias`: `previous_id` becomes another name for the person behind `distinct_id`."""
        alias = _check_name(previous_id, "previous_id")
        return self._enqueue("$create_alias", distinct_id, {"alias": alias}, None, None)

    def set_person_properties(self, distinct_id: str, properties: dict[str, Any], once: bool = False) -> str:
        """Send `$set` (or `$set_once` when once=True, which keeps values already set) for a person."""
        if properties is None:
            raise TypeError("properties must be a dict, got NoneType")
        person = _check_properties(properties)
        return self._enqueue("$set", distinct_id, {}, None, None, {"$set_once" if once else "$set": person})

    # --- voice of the user: sent at once, not queued (see `opsloop.client_voice`) ------------------

    def send_feedback(self, project_id: int, text: str, **fields: Any) -> dict[str, Any]:
        """Store one feedback item in project `project_id`'s inbox now; `fields`: distinct_id, tags, language,
        source, created_at, properties. Returns the stored item; raises APIError with the server's reason."""
        return client_voice.send_feedback(self._transport, self.token, project_id, text, fields)

    def active_surveys(
        self, distinct_id: str, *, event: str | None = None, lang: str | None = None
    ) -> list[dict[str, Any]]:
        """The surveys this person should be shown now (targeting, cooldowns and rollout applied by the server),
        in `lang` or the survey's default language; `event` names an event that just happened (triggers)."""
        return client_voice.active_surveys(self._transport, self.token, distinct_id, event=event, lang=lang)

    def survey_shown(self, survey_id: int, distinct_id: str) -> None:
        """Record that the survey was shown to the person (also captured as a `survey shown` event)."""
        client_voice.impression(self._transport, self.token, survey_id, distinct_id, "shown")

    def survey_dismissed(self, survey_id: int, distinct_id: str) -> None:
        """Record that the person closed the survey without finishing it (cooldowns count from now)."""
        client_voice.impression(self._transport, self.token, survey_id, distinct_id, "dismissed")

    def answer_survey(
        self,
        survey_id: int,
        distinct_id: str,
        answers: dict[str, Any],
        *,
        response_id: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """Store answers (question id -> answer); partial answers are kept, and sending again with the returned
        `response_id` completes the same response. Raises APIError (409 closed survey, 400 bad answer)."""
        return client_voice.answer_survey(
            self._transport, self.token, survey_id, distinct_id, answers, response_id=response_id, lang=lang
        )

    def flush(self, timeout: float | None = None) -> None:
        """Block until every event queued before this call was sent or given up on (or timeout passes)."""
        if threading.current_thread() is self._thread:
            return  # e.g. called from on_error: waiting on ourselves would deadlock
        with self._cond:
            target = self._enqueued
            if self._done >= target or self._thread is None:
                return
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._done >= target, timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush what is queued and stop the worker; later events are sent synchronously."""
        with self._cond:
            self._stopping = True
            self._flush_target = self._enqueued
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # --- internals ---------------------------------------------------------------------------------

    def _enqueue(
        self,
        event: str,
        distinct_id: str,
        properties: dict[str, Any],
        timestamp: dt.datetime | str | None,
        uuid: str | uuidlib.UUID | None,
        person: dict[str, dict[str, Any]] | None = None,
    ) -> str:
        """Validate and serialise an event on the caller's thread, then queue or send it."""
        _check_name(distinct_id, "distinct_id")
        _check_name(event, "event")
        event_uuid = _check_uuid(uuid)
        # setdefault: a wrapper SDK built on this one may report its own library name.
        properties.setdefault("$lib", LIB_NAME)
        properties.setdefault("$lib_version", __version__)
        message: dict[str, Any] = {
            "event": event,
            "distinct_id": distinct_id,
            "properties": properties,
            "timestamp": _check_timestamp(timestamp),
            "uuid": event_uuid,
        }
        if person:
            message.update(person)
        try:
            # Serialised now: the caller may mutate nested values later, and retries must resend the
            # exact same bytes.
            payload = _dumps(message)
        except TypeError as exc:
            raise TypeError(f"event {event!r} has a value that cannot be sent as JSON: {exc}") from None
        if len(payload) + _ENVELOPE_BYTES + len(self._token_json) > self.max_batch_bytes:
            raise ValueError(
                f"event {event!r} is {len(payload)} bytes of JSON, more than a batch may hold "
                f"({self.max_batch_bytes} bytes)"
            )

        if self.sync_mode:
            self._send([payload])
            return event_uuid
        warn_drop = False
        with self._cond:
            if self._stopping or not self._ensure_worker():
                queued = False
            elif len(self._queue) >= self.max_queue_size:
                queued = True  # dropped, but not to be sent synchronously either
                self.dropped += 1
                now = time.monotonic()
                if now - self._last_drop_warning >= _DROP_WARNING_INTERVAL:
                    self._last_drop_warning = now
                    warn_drop = True
            else:
                queued = True
                self._queue.append((time.monotonic(), payload))
                self._enqueued += 1
                size = len(self._queue)
                # Wake the worker only when it has something new to do: start the flush_interval clock
                # for the first event, or send a full batch.
                if size == 1 or size >= self.flush_at:
                    self._cond.notify_all()
            dropped = self.dropped
        if warn_drop:
            logger.warning(
                "opsloop queue is full (%d events): dropping event %r; %d dropped so far",
                self.max_queue_size,
                event,
                dropped,
            )
        if not queued:
            # After shutdown (e.g. from another atexit hook), or where no thread can start: deliver now.
            self._send([payload])
        return event_uuid

    def _ensure_worker(self) -> bool:
        """Start the worker thread if needed (lock held); False where the interpreter cannot start one."""
        if self._thread is not None:
            return True
        thread = threading.Thread(target=self._run, name="opsloop-client", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down
            return False
        self._thread = thread
        return True

    def _run(self) -> None:
        """Worker loop: take batches and send them until shutdown has drained the queue."""
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                try:
                    self._send(batch)
                except Exception:  # a bug must neither kill the thread nor leave flush() waiting forever
                    logger.exception("opsloop client: unexpected error sending %d events", len(batch))
                finally:
                    with self._cond:
                        self._done += len(batch)
                        self._cond.notify_all()
        finally:
            self._transport.close()

    def _next_batch(self) -> list[bytes] | None:
        """Wait until a batch is due and take it off the queue; None once stopped and drained."""
        with self._cond:
            while True:
                queue = self._queue
                if queue:
                    if self._stopping or len(queue) >= self.flush_at or self._flush_target > self._done:
                        break
                    remaining = queue[0][0] + self.flush_interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                elif self._stopping:
                    return None
                else:
                    self._cond.wait()
            budget = self.max_batch_bytes - _ENVELOPE_BYTES - len(self._token_json)
            batch: list[bytes] = []
            size = 0
            while queue and len(batch) < self.flush_at:
                payload = queue[0][1]
                if batch and size + len(payload) + 1 > budget:
                    break
                queue.popleft()
                batch.append(payload)
                size += len(payload) + 1
            return batch

    def _body(self, events: list[bytes]) -> bytes:
        """The request body (gzipped if configured) for one attempt."""
        # sent_at is fresh on every attempt because the server corrects client clock skew with it
        # (event time - sent_at); the events themselves stay byte-identical so retries de-duplicate.
        sent_at = dt.datetime.now(dt.UTC).isoformat().encode()
        body = b"".join(
            (
                b'{"api_key":',
                self._token_json,
                b',"batch":[',
                b",".join(events),
                b'],"sent_at":"',
                sent_at,
                b'"}',
            )
        )
        # mtime=0 keeps the compressed bytes a function of the JSON alone.
        return gziplib.compress(body, compresslevel=6, mtime=0) if self.gzip else body

    def _post(self, events: list[bytes]) -> None:
        """One attempt; raises APIError for an error status and OSError / HTTPException on network errors."""
        status, headers, data = self._transport.post(self._body(events), self._headers)
        if 200 <= status < 300:
            self._report_rejected(data, len(events))
            return
        message = data[:300].decode("utf-8", "replace").strip() or http.client.responses.get(status, "")
        raise APIError(status, message, _retry_after(headers.get("Retry-After")))

    @staticmethod
    def _report_rejected(data: bytes, count: int) -> None:
        """Log the events of an accepted batch that the server rejected one by one (retrying cannot help)."""
        if b'"errors"' not in data:
            return
        try:
            errors = json.loads(data).get("errors") or []
        except (ValueError, AttributeError):
            return
        if errors:
            logger.warning(
                "opsloop server rejected %d of %d events, e.g. %s",
                len(errors),
                count,
                errors[0],
            )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so that many clients do not retry in lockstep."""
        delay = min(self.backoff_cap, self.backoff_base * 2**attempt)
        return delay / 2 + random.uniform(0, delay / 2)

    def _send(self, events: list[bytes]) -> None:
        """Send a batch with retries; gives up (on_error + warning) when retrying cannot or did not help."""
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                self._post(events)
                return
            except APIError as exc:
                if exc.status == 413 and len(events) > 1:
                    # The server takes smaller bodies than we assumed: halve the batch and carry on.
                    half = len(events) // 2
                    self._send(events[:half])
                    self._send(events[half:])
                    return
                # 408 and 429 are "try again later" just like 5xx; any other 4xx will fail identically.
                retryable = exc.status >= 500 or exc.status in (408, 429)
                retry_after = exc.retry_after
                error: BaseException = exc
            except ssl.SSLCertVerificationError as exc:
                retryable, error = False, exc  # a bad certificate stays bad
            except (OSError, http.client.HTTPException) as exc:  # timeouts, refused / reset connections
                retryable, error = True, exc
            if not retryable or attempt >= self.max_retries:
                self._give_up(error, events, attempt + 1)
                return
            delay = self._backoff(attempt)
            if retry_after is not None:
                delay = max(delay, retry_after)
            logger.debug("opsloop batch of %d events failed (%s); retry in %.2fs", len(events), error, delay)
            time.sleep(delay)
            attempt += 1

    def _give_up(self, error: BaseException, events: list[bytes], attempts: int) -> None:
        """Drop a batch for good: log it and tell on_error."""
        logger.warning(
            "opsloop dropped a batch of %d events after %d attempt%s: %s",
            len(events),
            attempts,
            "" if attempts == 1 else "s",
            error,
        )
        if self.on_error is None:
            return
        try:
            self.on_error(error, [json.loads(payload) for payload in events])
        except Exception:  # the callback's bug must not break sending
            logger.exception("opsloop on_error callback raised")
