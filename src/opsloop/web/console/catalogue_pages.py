"""The property catalogue page: events, event properties and person properties with their statistics; display
names, descriptions and hidden flags edited by operators; a refresh that runs in a background thread."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.users.catalogue import KINDS, CatalogueEdit, CatalogueEntryMissing, CatalogueItem
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.catalogue_refresh import refreshes
from opsloop.web.console.rendering import N_, render
from opsloop.web.console.segment_pages import first_error

router = console_router()

KIND_LABELS = {
    "event": N_("Events"),
    "event_property": N_("Event properties"),
    "person_property": N_("Person properties"),
}
TYPE_LABELS = {
    "string": N_("text"),
    "number": N_("number"),
    "boolean": N_("boolean"),
    "datetime": N_("date-time"),
    "object": N_("object"),
}


def _matches(item: CatalogueItem, q: str, hidden: bool) -> bool:
    if item.hidden and not hidden:
        return False
    text = q.lower()
    return not text or text in item.name.lower() or text in item.display_name.lower()


@router.get("/projects/{project_id}/catalogue")
def catalogue_page(
    request: Request,
    access: ProjectAccess = Depends(require_member()),
    kind: str = Query("event", max_length=32),
    q: str = Query("", max_length=200),
    hidden: bool = Query(True),
) -> Response:
    """The catalogue of one kind of entry, filtered by name; never computes it (a refresh reads every event)."""
    runtime = runtime_of(request)
    pid = access.project.id
    kind = kind if kind in KINDS else "event"
    q = q.strip()
    refreshed = runtime.catalogue.refreshed_at(pid)
    items = runtime.catalogue.entries(pid, kind) if refreshed is not None else []  # type: ignore[arg-type]
    counts = {k: 0 for k in KINDS}
    if refreshed is not None:
        for item in runtime.catalogue.entries(pid):
            counts[item.kind] += 1
    state = refreshes(request).state(pid)
    context: dict[str, Any] = {
        "kind": kind,
        "kinds": KIND_LABELS,
        "counts": counts,
        "q": q,
        "show_hidden": hidden,
        "items": [i for i in items if _matches(i, q, hidden)],
        "refreshed_at": refreshed,
        "refresh": state,
        "status_url": f"/projects/{pid}/catalogue/status",
        "type_labels": TYPE_LABELS,
        "notice": request.query_params.get("done") == "saved",
        "next_url": f"/projects/{pid}/catalogue?" + urlencode({"kind": kind, "q": q, "hidden": str(hidden).lower()}),
    }
    return render(request, "console/catalogue.html", context)


@router.get("/projects/{project_id}/catalogue/status")
def refresh_status(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Whether a refresh is running, and how the last one ended (polled by the page)."""
    state = refreshes(request).state(access.project.id)
    body = {
        "running": state.running,
        "entries": state.entries,
        "error": state.error,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/projects/{project_id}/catalogue/refresh")
def start_refresh(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Start recomputing the statistics in the background; the page shows "refreshing…" until it ends."""
    refreshes(request).start(access.project.id)
    return RedirectResponse(f"/projects/{access.project.id}/catalogue", status_code=303)


@router.post("/projects/{project_id}/catalogue/{kind}/edit")
async def edit_entry(
    kind: str, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Change an entry's display name, description or hidden flag (the `name` field names the entry)."""
    if kind not in KINDS:
        raise ConsoleError(404, "not_found")
    form = await request.form()
    name = _field(form, "name", 400)
    change: dict[str, Any] = {}
    if "hidden" in form:
        change["hidden"] = _field(form, "hidden", 8) in ("1", "true", "on")
    for key, limit in (("display_name", 300), ("description", 6000)):
        if key in form:
            change[key] = _field(form, key, limit).strip()
    try:
        edit = CatalogueEdit.model_validate(change)
        await run_in_threadpool(runtime_of(request).catalogue.edit, access.project.id, kind, name, edit)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConsoleError(400, first_error(exc)) from None
    except CatalogueEntryMissing:
        raise ConsoleError(404, "not_found") from None
    back = _field(form, "next", 2000)
    base = f"/projects/{access.project.id}/catalogue"
    target = back if back.startswith(base) and "//" not in back else f"{base}?kind={kind}"
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}done=saved", status_code=303)
