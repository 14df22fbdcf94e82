"""A segment's page: its definition in words, size and size history, refresh, member export, static-list upload,
and the portrait (chosen dimensions against all persons, with the lift, and top events) with its CSV."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.operations import segment_portrait
from opsloop.users.portrait import Dimension, Portrait, portrait_csv
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.segments import SegmentInfo
from opsloop.users.static_lists import ListInvalid
from opsloop.web.console.access import ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.home_pages import suggested_names
from opsloop.web.console.rendering import N_, gettext_for, render
from opsloop.web.console.rfm_pages import RFM_LABELS
from opsloop.web.console.segment_pages import KIND_LABELS, first_error, segment_or_404
from opsloop.web.console.segment_summary import STAGE_LABELS, Summary

router = console_router()

#: Largest static list accepted from the upload form.
MAX_LIST_BYTES = 20 * 1024 * 1024
#: Person properties a portrait shows by default, the first present of each row.
DEFAULT_PROPERTIES = (
    ("initial_channel", "channel", "$initial_utm_source", "utm_source"),
    ("country", "$geoip_country_code"),
    ("device_type", "$device_type", "device"),
    ("gender",),
)
DIMENSION_LABELS = {
    "age_band": N_("Age band"),
    "rfm_segment": N_("RFM segment"),
    "lifecycle_stage": N_("Lifecycle stage"),
}
DONE = {
    "saved": N_("Segment saved."),
    "refreshed": N_("Segment refreshed."),
    "uploaded": N_("List uploaded."),
}


def _choices(runtime: Runtime, project_id: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Dimensions a portrait can show (key, label: a name, or a message the template translates) and those
    shown by default."""
    properties = suggested_names(runtime, project_id, "person_property")
    tags = [t.tag for t in runtime.segments.tags.listing(project_id)]
    choices = [(f"person:{p}", p) for p in properties]
    if "birth_year" in properties or "age" in properties:
        choices.append(("age_band", DIMENSION_LABELS["age_band"]))
    choices.append(("lifecycle_stage", DIMENSION_LABELS["lifecycle_stage"]))
    # Offered when the event RFM counts (the project's RFM settings) has been seen.
    if runtime.segments.rfm_settings.settings(project_id).value_event in suggested_names(runtime, project_id, "event"):
        choices.append(("rfm_segment", DIMENSION_LABELS["rfm_segment"]))
    choices += [(f"tag:{t}", t) for t in tags]
    keys = {k for k, _label in choices}
    present = set(properties)
    defaults = [f"person:{next(p for p in row if p in present)}" for row in DEFAULT_PROPERTIES if set(row) & present]
    defaults += [k for k in ("age_band", "rfm_segment", "lifecycle_stage") if k in keys]
    defaults += [f"tag:{t}" for t in tags[:3]]
    return choices, defaults


def _dimension(runtime: Runtime, project_id: int, key: str) -> Dimension:
    """A dimension from its key (`person:country`, `tag:tier`, `age_band`, `rfm_segment`, `lifecycle_stage`)."""
    kind, _sep, name = key.partition(":")
    if kind in ("person", "tag"):
        # The key comes from the query string: validation names what is wrong (`ValidationError`).
        return Dimension.model_validate({"type": kind, "property": name})
    if kind == "age_band":
        properties = suggested_names(runtime, project_id, "person_property")
        birth_year = "birth_year" in properties or "age" not in properties
        source: Literal["birth_year", "age"] = "birth_year" if birth_year else "age"
        return Dimension(type="age_band", property=source, age_source=source)
    if kind == "rfm_segment":
        # No `rfm`: `segment_portrait` computes it with the project's RFM settings (event, amount, days, map).
        return Dimension(type="rfm_segment")
    return Dimension.model_validate({"type": kind})


def _portrait(runtime: Runtime, project_id: int, segment_id: int, keys: list[str]) -> Portrait:
    dimensions = [_dimension(runtime, project_id, k) for k in keys]
    return segment_portrait(runtime.segments, runtime.project_context(project_id), dimensions, segment_id=segment_id)


def _chosen(request: Request, defaults: list[str]) -> list[str]:
    picked = [k[:300] for k in request.query_params.getlist("dim") if k][:20]
    return picked or defaults


async def _page(
    request: Request,
    access: ProjectAccess,
    segment: SegmentInfo,
    *,
    error: str | None = None,
    list_errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    runtime = runtime_of(request)
    pid = access.project.id
    history = await run_in_threadpool(runtime.segments.history, pid, segment.id)
    choices, defaults = await run_in_threadpool(_choices, runtime, pid)
    chosen = _chosen(request, defaults)
    result, portrait_error = None, None
    try:
        result = await run_in_threadpool(_portrait, runtime, pid, segment.id, chosen)
    except ValidationError as exc:
        portrait_error = first_error(exc)
    except (SegmentInvalid, ValueError, QueryFailed, QueryTimeout) as exc:
        portrait_error = str(exc)
    names = {s.id: s.name for s in await run_in_threadpool(runtime.segments.saved, pid)}
    summary = Summary(gettext_for(request), names).group(segment.definition) if segment.definition else None
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "segment": segment,
        "summary": summary,
        "kind_labels": KIND_LABELS,
        "history": {"x": [p.computed_at.isoformat() for p in history], "y": [p.size for p in history]},
        "portrait": result,
        "portrait_error": portrait_error,
        "choices": choices,
        "chosen": chosen,
        "dimension_labels": dict(choices),
        "stage_labels": STAGE_LABELS,
        "rfm_labels": RFM_LABELS,
        "not_set": N_("(not set)"),
        "query": urlencode([("dim", k) for k in chosen]),
        "error": error,
        "list_errors": list_errors or [],
        "notice": DONE.get(done),
    }
    return render(request, "console/segment.html", context, status=status)


@router.get("/projects/{project_id}/segments/{segment_id}")
async def segment_page(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """A segment: its definition, size and history, and its portrait."""
    segment = segment_or_404(runtime_of(request), access.project.id, segment_id)
    return await _page(request, access, segment)


@router.get("/projects/{project_id}/segments/{segment_id}/portrait.csv")
async def portrait_export(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """The portrait as CSV (one line per dimension value, then one per top event)."""
    runtime = runtime_of(request)
    segment_or_404(runtime, access.project.id, segment_id)
    _choices_, defaults = await run_in_threadpool(_choices, runtime, access.project.id)
    try:
        result = await run_in_threadpool(_portrait, runtime, access.project.id, segment_id, _chosen(request, defaults))
    except ValidationError as exc:
        return PlainTextResponse(first_error(exc), status_code=400)
    except (SegmentInvalid, ValueError, QueryFailed, QueryTimeout) as exc:
        return PlainTextResponse(str(exc), status_code=400)
    headers = {"Content-Disposition": f'attachment; filename="segment-{segment_id}-portrait.csv"'}
    return PlainTextResponse(portrait_csv(result), media_type="text/csv", headers=headers)


@router.get("/projects/{project_id}/segments/{segment_id}/members.csv")
async def members_export(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """The members at the last refresh as CSV (`person_id,distinct_ids`; refreshed first if never)."""
    runtime = runtime_of(request)
    segment_or_404(runtime, access.project.id, segment_id)
    ctx = runtime.project_context(access.project.id)
    text = await run_in_threadpool(runtime.segments.export_csv, ctx, segment_id)
    headers = {"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'}
    return PlainTextResponse(text, media_type="text/csv", headers=headers)


@router.post("/projects/{project_id}/segments/{segment_id}/refresh")
async def refresh_segment(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Materialise the membership now and add its size to the history."""
    runtime = runtime_of(request)
    segment = segment_or_404(runtime, access.project.id, segment_id)
    try:
        await run_in_threadpool(runtime.segments.refresh, runtime.project_context(access.project.id), segment_id)
    except (SegmentInvalid, QueryFailed, QueryTimeout) as exc:
        return await _page(request, access, segment, error=str(exc), status=400)
    return RedirectResponse(f"/projects/{access.project.id}/segments/{segment_id}?done=refreshed", status_code=303)


@router.post("/projects/{project_id}/segments/{segment_id}/upload")
async def upload_list(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Replace (or add to) a static segment's ids from a CSV file; malformed rows are listed by line."""
    runtime = runtime_of(request)
    segment = segment_or_404(runtime, access.project.id, segment_id)
    form = await request.form()
    upload = form.get("file")
    data = await upload.read(MAX_LIST_BYTES + 1) if upload is not None and not isinstance(upload, str) else b""
    problem, errors = None, None
    if not data:
        problem = "file: choose a CSV file"
    elif len(data) > MAX_LIST_BYTES:
        problem = f"file: larger than {MAX_LIST_BYTES // (1024 * 1024)} MiB"
    else:
        try:
            text = data.decode("utf-8")
            replace = form.get("mode") != "add"
            await run_in_threadpool(runtime.segments.import_list, access.project.id, segment_id, text, replace=replace)
        except UnicodeDecodeError:
            problem = "file: the CSV must be UTF-8 text"
        except ListInvalid as exc:
            problem, errors = str(exc).split(":", 1)[0], exc.errors
        except SegmentInvalid as exc:
            problem = str(exc)
    if problem:
        return await _page(request, access, segment, error=problem, list_errors=errors, status=400)
    return RedirectResponse(f"/projects/{access.project.id}/segments/{segment_id}?done=uploaded", status_code=303)


@router.post("/projects/{project_id}/segments/{segment_id}/delete")
async def delete_segment(
    segment_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Delete a segment that no other segment refers to."""
    runtime = runtime_of(request)
    segment = segment_or_404(runtime, access.project.id, segment_id)
    try:
        await run_in_threadpool(runtime.segments.delete, access.project.id, segment_id)
    except SegmentInvalid as exc:
        return await _page(request, access, segment, error=str(exc), status=400)
    return RedirectResponse(f"/projects/{access.project.id}/segments", status_code=303)
