"""Validation and normalisation of captured events, PostHog- and Segment-shaped, into `CapturedEvent`."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson

MAX_NAME_CHARS = 200
MAX_DISTINCT_ID_CHARS = 200
#: A client clock this far ahead is wrong; its events are stamped with the server's time instead.
MAX_FUTURE = dt.timedelta(hours=23)
MIN_TIMESTAMP = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Namespace for uuids derived from Segment `messageId`s, so a re-sent message maps to the same uuid.
SEGMENT_NAMESPACE = uuidlib.UUID("6f1b0e2e-8c1f-4f4e-9d55-6b9b5b0f0a11")


class InvalidEvent(ValueError):
    """One event that cannot be stored; the message says what is wrong with it."""


class WireEvent(TypedDict):
    """A validated event as written to the ingest log (short keys: the log holds every event).

    `q` is the properties object serialised once, while the request's data is still hot in the CPU cache.
    """

    p: int  # project id
    u: str  # uuid
    e: str  # event name
    d: str  # distinct id
    t: int  # timestamp, microseconds since the epoch (UTC)
    q: orjson.Fragment  # properties (JSON object)
    s: dict[str, Any] | None  # $set
    o: dict[str, Any] | None  # $set_once


@dataclass(slots=True)
class CapturedEvent:
    """An event as identity resolution sees it (built from staged rows for the few events that need it)."""

    project_id: int
    uuid: str
    event: str
    distinct_id: str
    timestamp_us: int
    properties: dict[str, Any]
    set: dict[str, Any] | None = None
    set_once: dict[str, Any] | None = None


def _wire(
    project_id: int,
    uuid: str,
    event: str,
    distinct_id: str,
    timestamp_us: int,
    properties: dict[str, Any],
    set_: dict[str, Any] | None,
    set_once: dict[str, Any] | None,
) -> WireEvent:
    return {
        "p": project_id,
        "u": uuid,
        "e": event,
        "d": distinct_id,
        "t": timestamp_us,
        "q": orjson.Fragment(orjson.dumps(properties)),
        "s": set_,
        "o": set_once,
    }


def to_us(value: dt.datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_timestamp(value: Any, field: str = "timestamp") -> dt.datetime:
    """Parse an ISO-8601 string (naive means UTC) or epoch seconds / milliseconds."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidEvent(f"{field} {value[:40]!r} is not an ISO-8601 date-time") from None
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidEvent(f"{field} {value!r} is out of range") from None
    raise InvalidEvent(f"{field} must be an ISO-8601 string or epoch number, got {type(value).__name__}")


def _settle_timestamp(ts: dt.datetime, now: dt.datetime) -> dt.datetime:
    if ts < MIN_TIMESTAMP:
        raise InvalidEvent(f"timestamp {ts.isoformat()} is before 2000-01-01")
    return now if ts - now > MAX_FUTURE else ts


def _text(value: Any, field: str, limit: int) -> str:
    if type(value) is not str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        else:
            raise InvalidEvent(f"{field} must be a string, got {type(value).__name__}")
    if not value or value[0].isspace() or value[-1].isspace():
        value = value.strip()
        if not value:
            raise InvalidEvent(f"{field} is empty")
    if len(value) > limit:
        raise InvalidEvent(f"{field} is longer than {limit} characters")
    return value


def _object(value: Any, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEvent(f"{field} must be a JSON object, got {type(value).__name__}")
    return value


class _UuidSource:
    """Unique event uuids, ~10x cheaper than `uuid4()`: 64 random bits per process and a 48-bit counter.

    The layout keeps the RFC 4122 version-4 and variant bits, so the values are valid UUIDs.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        r = os.urandom(8).hex()
        self._prefix = f"{r[:8]}-{r[8:12]}-4{r[12:15]}-{'89ab'[int(r[15], 16) % 4]}"
        self._counter = itertools.count(int.from_bytes(os.urandom(2), "big") << 32)
        self._pid = os.getpid()

    def next(self) -> str:
        """A new uuid string (fork-safe: a child process starts a new random prefix)."""
        if os.getpid() != self._pid:
            self._reset()
        n = next(self._counter)  # itertools.count is atomic under the GIL
        return f"{self._prefix}{(n >> 48) & 0xFFF:03x}-{n & 0xFFFFFFFFFFFF:012x}"


new_uuid = _UuidSource().next
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: Any) -> str:
    if value is None:
        return new_uuid()
    if not isinstance(value, str):
        raise InvalidEvent("uuid must be a string")
    if _UUID_RE.fullmatch(value):
        return value
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise InvalidEvent(f"uuid {value[:40]!r} is not a valid UUID") from None


def normalize_posthog(raw: Any, project_id: int, now: dt.datetime, sent_at: dt.datetime | None = None) -> WireEvent:
    """One PostHog-shaped event (`event`, `distinct_id`, `properties`, `timestamp`, `uuid`, `$set`...)."""
    if not isinstance(raw, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    event = _text(raw.get("event"), "event", MAX_NAME_CHARS)
    props = raw.get("properties")
    if props is None:
        props = {}
    elif type(props) is not dict:
        raise InvalidEvent(f"properties must be a JSON object, got {type(props).__name__}")
    distinct = raw.get("distinct_id")
    if distinct is None:
        distinct = props.get("distinct_id", props.get("$distinct_id"))
    distinct_id = _text(distinct, "distinct_id", MAX_DISTINCT_ID_CHARS)
    set_props = raw.get("$set")
    set_once = raw.get("$set_once")
    if not _STRIPPED.isdisjoint(props):
        props = {k: v for k, v in props.items() if k not in _STRIPPED}
        set_props = raw["properties"].get("$set") if set_props is None else set_props
        set_once = raw["properties"].get("$set_once") if set_once is None else set_once
    set_props = _object(set_props, "$set")
    set_once = _object(set_once, "$set_once")
    raw_ts = raw.get("timestamp")
    if raw_ts is not None:
        ts = parse_timestamp(raw_ts)
        event_sent_at = raw.get("sent_at")
        skew_base = parse_timestamp(event_sent_at, "sent_at") if event_sent_at else sent_at
        if skew_base is not None:
            # The client's clock may be off; what it measured is the delay between event and send.
            ts = now + (ts - skew_base)
    elif isinstance(raw.get("offset"), int | float):
        ts = now - dt.timedelta(milliseconds=raw["offset"])
    else:
        ts = now
    return _wire(
        project_id,
        _uuid(raw.get("uuid")),
        event,
        distinct_id,
        to_us(_settle_timestamp(ts, now)),
        props,
        set_props,
        set_once,
    )


#: Keys that carry routing or person data, not event properties.
_STRIPPED = frozenset({"distinct_id", "$distinct_id", "token", "$token", "api_key", "$set", "$set_once"})

_SEGMENT_EVENT = {
    "page": "$pageview",
    "screen": "$screen",
    "identify": "$identify",
    "alias": "$create_alias",
    "group": "$groupidentify",
}
_SEGMENT_CONTEXT = {
    ("page", "url"): "$current_url",
    ("page", "referrer"): "$referrer",
    ("os", "name"): "$os",
    ("os", "version"): "$os_version",
    ("device", "type"): "$device_type",
    ("app", "version"): "$app_version",
    ("library", "name"): "$lib",
    ("library", "version"): "$lib_version",
}


def normalize_segment(
    raw: Any, project_id: int, now: dt.datetime, kind: str | None = None, sent_at: Any = None
) -> WireEvent:
    """One Segment-spec message (`track`, `identify`, `page`, `screen`, `group`, `alias`)."""
    if not isinstance(raw, dict):
        raise InvalidEvent(f"a message must be a JSON object, got {type(raw).__name__}")
    kind = raw.get("type", kind)
    if kind not in ("track", "identify", "page", "screen", "group", "alias"):
        raise InvalidEvent(f"type {kind!r} is not one of track, identify, page, screen, group, alias")
    user_id, anon_id = raw.get("userId"), raw.get("anonymousId")
    distinct_id = _text(
        user_id if user_id not in (None, "") else anon_id, "userId or anonymousId", MAX_DISTINCT_ID_CHARS
    )
    props = dict(_object(raw.get("properties"), "properties") or {})
    context = _object(raw.get("context"), "context") or {}
    for (section, key), name in _SEGMENT_CONTEXT.items():
        part = context.get(section)
        if isinstance(part, dict) and part.get(key) is not None:
            props.setdefault(name, part[key])
    if context.get("ip"):
        props.setdefault("$ip", context["ip"])
    if context.get("locale"):
        props.setdefault("$locale", context["locale"])
    traits = _object(raw.get("traits"), "traits")
    set_props: dict[str, Any] | None = None
    event = _text(raw.get("event"), "event", MAX_NAME_CHARS) if kind == "track" else _SEGMENT_EVENT[kind]
    if kind == "identify":
        set_props = traits
        if user_id not in (None, "") and anon_id not in (None, "") and str(anon_id) != str(user_id):
            props["$anon_distinct_id"] = _text(anon_id, "anonymousId", MAX_DISTINCT_ID_CHARS)
    elif kind == "alias":
        props["alias"] = _text(raw.get("previousId"), "previousId", MAX_DISTINCT_ID_CHARS)
    elif kind == "group":
        props["$group_type"] = str((traits or {}).get("group_type", "company"))
        props["$group_key"] = _text(raw.get("groupId"), "groupId", MAX_DISTINCT_ID_CHARS)
        props["$group_set"] = traits or {}
    elif kind == "page" and raw.get("name"):
        props.setdefault("name", raw["name"])
    elif kind == "screen" and raw.get("name"):
        props["$screen_name"] = raw["name"]
    message_id = raw.get("messageId")
    if message_id is None:
        event_uuid = new_uuid()
    else:
        event_uuid = str(uuidlib.uuid5(SEGMENT_NAMESPACE, _text(message_id, "messageId", 400)))
    ts = parse_timestamp(raw["timestamp"]) if raw.get("timestamp") is not None else now
    msg_sent_at = raw.get("sentAt", sent_at)
    if raw.get("timestamp") is not None and msg_sent_at is not None:
        ts = ts + (now - parse_timestamp(msg_sent_at, "sentAt"))
    return _wire(project_id, event_uuid, event, distinct_id, to_us(_settle_timestamp(ts, now)), props, set_props, None)
