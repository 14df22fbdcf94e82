"""Segment console pages: the list of segments, the editor of a definition tree (new and edit) and the live
size the editor asks for; thin shells over `runtime.segments` (the segment page itself is in
`segment_detail_pages`)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.dashboards.kpi_settings import load_kpi_config
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.definitions import Group
from opsloop.users.lifecycle import STAGES
from opsloop.users.rfm import STANDARD_MAP
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.segments import SegmentInfo, SegmentInput, SegmentMissing
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.catalogue_refresh import refreshes
from opsloop.web.console.home_pages import suggested_names
from opsloop.web.console.insight_pages import INLINE_CATALOGUE_EVENTS
from opsloop.web.console.rendering import N_, gettext_for, render
from opsloop.web.console.rfm_pages import RFM_LABELS
from opsloop.web.console.segment_summary import STAGE_LABELS

router = console_router()

KIND_LABELS = {"dynamic": N_("Dynamic"), "static": N_("Static list")}
#: Largest definition (JSON text) the editor posts.
MAX_DEFINITION_CHARS = 100_000


def first_error(exc: ValidationError) -> str:
    """The first validation error as `field.path: message`."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "definition"
    return f"{where}: {str(first.get('msg', 'invalid value')).removeprefix('Value error, ')}"


def segment_or_404(runtime: Runtime, project_id: int, segment_id: int) -> SegmentInfo:
    """The project's segment, or the console's not-found page (another project's id included)."""
    try:
        return runtime.segments.get(project_id, segment_id)
    except SegmentMissing:
        raise ConsoleError(404, "not_found") from None


def size_sparks(runtime: Runtime, project_id: int, segments: list[SegmentInfo]) -> dict[str, Any]:
    """Each segment's size history as `{id: {x, y}}` for the sparklines."""
    sparks: dict[str, Any] = {}
    for info in segments:
        points = runtime.segments.history(project_id, info.id)
        sparks[str(info.id)] = {"x": [p.computed_at.isoformat() for p in points], "y": [p.size for p in points]}
    return sparks


@router.get("/projects/{project_id}/segments")
async def segments_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The segments: name, kind, size, last refreshed and the size history; "New segment" for operators."""
    runtime = runtime_of(request)
    segments = await run_in_threadpool(runtime.segments.saved, access.project.id)
    sparks = await run_in_threadpool(size_sparks, runtime, access.project.id, segments)
    context = {"segments": segments, "sparks": sparks, "kind_labels": KIND_LABELS}
    return render(request, "console/segments.html", context)


def _editor_data(request: Request, access: ProjectAccess, segment_id: int | None) -> dict[str, Any]:
    """What the editor's script needs: names to offer with their types, other segments, texts, the size URL."""
    runtime = runtime_of(request)
    pid = access.project.id
    _ = gettext_for(request)
    types: dict[str, dict[str, str]] = {"event_property": {}, "person_property": {}}
    # Every name the server will accept (hidden ones too: hiding is for menus), for the editor's own checks.
    known: dict[str, list[str]] = {"event": [], "event_property": [], "person_property": []}
    if runtime.catalogue.refreshed_at(pid) is not None:
        for entry in runtime.catalogue.entries(pid):
            if entry.present:
                known[entry.kind].append(entry.name)
            if entry.kind in types and entry.type and entry.present:
                types[entry.kind][entry.name] = entry.type
    kpis = load_kpi_config(runtime.metadata, pid)
    others = [{"id": s.id, "name": s.name} for s in runtime.segments.saved(pid) if s.id != segment_id]
    return {
        "size_url": f"/projects/{pid}/segments/size",
        "events": suggested_names(runtime, pid, "event"),
        "event_properties": suggested_names(runtime, pid, "event_property"),
        "person_properties": suggested_names(runtime, pid, "person_property"),
        "known": known,
        "event_types": types["event_property"],
        "person_types": types["person_property"],
        "tags": [t.tag for t in runtime.segments.tags.listing(pid)],
        "segments": others,
        "stages": [{"value": s, "label": _(STAGE_LABELS[s])} for s in STAGES],
        "rfm_segments": [[rule.name, _(RFM_LABELS[rule.name])] for rule in STANDARD_MAP],
        "catalogue_ready": runtime.catalogue.refreshed_at(pid) is not None,
        "purchase_event": kpis.purchase_event,
        "revenue_property": kpis.revenue_property,
        "text": {key: _(text) for key, text in EDITOR_TEXT.items()},
    }


CATALOGUE_PENDING = N_(
    "The property catalogue is being computed (names are checked against it): the size follows, and the segment "
    "can be saved, in a minute or two."
)
#: Texts of the editor's script, translated on the page.
EDITOR_TEXT = {
    "and": N_("All of these (AND)"),
    "or": N_("Any of these (OR)"),
    "not": N_("Not (the group must not hold)"),
    "add": N_("Add condition"),
    "add_group": N_("Add group"),
    "remove": N_("Remove"),
    "condition_type": N_("Condition type"),
    "event": N_("Did an event"),
    "person": N_("Person property"),
    "age": N_("Age band"),
    "first_seen": N_("First seen"),
    "last_seen": N_("Last seen"),
    "segment": N_("Member of segment"),
    "tag": N_("Tag value"),
    "lifecycle_stage": N_("Lifecycle stage"),
    "rfm_segment": N_("RFM segment"),
    "did": N_("did"),
    "did_not": N_("did not do"),
    "event_name": N_("Event name"),
    "gte": N_("at least"),
    "lte": N_("at most"),
    "eq_times": N_("exactly"),
    "times": N_("times"),
    "count": N_("Number of times"),
    "all_time": N_("at any time"),
    "last_days": N_("in the last N days"),
    "between_dates": N_("between dates"),
    "window": N_("When"),
    "days": N_("Days"),
    "date_from": N_("From date"),
    "date_to": N_("To date"),
    "add_filter": N_("Add event-property filter"),
    "where": N_("where"),
    "property": N_("Property"),
    "operator": N_("Comparison"),
    "value": N_("Value"),
    "low": N_("From"),
    "high": N_("To"),
    "op_eq": N_("equals"),
    "op_neq": N_("does not equal"),
    "op_in": N_("is one of (comma separated)"),
    "op_contains": N_("contains"),
    "op_gt": N_("greater than"),
    "op_gte": N_("at least"),
    "op_lt": N_("less than"),
    "op_lte": N_("at most"),
    "op_between": N_("between"),
    "op_is_set": N_("is set"),
    "op_is_not_set": N_("is not set"),
    "age_source": N_("The property holds"),
    "birth_year": N_("a birth year"),
    "age_value": N_("an age"),
    "min_age": N_("Youngest"),
    "max_age": N_("Oldest"),
    "member": N_("is a member of"),
    "not_member": N_("is not a member of"),
    "no_segments": N_("There is no other segment yet."),
    "tag_name": N_("Tag"),
    "stages": N_("Stages"),
    "value_event": N_("Purchase event"),
    "amount_property": N_("Revenue property"),
    "lookback": N_("Look-back days"),
    "rfm_names": N_("RFM segments"),
    "rfm_cells": N_("or cells (R,F; R,F)"),
    "size": N_("%(count)s persons match now"),
    "computing": N_("Counting…"),
    "incomplete": N_("Fill in every condition to see the size."),
    "unknown_event": N_("Unknown event: %(name)s"),
    "unknown_property": N_("Unknown property: %(name)s"),
    "unknown_tag": N_("Unknown tag: %(name)s"),
    "size_failed": N_("Could not count:"),
}


def _editor(
    request: Request,
    access: ProjectAccess,
    segment: SegmentInfo | None,
    values: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    editor = _editor_data(request, access, segment.id if segment else None)
    context = {"segment": segment, "values": values, "editor": editor, "error": error, "kind_labels": KIND_LABELS}
    return render(request, "console/segment_editor.html", context, status=status)


def _definition_text(segment: SegmentInfo | None) -> str:
    if segment is None or segment.definition is None:
        return ""
    return orjson.dumps(segment.definition.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()


@router.get("/projects/{project_id}/segments/new")
async def new_segment_page(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """The editor for a new segment."""
    values = {"name": "", "description": "", "kind": "dynamic", "definition": ""}
    return await run_in_threadpool(_editor, request, access, None, values)


@router.get("/projects/{project_id}/segments/{segment_id}/edit")
async def edit_segment_page(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """The editor of a saved segment."""
    segment = segment_or_404(runtime_of(request), access.project.id, segment_id)
    values = {
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "definition": _definition_text(segment),
    }
    return await run_in_threadpool(_editor, request, access, segment, values)


def _posted(form: Any, kind: str | None) -> tuple[dict[str, Any], dict[str, Any] | str]:
    """The form's values as typed, and the segment input they make (or the first problem, as text)."""
    values = {
        "name": _field(form, "name", 300),
        "description": _field(form, "description", 6000),
        "kind": kind or _field(form, "kind", 16) or "dynamic",
        "definition": _field(form, "definition", MAX_DEFINITION_CHARS + 1),
    }
    raw: dict[str, Any] = {"name": values["name"], "description": values["description"], "kind": values["kind"]}
    if values["kind"] == "dynamic":
        text = values["definition"].strip()
        if not text:
            return values, "definition: add at least one condition"
        if len(text) > MAX_DEFINITION_CHARS:
            return values, f"definition: longer than {MAX_DEFINITION_CHARS} characters"
        try:
            raw["definition"] = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return values, f"definition: not valid JSON ({exc})"
    return values, raw


def catalogue_pending(request: Request, project_id: int) -> str | None:
    """On a large project whose catalogue was never computed: start computing it in the background and say so
    (names are checked against it, and its first computation reads every event: a minute on a large project)."""
    runtime = runtime_of(request)
    if runtime.catalogue.refreshed_at(project_id) is not None:
        return None
    if runtime.store.count_events(project_id) <= INLINE_CATALOGUE_EVENTS:
        return None  # small: the check computes it in a moment
    refreshes(request).start(project_id)
    _ = gettext_for(request)
    return str(_(CATALOGUE_PENDING))


async def _save(request: Request, access: ProjectAccess, segment: SegmentInfo | None) -> Response:
    runtime = runtime_of(request)
    form = await request.form()
    values, raw = _posted(form, segment.kind if segment else None)
    error: str | None = raw if isinstance(raw, str) else None
    if error is None and values["kind"] == "dynamic":
        error = await run_in_threadpool(catalogue_pending, request, access.project.id)
    if error is None:
        try:
            new = SegmentInput.model_validate(raw)
            if segment is None:
                saved = await run_in_threadpool(runtime.segments.create, access.project.id, new)
            else:
                saved = await run_in_threadpool(runtime.segments.update, access.project.id, segment.id, new)
        except ValidationError as exc:
            error = first_error(exc)
        except SegmentInvalid as exc:
            error = str(exc)
        except (QueryFailed, QueryTimeout) as exc:
            error = f"definition: {exc}"
        else:
            return RedirectResponse(f"/projects/{access.project.id}/segments/{saved.id}?done=saved", status_code=303)
    return await run_in_threadpool(_editor, request, access, segment, values, error=error, status=400)


@router.post("/projects/{project_id}/segments")
async def create_segment(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Save a new segment; a bad definition comes back to the editor with the reason, as typed."""
    return await _save(request, access, None)


@router.post("/projects/{project_id}/segments/size")
async def live_size(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The live size of an unsaved definition (the JSON body); `{"detail"}` with 400 when it cannot be counted."""
    runtime = runtime_of(request)
    body = await request.body()
    if len(body) > MAX_DEFINITION_CHARS:
        return JSONResponse({"detail": "definition: too long"}, status_code=400)
    pid = access.project.id
    pending = await run_in_threadpool(catalogue_pending, request, pid)
    if pending:  # the editor asks again a little later, rather than this request waiting a minute
        return JSONResponse({"detail": pending, "retry": True}, status_code=409)
    try:
        definition = Group.model_validate(orjson.loads(body))
        ctx = runtime.project_context(pid)
        size = await run_in_threadpool(runtime.segments.size_of, ctx, definition)
    except orjson.JSONDecodeError as exc:
        return JSONResponse({"detail": f"definition: not valid JSON ({exc})"}, status_code=400)
    except ValidationError as exc:
        return JSONResponse({"detail": first_error(exc)}, status_code=400)
    except SegmentInvalid as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except QueryTimeout as exc:
        return JSONResponse({"detail": str(exc)}, status_code=408)
    except QueryFailed as exc:
        return JSONResponse({"detail": f"the query failed: {exc}"}, status_code=400)
    return JSONResponse({"size": size}, headers={"Cache-Control": "no-store"})


@router.post("/projects/{project_id}/segments/{segment_id}/edit")
async def update_segment(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Save a segment's new name, description and definition (a cycle of segments is refused)."""
    segment = segment_or_404(runtime_of(request), access.project.id, segment_id)
    return await _save(request, access, segment)
