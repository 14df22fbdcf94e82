"""Funnels in plain Python, straight from the definitions in docs/metrics.md (no SQL, no engine).

Ordered and strict funnels credit each step event to the latest-starting attempt waiting for it, scanning
all earlier events (quadratic), and check the furthest step against a brute force over every chain of events
(depth-first, so keep logs small); unordered funnels look, for every anchor, for each step's earliest event.
Only the property filters the tests use are supported (`eq`, `neq`, `is_set`, `is_not_set` on text properties).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from opsloop.analytics.timeframe import period_start
from tests.analytics.reference_trends import percentile

Resolved = list[tuple[str, str, dt.datetime, dict[str, Any]]]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Part:
    """A step or an exclusion: event name (`$any` = any) and `(property, op, value)` filters."""

    event: str
    filters: tuple[tuple[str, str, Any], ...] = ()
    from_step: int = 0
    to_step: int = 0


@dataclass
class Funnel:
    """The query's parameters the reference needs."""

    steps: list[Part]
    window_seconds: int
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    order: str = "ordered"
    exclusions: list[Part] = field(default_factory=list)
    filters: tuple[tuple[str, str, Any], ...] = ()
    breakdown: str | None = None
    breakdown_limit: int = 10
    attribution: str = "first_touch"
    attribution_step: int = 1


def _text(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _holds(props: dict[str, Any], rules: tuple[tuple[str, str, Any], ...]) -> bool:
    for key, op, value in rules:
        text = _text(props, key)
        ok = {
            "eq": text == value,
            "neq": text != value,
            "is_set": text is not None,
            "is_not_set": text is None,
        }[op]
        if not ok:
            return False
    return True


def _matches(part: Part, name: str, props: dict[str, Any]) -> bool:
    return (part.event in ("$any", name)) and _holds(props, part.filters)


def micros(at: dt.datetime) -> int:
    """A UTC instant as microseconds since 1970."""
    delta = at - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Row:
    """One event in sequence order."""

    t: int
    m: int
    xm: int
    v: int
    steps: frozenset[int]
    exclusions: frozenset[int]
    in_range: bool


def top_values(events: Resolved, f: Funnel) -> list[str]:
    """The breakdown's top values among the events that match a step (ties by value)."""
    start, end = _bounds(f)
    counts: Counter[str] = Counter()
    for _, name, at, props in events:
        if start <= at < end and _holds(props, f.filters) and f.breakdown is not None:
            value = _text(props, f.breakdown)
            matched = any(_matches(s, name, props) for s in f.steps[1:]) or (
                _matches(f.steps[0], name, props) and (f.order == "unordered" or at < _range_end(f))
            )
            if matched and value is not None:
                counts[value] += 1
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: f.breakdown_limit]]


def _range_end(f: Funnel) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(f.timezone)
    return dt.datetime.combine(f.date_to + dt.timedelta(1), dt.time(), tzinfo=zone).astimezone(dt.UTC)


def _bounds(f: Funnel) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(f.timezone)
    start = dt.datetime.combine(f.date_from, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, _range_end(f) + dt.timedelta(seconds=f.window_seconds)


def sequences(events: Resolved, f: Funnel, top: list[str]) -> dict[str, list[Row]]:
    """Each person's events in sequence order: time, then matched steps, exclusions, breakdown value."""
    start, end = _bounds(f)
    range_end = _range_end(f)
    out: dict[str, list[Row]] = defaultdict(list)
    for person, name, at, props in events:
        if not (start <= at < end) or not _holds(props, f.filters):
            continue
        in_range = at < range_end
        steps = frozenset(
            k
            for k, s in enumerate(f.steps, 1)
            if _matches(s, name, props) and (k > 1 or in_range or f.order == "unordered")
        )
        exclusions = frozenset(i for i, x in enumerate(f.exclusions, 1) if _matches(x, name, props))
        if not steps and not exclusions and f.order != "strict":
            continue
        value = _text(props, f.breakdown) if f.breakdown else None
        v = 0 if value is None else (top.index(value) + 1 if value in top else len(top) + 1)
        m = sum(2 ** (k - 1) for k in steps)
        xm = sum(2 ** (i - 1) for i in exclusions)
        out[person].append(Row(micros(at), m, xm, v, steps, exclusions, in_range))
    return {p: sorted(rows, key=lambda r: (r.t, r.m, r.xm, r.v)) for p, rows in out.items()}


def _levels(rows: list[Row], f: Funnel) -> int:
    """The furthest step of any valid ordered / strict chain (an independent brute force over all chains)."""
    window = f.window_seconds * 1_000_000
    best = 0

    def extend(start: int, positions: list[int]) -> None:
        nonlocal best
        level = len(positions)
        best = max(best, level)
        if level == len(f.steps):
            return
        last = positions[-1]
        nxt = range(last + 1, min(last + 2, len(rows))) if f.order == "strict" else range(last + 1, len(rows))
        for p in nxt:
            if rows[p].t > start + window:
                break
            if level + 1 in rows[p].steps and not _ends(rows, f, level, last, p):
                extend(start, [*positions, p])

    for i, row in enumerate(rows):
        if 1 in row.steps:
            extend(row.t, [i])
    return best


def _ends(rows: list[Row], f: Funnel, level: int, a: int, b: int) -> bool:
    """An exclusion event at a position in (a, b] ends attempts at `level` (from_step <= level < to_step)."""
    for i, x in enumerate(f.exclusions, 1):
        if x.from_step <= level < x.to_step and any(i in rows[p].exclusions for p in range(a + 1, b + 1)):
            return True
    return False


def _key(row: Row) -> int:
    return row.t * 128 + row.v


def _credited(rows: list[Row], f: Funnel) -> list[list[int | None]]:
    """`started[k-1][i]`: the start key of the attempt that event i completes step k of: for step 1 the event
    itself; for step k the latest-starting attempt that completed step k-1 at an earlier event (strict: at the
    event just before), not ended by an exclusion since, with event i inside its window."""
    window = f.window_seconds * 1_000_000
    n = len(f.steps)
    started: list[list[int | None]] = [[None] * len(rows) for _ in range(n)]
    for i, row in enumerate(rows):
        if 1 in row.steps:
            started[0][i] = _key(row)
        for k in range(2, n + 1):
            if k not in row.steps:
                continue
            earlier = [i - 1] if f.order == "strict" else range(i)
            waiting = [
                started[k - 2][j]
                for j in earlier
                if j >= 0 and started[k - 2][j] is not None and not _ends(rows, f, k - 1, j, i)
            ]
            if waiting:
                start = max(w for w in waiting if w is not None)
                if row.t <= start // 128 + window:
                    started[k - 1][i] = start
    return started


def _ordered(rows: list[Row], f: Funnel) -> tuple[int, int, list[int]] | None:
    started = _credited(rows, f)
    reached = [k for k in range(1, len(f.steps) + 1) if any(s is not None for s in started[k - 1])]
    if not reached:
        return None
    level = max(reached)
    assert level == _levels(rows, f), "the credited attempts reach as far as the best chain"
    chosen = max(s for s in started[level - 1] if s is not None)
    keys = [min(_key(r) for i, r in enumerate(rows) if started[k][i] == chosen) for k in range(level)]
    return level, chosen, keys


def _unordered(rows: list[Row], f: Funnel) -> tuple[int, int, list[int]] | None:
    window = f.window_seconds * 1_000_000
    found = []
    for anchor in rows:
        if not anchor.in_range or not anchor.steps:
            continue
        keys: list[int] = []
        for k in range(1, len(f.steps) + 1):
            hits = [_key(r) for r in rows if r.t >= anchor.t and k in r.steps]
            if not hits or min(hits) // 128 > anchor.t + window:
                break
            keys.append(min(hits))
        if keys:
            found.append((len(keys), _key(anchor), keys))
    return max(found) if found else None


@dataclass(frozen=True)
class Attempt:
    """A person's chosen attempt: furthest step, start (UTC microseconds), per step time and value index."""

    level: int
    start: int
    times: list[int]
    values: list[int]


def person_results(events: Resolved, f: Funnel) -> tuple[dict[str, Attempt], list[str]]:
    """Per person who entered, their chosen attempt; and the breakdown's top values."""
    top = top_values(events, f) if f.breakdown else []
    out = {}
    for person, rows in sequences(events, f, top).items():
        found = _unordered(rows, f) if f.order == "unordered" else _ordered(rows, f)
        if found:
            level, start, keys = found
            out[person] = Attempt(level, start // 128, [k // 128 for k in keys], [k % 128 for k in keys])
    return out, top


def _durations(r: Attempt) -> dict[int, int]:
    """Step k -> microseconds from when steps 1..k-1 were done to when steps 1..k were."""
    return {k: max(r.times[:k]) - max(r.times[: k - 1]) for k in range(2, r.level + 1)}


def steps_of(results: list[Attempt], n: int) -> list[dict[str, Any]]:
    """The result's `steps` for a group of persons' results."""
    counts = [sum(1 for r in results if r.level >= k) for k in range(1, n + 1)]
    out = []
    for k in range(1, n + 1):
        durations = [_durations(r)[k] / 1e6 for r in results if r.level >= k] if k > 1 else []
        out.append(
            {
                "count": counts[k - 1],
                "conversion_from_first": counts[k - 1] / counts[0] if counts[0] else None,
                "conversion_from_previous": (counts[k - 1] / counts[max(k - 2, 0)]) if counts[max(k - 2, 0)] else None,
                "median_seconds_to_convert": percentile(durations, 0.5) if durations else None,
                "mean_seconds_to_convert": sum(durations) / len(durations) if durations else None,
            }
        )
    return out


def funnel(events: Resolved, f: Funnel) -> dict[str, Any]:
    """`{"steps", "breakdowns"}` like the engine's result (breakdowns as value -> steps)."""
    per_person, top = person_results(events, f)
    results = list(per_person.values())
    n = len(f.steps)
    out: dict[str, Any] = {"steps": steps_of(results, n)}
    if f.breakdown:
        groups: dict[str | None, list[Attempt]] = defaultdict(list)
        for r in results:
            if f.attribution == "first_touch":
                index = r.values[0]
            elif f.attribution == "last_touch":
                index = r.values[r.level - 1]
            else:
                index = r.values[f.attribution_step - 1] if r.level >= f.attribution_step else 0
            name = None if index == 0 else (top[index - 1] if index <= len(top) else "$other")
            groups[name].append(r)
        out["breakdowns"] = {k: steps_of(v, n) for k, v in groups.items()}
    return out


def over_time(events: Resolved, f: Funnel, interval: str, week_start: str = "monday") -> dict[str, tuple[int, int]]:
    """Entry period (local, of the chosen attempt's start) -> (entered, converted)."""
    zone = zoneinfo.ZoneInfo(f.timezone)
    per_person, _ = person_results(events, f)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in per_person.values():
        local = (_EPOCH + dt.timedelta(microseconds=r.start)).astimezone(zone).date()
        key = period_start(local, interval, week_start).isoformat()  # type: ignore[arg-type]
        out[key][0] += 1
        out[key][1] += r.level == len(f.steps)
    return {k: (v[0], v[1]) for k, v in out.items()}


def persons(events: Resolved, f: Funnel, step: int, status: str) -> list[tuple[str, int]]:
    """(person, furthest step) of the persons who reached `step` (converted) or stopped just before it."""
    per_person, _ = person_results(events, f)
    keep = [
        (p, r.level)
        for p, r in per_person.items()
        if (r.level >= step if status == "converted" else r.level == step - 1)
    ]
    return sorted(keep)
