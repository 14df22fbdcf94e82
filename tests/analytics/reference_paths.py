"""Paths in plain Python, straight from the words of docs/metrics.md, to check the engines against."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

Resolved = tuple[str, str, dt.datetime, dict[str, Any]]


def person_paths(
    events: Iterable[Resolved],
    *,
    date_from: dt.date,
    date_to: dt.date,
    timezone: str = "UTC",
    start_event: str | None = None,
    end_event: str | None = None,
    steps: int = 5,
    include_events: Sequence[str] | None = None,
    exclude_events: Sequence[str] = (),
    collapse_repeats: bool = True,
) -> dict[str, list[tuple[int, str]]]:
    """Each person's path as `[(step, event), ...]`; persons without one are absent."""
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    by_person: dict[str, list[tuple[dt.datetime, str]]] = {}
    for person, event, at, _ in events:
        if not start <= at < end:
            continue
        if include_events is not None and event not in include_events:
            continue
        if event in exclude_events:
            continue
        by_person.setdefault(person, []).append((at, event))
    out: dict[str, list[tuple[int, str]]] = {}
    for person, rows in by_person.items():
        sequence = [event for _, event in sorted(rows)]  # same instant: by event name
        if collapse_repeats:
            sequence = [e for i, e in enumerate(sequence) if i == 0 or sequence[i - 1] != e]
        if end_event is not None:
            if end_event not in sequence:
                continue
            last = sequence.index(end_event)
            part = sequence[max(0, last - steps + 1) : last + 1]
            out[person] = [(steps - len(part) + 1 + i, e) for i, e in enumerate(part)]
        else:
            first = 0
            if start_event is not None:
                if start_event not in sequence:
                    continue
                first = sequence.index(start_event)
            part = sequence[first : first + steps]
            out[person] = [(1 + i, e) for i, e in enumerate(part)]
    return out


def paths(events: Iterable[Resolved], *, limit: int = 50, **options: Any) -> dict[str, Any]:
    """The paths result (as `PathsResult.model_dump()` gives it) for the same options as the query."""
    found = person_paths(events, **options)
    steps: int = options.get("steps", 5)
    nodes: Counter[tuple[int, str]] = Counter()
    links: Counter[tuple[int, str, str]] = Counter()
    for path in found.values():
        nodes.update(path)
        for (k, a), (_, b) in zip(path, path[1:], strict=False):
            links[(k, a, b)] += 1
    top = sorted(links.items(), key=lambda item: (-item[1], item[0]))[:limit]
    touched: set[tuple[int, str]] = set()
    for (k, a, b), _ in top:
        touched |= {(k, a), (k + 1, b)}
    # A path stops short where it has no next event (or, traced back from the end event, no earlier one).
    if options.get("end_event") is not None:
        first_steps = Counter(path[0][0] for path in found.values())
        dropoffs = [{"step": k, "persons": first_steps[k]} for k in range(2, steps + 1)]
    else:
        last_steps = Counter(path[-1][0] for path in found.values())
        dropoffs = [{"step": k, "persons": last_steps[k]} for k in range(1, steps)]
    return {
        "nodes": [
            {"name": f"{k}_{e}", "step": k, "event": e, "persons": nodes[(k, e)]}
            for k, e in sorted(touched, key=lambda n: (n[0], -nodes[n], n[1]))
        ],
        "links": [{"source": f"{k}_{a}", "target": f"{k + 1}_{b}", "persons": n} for (k, a, b), n in top],
        "dropoffs": dropoffs,
        "persons": len(found),
    }
