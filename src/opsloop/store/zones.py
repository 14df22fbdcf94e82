"""A timezone's UTC offsets over a stretch of time, so that engines can turn UTC into local time with integer
arithmetic instead of a timezone-database lookup per row."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

#: The earliest instant the offset table covers: earlier timestamps keep the engine's own conversion.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Offset changes one table may hold, and the longest stretch it covers; a longer stretch is cut to its
#: most recent part (where a product's events are).
MAX_CHANGES = 12
MAX_STRETCH = dt.timedelta(days=3 * 366)


@dataclass(frozen=True)
class OffsetTable:
    """`[start, end)` in UTC, and the offsets in force: `(since, seconds)` pairs, `since` ascending, the first
    one equal to `start`. Local time is UTC plus the offset of the last pair whose `since` <= the instant."""

    start: dt.datetime
    end: dt.datetime
    offsets: tuple[tuple[dt.datetime, int], ...]


def _offset(zone: zoneinfo.ZoneInfo, instant: dt.datetime) -> int:
    delta = instant.astimezone(zone).utcoffset()
    assert delta is not None
    return int(delta.total_seconds())


def _change_between(zone: zoneinfo.ZoneInfo, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """The first second in `(low, high]` whose offset differs from `low`'s (one change lies between)."""
    before = _offset(zone, low)
    while (high - low) > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + dt.timedelta(seconds=1)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


@lru_cache(maxsize=256)
def offset_table(timezone: str, start: dt.datetime, end: dt.datetime) -> OffsetTable | None:
    """The offsets of `timezone` over `[start, end)` (UTC instants), or None when the stretch lies wholly
    before 1970. Instants outside the table's `[start, end)` are the caller's to convert another way.
    Offsets are sampled every 6 hours and each change found to the second (zones change offset at most a
    few times a year, never twice within 6 hours)."""
    zone = zoneinfo.ZoneInfo(timezone)
    end = end.astimezone(dt.UTC)
    start = max(start.astimezone(dt.UTC), EPOCH, end - MAX_STRETCH)
    if end <= start:
        return None
    step = dt.timedelta(hours=6)
    changes: list[tuple[dt.datetime, int]] = [(start, _offset(zone, start))]
    at = start
    while at < end:
        following = min(at + step, end)
        if _offset(zone, following) != changes[-1][1]:
            since = _change_between(zone, at, following)
            if since < end:
                changes.append((since, _offset(zone, since)))
        at = following
    if len(changes) > MAX_CHANGES:
        changes = changes[-MAX_CHANGES:]
        start = changes[0][0]
    return OffsetTable(start, end, tuple(changes))


#: The end of the stretch `whole_hours` knows; it starts in 1970 (stored events are from 2000 on).
_HOURS_END = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@lru_cache(maxsize=64)
def _offsets_since_1970(timezone: str) -> tuple[tuple[dt.datetime, int], ...]:
    """Every offset `timezone` has had from 1970 to 2100: `(since, seconds)` pairs, `since` ascending, found
    by sampling daily (no zone has changed its offset twice in a day since 1970) and bisecting each change."""
    zone = zoneinfo.ZoneInfo(timezone)
    changes = [(EPOCH, _offset(zone, EPOCH))]
    step = dt.timedelta(days=1)
    at = EPOCH
    while at < _HOURS_END:
        following = at + step
        if _offset(zone, following) != changes[-1][1]:
            since = _change_between(zone, at, following)
            changes.append((since, _offset(zone, since)))
        at = following
    return tuple(changes)


def whole_hours(timezone: str, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether `timezone`'s offset from UTC is a whole number of hours at every instant of `[start, end)`
    (from 1970 on). Then every local midnight, and every local hour, in that stretch starts a UTC hour: an
    event's local day (week, month, hour) is the one of the UTC hour it happened in."""
    if end > _HOURS_END:
        return False
    offsets = _offsets_since_1970(timezone)
    for i, (since, seconds) in enumerate(offsets):
        until = offsets[i + 1][0] if i + 1 < len(offsets) else _HOURS_END
        if since < end and until > start and seconds % 3600:
            return False
    return True
