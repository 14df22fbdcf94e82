"""Validation and normalisation of captured events, PostHog- and Segment-shaped, into `CapturedEvent`."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any, TypedDict

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
    """A validated event as written to the ingest log (short keys: the log holds every event)."""

    u: str | None  # uuid; None: derived when stored from the record's uuid block (`WireRecord`)
    e: str  # event name
    d: str  # distinct id
    t: int  # timestamp, microseconds since the epoch (UTC)
    q: dict[str, Any]  # properties
    s: dict[str, Any] | None  # $set
    o: dict[str, Any] | None  # $set_once


class WireRecord(TypedDict):
    """One ingest-log record: the valid events of one request, for one project.

    An event sent without a uuid gets `u + printf('%012x', c + index)` (index from 0 within `e`): unique
    per process and request, and the same on every replay of the record, so a replay never stores it twice.
    """

    p: int  # project id
    u: str  # uuid block prefix: the first 24 characters of a uuid
    c: int  # first value of the block's last 12 hex digits
    e: list[WireEvent]


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


#: Bits of a uuid block's index: a request holds at most this many events (see `Settings`).
BLOCK_INDEX_BITS = 14
MAX_BLOCK_EVENTS = 1 << BLOCK_INDEX_BITS


class _UuidSource:
    """Unique uuids, ~10x cheaper than `uuid4()`: 60 random bits per process and a counter.

    The layout keeps the RFC 4122 version-4 and variant bits, so the values are valid UUIDs. A block is one
    counter value whose low bits are left for an index, so a request's events need no per-event work.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a child process starts a new random prefix

    def _reset(self) -> None:
        self._prefix, self._counter = _random_prefix(), itertools.count(int.from_bytes(os.urandom(2), "big") << 32)
        # Blocks have a prefix of their own, so a block's uuids never meet single ones.
        self._block_prefix, self._blocks = _random_prefix(), itertools.count(int.from_bytes(os.urandom(2), "big"))

    def next(self) -> str:
        """A new uuid string."""
        n = next(self._counter)  # itertools.count is atomic under the GIL
        return f"{self._prefix}{(n >> 48) & 0xFFF:03x}-{n & 0xFFFFFFFFFFFF:012x}"

    def block(self) -> tuple[str, int]:
        """A uuid block: (first 24 characters, first value of the last 12 hex digits) for up to
        `MAX_BLOCK_EVENTS` uuids; `uuid_in_block` makes the one at an index."""
        n = next(self._blocks)
        low = (n << BLOCK_INDEX_BITS) & 0xFFFFFFFFFFFF
        return f"{self._block_prefix}{(n >> (48 - BLOCK_INDEX_BITS)) & 0xFFF:03x}-", low


def _random_prefix() -> str:
    """The first 20 characters of a version-4 uuid, random."""
    r = os.urandom(8).hex()
    return f"{r[:8]}-{r[8:12]}-4{r[12:15]}-{'89ab'[int(r[15], 16) % 4]}"


_uuids = _UuidSource()
new_uuid = _uuids.next
new_uuid_block = _uuids.block


def uuid_in_block(prefix: str, first: int, index: int) -> str:
    """The uuid at `index` of a block (the SQL that stores log records computes the same)."""
    return f"{prefix}{first + index:012x}"


_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Arrival:
    """When a request arrived, and the client's `sent_at` if it gave one (for clock-skew correction)."""

    now: dt.datetime
    now_us: int
    sent_at: dt.datetime | None = None

    @classmethod
    def at(cls, now: dt.datetime, sent_at: dt.datetime | None = None) -> Arrival:
        """An arrival at `now` (timezone-aware)."""
        return cls(now, to_us(now), sent_at)


def _uuid(value: Any) -> str | None:
    """A given uuid, validated and in canonical form; None (none given) leaves it to the uuid block."""
    if value is None:
        return None
    if type(value) is not str:
        raise InvalidEvent("uuid must be a string")
    if _UUID_RE.fullmatch(value):
        return value
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise InvalidEvent(f"uuid {value[:40]!r} is not a valid UUID") from None


def _event_time(ts: dt.datetime, arrival: Arrival) -> int:
    """A client-side time as stored: refused before 2000, replaced by the arrival time when in the future."""
    return to_us(_settle_timestamp(ts, arrival.now))


def normalize_posthog(raw: Any, arrival: Arrival) -> WireEvent:
    """One PostHog-shaped event (`event`, `distinct_id`, `properties`, `timestamp`, `uuid`, `$set`...)."""
    if type(raw) is not dict:
        raise InvalidEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    event = raw.get("event")
    # The common case (a clean, short string) is checked inline; `_text` repairs or explains the rest. (CPython's
    # `strip()` returns the string itself when there is nothing to strip; anything else just takes `_text`.)
    if type(event) is not str or not 0 < len(event) <= MAX_NAME_CHARS or event.strip() is not event:
        event = _text(event, "event", MAX_NAME_CHARS)
    props = raw.get("properties")
    if props is None:
        props = {}
    elif type(props) is not dict:
        raise InvalidEvent(f"properties must be a JSON object, got {type(props).__name__}")
    distinct = raw.get("distinct_id")
    if distinct is None:
        distinct = props.get("distinct_id", props.get("$distinct_id"))
    if type(distinct) is not str or not 0 < len(distinct) <= MAX_DISTINCT_ID_CHARS or distinct.strip() is not distinct:
        distinct = _text(distinct, "distinct_id", MAX_DISTINCT_ID_CHARS)
    set_props = raw.get("$set")
    set_once = raw.get("$set_once")
    if not _STRIPPED.isdisjoint(props):
        props = {k: v for k, v in props.items() if k not in _STRIPPED}
        set_props = raw["properties"].get("$set") if set_props is None else set_props
        set_once = raw["properties"].get("$set_once") if set_once is None else set_once
    if set_props is not None and type(set_props) is not dict:
        raise InvalidEvent(f"$set must be a JSON object, got {type(set_props).__name__}")
    if set_once is not None and type(set_once) is not dict:
        raise InvalidEvent(f"$set_once must be a JSON object, got {type(set_once).__name__}")
    raw_ts = raw.get("timestamp")
    if raw_ts is not None:
        ts = parse_timestamp(raw_ts)
        event_sent_at = raw.get("sent_at")
        skew_base = parse_timestamp(event_sent_at, "sent_at") if event_sent_at else arrival.sent_at
        if skew_base is not None:
            # The client's clock may be off; what it measured is the delay between event and send.
            ts = arrival.now + (ts - skew_base)
        timestamp_us = _event_time(ts, arrival)
    elif "offset" in raw and isinstance(raw["offset"], int | float):
        timestamp_us = _event_time(arrival.now - dt.timedelta(milliseconds=raw["offset"]), arrival)
    else:
        timestamp_us = arrival.now_us
    uuid = raw.get("uuid")
    return {
        "u": None if uuid is None else _uuid(uuid),
        "e": event,
        "d": distinct,
        "t": timestamp_us,
        "q": props,
        "s": set_props,
        "o": set_once,
    }


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


def normalize_segment(raw: Any, arrival: Arrival, kind: str | None = None, sent_at: Any = None) -> WireEvent:
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
    # A re-sent message maps to the same uuid, so it is stored once.
    event_uuid = (
        None if message_id is None else str(uuidlib.uuid5(SEGMENT_NAMESPACE, _text(message_id, "messageId", 400)))
    )
    if raw.get("timestamp") is not None:
        ts = parse_timestamp(raw["timestamp"])
        msg_sent_at = raw.get("sentAt", sent_at)
        if msg_sent_at is not None:
            ts = ts + (arrival.now - parse_timestamp(msg_sent_at, "sentAt"))
        timestamp_us = _event_time(ts, arrival)
    else:
        timestamp_us = arrival.now_us
    return {"u": event_uuid, "e": event, "d": distinct_id, "t": timestamp_us, "q": props, "s": set_props, "o": None}
