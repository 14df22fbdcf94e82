"""Persons and events pages: search persons, a person's page with its timeline, the live events view."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from opsloop.users.person_search import EventRow, latest_events, person_seen, person_timeline, search_persons
from opsloop.users.persons import find_person
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.home_pages import suggested_names
from opsloop.web.console.rendering import _localtime, gettext_for, render
from opsloop.web.console.stage_pages import STAGE_LABELS

router = console_router()
# Before Settings, so that the administrative entries stay last.

PERSONS_PAGE = 50
TIMELINE_PAGE = 50
LIVE_EVENTS = 50
#: Seconds between two refreshes of the live events view.
LIVE_REFRESH_SECONDS = 5


def _text(value: str, limit: int = 200) -> str:
    return value.strip()[:limit]


@router.get("/projects/{project_id}/persons")
def persons_page(
    request: Request,
    access: ProjectAccess = Depends(require_member()),
    q: str = Query("", max_length=200),
    key: str = Query("", max_length=200),
    value: str = Query("", max_length=500),
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    """Search persons by distinct id (contains) and/or a person property (equals)."""
    q, key, value = _text(q), _text(key), value.strip()[:500]
    matches = search_persons(
        runtime_of(request).store,
        access.project.id,
        distinct_id=q,
        property_key=key,
        property_value=value,
        limit=PERSONS_PAGE + 1,
        offset=(page - 1) * PERSONS_PAGE,
    )
    names = suggested_names(runtime_of(request), access.project.id, "person_property")
    context = {
        "matches": matches[:PERSONS_PAGE],
        "has_next": len(matches) > PERSONS_PAGE,
        "page": page,
        "q": q,
        "key": key,
        "value": value,
        "property_names": names,
        "searched": bool(q or key),
    }
    return render(request, "console/persons.html", context)


def _event_view(row: EventRow, timezone: str) -> dict[str, Any]:
    return {
        "event": row.event,
        "distinct_id": row.distinct_id,
        "time": _localtime(row.timestamp, timezone),
        "properties": orjson.dumps(row.properties, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode(),
        "property_count": len(row.properties),
    }


@router.get("/projects/{project_id}/person")
def person_page(
    request: Request,
    access: ProjectAccess = Depends(require_member()),
    id: str = Query(..., min_length=1, max_length=200),  # noqa: A002 - the distinct id, as in the URL
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    """A person: properties, every distinct id, first and last seen, and the event timeline (newest first)."""
    runtime = runtime_of(request)
    pid = access.project.id
    person = find_person(runtime.metadata, runtime.store, pid, id, limit=1)
    if person is None:
        raise ConsoleError(404, "not_found")
    tz = access.project.timezone
    events = person_timeline(
        runtime.store, pid, person.distinct_ids, limit=TIMELINE_PAGE + 1, offset=(page - 1) * TIMELINE_PAGE
    )
    seen = person_seen(runtime.store, pid, person.distinct_ids)
    stage = runtime.segments.stages.stage_of(runtime.project_context(pid), str(person.id))
    _ = gettext_for(request)
    context = {
        "person": person,
        "distinct_id": id,
        "seen": seen,
        "stage": _(STAGE_LABELS[stage]) if stage else None,
        "tags": runtime.segments.tags.of_person(pid, str(person.id)),
        "first_seen": _localtime(seen.first_seen, tz),
        "last_seen": _localtime(seen.last_seen, tz),
        "created": _localtime(person.created_at, tz),
        "properties": sorted(
            (k, v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in person.properties.items()
        ),
        "events": [_event_view(e, tz) for e in events[:TIMELINE_PAGE]],
        "has_next": len(events) > TIMELINE_PAGE,
        "page": page,
    }
    return render(request, "console/person.html", context)


@router.get("/projects/{project_id}/events")
def events_page(
    request: Request, access: ProjectAccess = Depends(require_member()), event: str = Query("", max_length=200)
) -> Response:
    """The live events view: the latest events, refreshed every few seconds by the page."""
    runtime = runtime_of(request)
    event = _text(event)
    rows = latest_events(runtime.store, access.project.id, event=event, limit=LIVE_EVENTS)
    names = suggested_names(runtime, access.project.id, "event")
    _ = gettext_for(request)
    live = {
        "url": f"/projects/{access.project.id}/events/latest",
        "event": event,
        "seconds": LIVE_REFRESH_SECONDS,
        "person_url": f"/projects/{access.project.id}/person?id=",
        "text": {
            "properties": _("Properties"),
            "updated": _("Updated {time}"),
            "paused": _("Paused"),
            "failed": _("Could not refresh:"),
            "none": _("No events yet."),
        },
    }
    context = {
        "events": [_event_view(e, access.project.timezone) for e in rows],
        "event": event,
        "event_names": names,
        "live": live,
    }
    return render(request, "console/events.html", context)


@router.get("/projects/{project_id}/events/latest")
def latest_events_json(
    request: Request, access: ProjectAccess = Depends(require_member()), event: str = Query("", max_length=200)
) -> Response:
    """The latest events as JSON (times in the project timezone), for the live view."""
    rows = latest_events(runtime_of(request).store, access.project.id, event=_text(event), limit=LIVE_EVENTS)
    return JSONResponse(
        {"events": [_event_view(e, access.project.timezone) for e in rows]}, headers={"Cache-Control": "no-store"}
    )
