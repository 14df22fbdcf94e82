"""Capture protocols: decode a request body, find the project, and split a batch into good and bad events."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from opsloop.ingest.events import (
    Arrival,
    InvalidEvent,
    WireEvent,
    WireRecord,
    new_uuid_block,
    normalize_posthog,
    normalize_segment,
    parse_timestamp,
)


class CaptureError(Exception):
    """A request that is refused as a whole; `status` is the HTTP status, `code` a stable machine name."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class CaptureBatch:
    """Outcome of parsing one request: its valid events as one ingest-log record, and per-event errors
    (`index` into the request's events)."""

    record: bytes = b""  # a `WireRecord` as JSON; empty when no event is valid
    count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def decode_body(body: bytes, *, content_encoding: str, compression: str, content_type: str, limit: int) -> Any:
    """Decompress (gzip / deflate / base64 form) and parse JSON, refusing bodies larger than `limit`."""
    if not body.strip():
        raise CaptureError(400, "empty_body", "the request body is empty")
    encoding = content_encoding.lower().strip()
    if encoding in ("gzip", "x-gzip", "deflate") or compression in ("gzip", "gzip-js") or body[:2] == b"\x1f\x8b":
        wbits = 31 if (body[:2] == b"\x1f\x8b" or encoding != "deflate") else 15
        decomp = zlib.decompressobj(wbits)
        try:
            body = decomp.decompress(body, limit + 1)
        except zlib.error as exc:
            raise CaptureError(400, "bad_compression", f"the body is not valid gzip/deflate data: {exc}") from None
        if len(body) > limit or decomp.unconsumed_tail:
            raise CaptureError(413, "body_too_large", f"the decompressed body is larger than {limit} bytes")
    if "application/x-www-form-urlencoded" in content_type.lower() or body[:5] == b"data=":
        form = parse_qs(body.decode("latin-1"))
        data = (form.get("data") or [""])[0]
        try:
            body = base64.b64decode(data + "=" * (-len(data) % 4), validate=False)
        except (binascii.Error, ValueError):
            raise CaptureError(400, "bad_form", "the form field `data` is not base64") from None
        if form.get("compression", [""])[0] in ("gzip", "gzip-js"):
            return decode_body(body, content_encoding="gzip", compression="", content_type="", limit=limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CaptureError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _first_string(*candidates: Any) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def posthog_token(payload: Any, query_token: str | None) -> str | None:
    """The project token of a PostHog-shaped payload (`api_key`, `token`, `$token`, or in properties)."""
    if not isinstance(payload, dict | list):
        raise CaptureError(400, "invalid_payload", 'the body must be an event object, an array, or {"batch": [...]}')
    if isinstance(payload, dict):
        props = given if isinstance(given := payload.get("properties"), dict) else {}
        found = _first_string(
            payload.get("api_key"),
            payload.get("token"),
            payload.get("$token"),
            props.get("token"),
            props.get("$token"),
        )
        if found:
            return found
        batch = payload.get("batch")
        if isinstance(batch, list) and batch:
            return posthog_token(batch[0], query_token)
    elif isinstance(payload, list) and payload:
        return posthog_token(payload[0], query_token)
    return query_token


def posthog_events(payload: Any) -> tuple[list[Any], dt.datetime | None]:
    """The raw events of a PostHog payload (single, array, or `{"batch": [...]}`) and its `sent_at`."""
    sent_at = None
    if isinstance(payload, dict) and isinstance(payload.get("sent_at"), str):
        try:
            sent_at = parse_timestamp(payload["sent_at"], "sent_at")
        except InvalidEvent as exc:
            raise CaptureError(400, "invalid_sent_at", str(exc)) from None
    if isinstance(payload, list):
        return payload, sent_at
    if isinstance(payload, dict):
        if "batch" in payload:
            if not isinstance(payload["batch"], list):
                raise CaptureError(400, "invalid_batch", "`batch` must be an array of events")
            return payload["batch"], sent_at
        if "data" in payload and "event" not in payload:
            data = payload["data"]
            return (data if isinstance(data, list) else [data]), sent_at
        return [payload], sent_at
    raise CaptureError(400, "invalid_payload", 'the body must be an event object, an array, or {"batch": [...]}')


def collect(
    raw_events: list[Any],
    normalize: Callable[[Any, Arrival], WireEvent],
    arrival: Arrival,
    project_id: int,
    *,
    max_events: int,
    max_event_bytes: int,
    body_bytes: int,
) -> CaptureBatch:
    """Normalise each raw event; a bad one is reported by index and skipped, the others are kept."""
    if len(raw_events) > max_events:
        raise CaptureError(
            413, "too_many_events", f"{len(raw_events)} events in one request; the limit is {max_events}"
        )
    batch = CaptureBatch(total=len(raw_events))
    events: list[WireEvent] = []
    # Only a body bigger than the per-event limit can hold an oversized event: skip the cost otherwise.
    check_size = body_bytes > max_event_bytes
    for index, raw in enumerate(raw_events):
        try:
            event = normalize(raw, arrival)
            if check_size and len(orjson.dumps(raw)) > max_event_bytes:
                raise InvalidEvent(f"the event is larger than {max_event_bytes} bytes")
        except InvalidEvent as exc:
            batch.errors.append({"index": index, "reason": str(exc)})
            continue
        except (TypeError, ValueError, OverflowError) as exc:
            batch.errors.append({"index": index, "reason": f"invalid event: {exc}"})
            continue
        events.append(event)
    if events:
        batch.record, batch.count = _encode(project_id, events, batch)
    return batch


def _encode(project_id: int, events: list[WireEvent], batch: CaptureBatch) -> tuple[bytes, int]:
    """The ingest-log record of `events` and how many it holds; an event that JSON cannot encode (nested
    too deeply) moves to the batch's errors."""
    prefix, first = new_uuid_block()
    record: WireRecord = {"p": project_id, "u": prefix, "c": first, "e": events}
    try:
        return orjson.dumps(record), len(events)
    except orjson.JSONEncodeError:
        pass
    refused = {int(error["index"]) for error in batch.errors}
    indices = [index for index in range(batch.total) if index not in refused]
    kept: list[WireEvent] = []
    for index, event in zip(indices, events, strict=True):
        try:
            orjson.dumps(record | {"e": [event]})
            kept.append(event)
        except orjson.JSONEncodeError as exc:
            batch.errors.append({"index": index, "reason": f"invalid event: {exc}"})
    batch.errors.sort(key=lambda error: int(error["index"]))
    record["e"] = kept
    return (orjson.dumps(record), len(kept)) if kept else (b"", 0)


def parse_posthog(
    payload: Any, project_id: int, now: dt.datetime, *, max_events: int, max_event_bytes: int, body_bytes: int
) -> CaptureBatch:
    """Validate a PostHog-shaped payload for `project_id`."""
    raw_events, sent_at = posthog_events(payload)
    arrival = Arrival.at(now, sent_at)
    return collect(
        raw_events,
        normalize_posthog,
        arrival,
        project_id,
        max_events=max_events,
        max_event_bytes=max_event_bytes,
        body_bytes=body_bytes,
    )


def segment_write_key(payload: Any, authorization: str) -> str | None:
    """The write key of a Segment request: Basic `writekey:`, Bearer, or `writeKey` in the body."""
    auth = authorization.strip()
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:].strip()).decode("utf-8").split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return user
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    if isinstance(payload, dict):
        return _first_string(payload.get("writeKey"), payload.get("write_key"))
    return None


def parse_segment(
    payload: Any,
    kind: str,
    project_id: int,
    now: dt.datetime,
    *,
    max_events: int,
    max_event_bytes: int,
    body_bytes: int,
) -> CaptureBatch:
    """Validate a Segment message (`kind` from the path) or a `/v1/batch` body."""
    if not isinstance(payload, dict):
        raise CaptureError(400, "invalid_payload", "the body must be a JSON object")
    arrival = Arrival.at(now)
    if kind == "batch":
        messages = payload.get("batch")
        if not isinstance(messages, list):
            raise CaptureError(400, "invalid_batch", "`batch` must be an array of messages")
        shared_context = payload.get("context") if isinstance(payload.get("context"), dict) else None

        def normalize(raw: Any, arrival: Arrival) -> WireEvent:
            if isinstance(raw, dict) and shared_context and "context" not in raw:
                raw = {**raw, "context": shared_context}
            return normalize_segment(raw, arrival, None, payload.get("sentAt"))

        return collect(
            messages,
            normalize,
            arrival,
            project_id,
            max_events=max_events,
            max_event_bytes=max_event_bytes,
            body_bytes=body_bytes,
        )
    return collect(
        [payload],
        lambda raw, arrival: normalize_segment(raw, arrival, kind),
        arrival,
        project_id,
        max_events=max_events,
        max_event_bytes=max_event_bytes,
        body_bytes=body_bytes,
    )
