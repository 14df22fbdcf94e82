"""The tags console page: every tag with its persons per value; for operators, manual tags from a CSV, rule tags
(create, edit, preview, recompute, delete); thin over `users.tags` and `users.operations.save_tag_rule`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from opsloop.accounts.roles import Role
from opsloop.dashboards.kpi_settings import load_kpi_config
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.operations import save_tag_rule
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.tag_rules import TagRule
from opsloop.users.tags import TagImport, TagMissing
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, _localtime, render

router = console_router()

MAX_CSV_BYTES = 5 * 1024 * 1024
VALUES_SHOWN = 12
AGGREGATES = {
    "count": N_("Count of events"),
    "sum": N_("Sum of a property"),
    "most_frequent": N_("Most frequent value"),
}
DONE = {"saved": N_("Rule tag saved and computed."), "computed": N_("Tag recomputed."), "deleted": N_("Tag deleted.")}


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "rule"
    return f"{where}: {str(first.get('msg', 'invalid value')).removeprefix('Value error, ')}"


def _rule_form(tag: str, rule: TagRule) -> dict[str, Any]:
    """The rule form's values for an existing rule."""
    return {
        "tag": tag,
        "event": rule.event,
        "aggregate": rule.aggregate,
        "property": rule.property or "",
        "within_days": str(rule.within_days),
        "mode": "quantiles" if rule.quantiles else "thresholds",
        "thresholds": "\n".join(f"{t.value}: {t.min:g}" for t in rule.thresholds),
        "quantiles": "\n".join(rule.quantiles),
        "filters": orjson.dumps([f.model_dump(mode="json") for f in rule.filters]).decode() if rule.filters else "",
    }


def _presets(event: str, amount: str) -> dict[str, dict[str, Any]]:
    """Ready-made rules: value tier by 90-day revenue, favourite category by viewed items."""
    return {
        "value_tier": _rule_form(
            "value_tier",
            TagRule.model_validate(
                {
                    "event": event,
                    "aggregate": "sum",
                    "property": amount,
                    "within_days": 90,
                    "thresholds": [
                        {"value": "high", "min": 500},
                        {"value": "mid", "min": 100},
                        {"value": "low", "min": 0},
                    ],
                }
            ),
        ),
        "favourite_category": _rule_form(
            "favourite_category",
            TagRule(event="view_item", aggregate="most_frequent", property="category", within_days=90),
        ),
    }


async def _tags_page(
    request: Request,
    access: ProjectAccess,
    *,
    error: str | None = None,
    status: int = 200,
    rule_form: dict[str, Any] | None = None,
    preview: dict[str, Any] | None = None,
    imported: TagImport | None = None,
) -> Response:
    runtime = runtime_of(request)
    pid = access.project.id
    infos = await run_in_threadpool(runtime.segments.tags.listing, pid)
    if rule_form is None:
        edit = request.query_params.get("edit", "")
        preset = request.query_params.get("preset", "")
        rules = {i.tag: i.rule for i in infos if i.rule is not None}
        if edit in rules:
            rule_form = _rule_form(edit, rules[edit])  # type: ignore[arg-type]
        elif preset:
            kpi = await run_in_threadpool(load_kpi_config, runtime.metadata, pid)
            rule_form = _presets(kpi.purchase_event, kpi.revenue_property).get(preset)
    done = request.query_params.get("done", "")
    tz = access.project.timezone
    context = {
        "tags": [
            {
                "info": i,
                "computed": _localtime(dt.datetime.fromisoformat(i.computed_at), tz) if i.computed_at else "",
                "values": sorted(i.values.items(), key=lambda kv: (-kv[1], kv[0]))[:VALUES_SHOWN],
                "more": len(i.values) - VALUES_SHOWN,
            }
            for i in infos
        ],
        "form": rule_form or {"mode": "thresholds", "aggregate": "count", "within_days": "90"},
        "editing": bool(rule_form and rule_form.get("tag") in {i.tag for i in infos if i.kind == "rule"}),
        "aggregates": AGGREGATES,
        "preview": preview,
        "imported": imported,
        "error": error,
        "notice": DONE.get(done),
        "can_edit": access.can(Role.operator),
    }
    return render(request, "console/tags.html", context, status=status)


@router.get("/projects/{project_id}/tags")
async def tags_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Every tag (manual and rule) with its persons per value."""
    return await _tags_page(request, access)


@router.post("/projects/{project_id}/tags/import")
async def import_tags(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Manual tags from an uploaded CSV (or pasted text) `distinct_id,tag[,value]`: good rows stored, bad ones
    listed with their line numbers."""
    form = await request.form()
    upload = form.get("file")
    raw = b""
    if isinstance(upload, UploadFile):
        raw = await upload.read(MAX_CSV_BYTES + 1)
    if not raw.strip():
        raw = _field(form, "csv", MAX_CSV_BYTES + 1).encode()
    if len(raw) > MAX_CSV_BYTES:
        return await _tags_page(request, access, error="file: the CSV is larger than 5 MB; split it", status=400)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return await _tags_page(request, access, error="file: the CSV must be UTF-8 text", status=400)
    if not text.strip():
        return await _tags_page(request, access, error="file: choose a CSV file or paste its rows", status=400)
    result = await run_in_threadpool(runtime_of(request).segments.tags.import_csv, access.project.id, text)
    return await _tags_page(request, access, imported=result, status=200 if result.stored or not result.errors else 400)


def _thresholds(text: str) -> list[dict[str, Any]]:
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        value, sep, minimum = line.rpartition(":")
        try:
            found.append({"value": value.strip(), "min": float(minimum)})
        except ValueError:
            raise ValueError(f"thresholds: line {n}: write `value: minimum`, for example `high: 500`") from None
        if not sep or not value.strip():
            raise ValueError(f"thresholds: line {n}: write `value: minimum`, for example `high: 500`")
    return found


def _rule_from(typed: dict[str, str]) -> TagRule:
    """The rule the form describes, or a ValueError naming the field."""
    raw: dict[str, Any] = {
        "event": typed["event"],
        "aggregate": typed["aggregate"] or "count",
        "property": typed["property"] or None,
    }
    try:
        raw["within_days"] = int(typed["within_days"] or "90")
    except ValueError:
        raise ValueError("within_days: must be a whole number of days") from None
    if raw["aggregate"] != "most_frequent":
        if typed["mode"] == "quantiles":
            raw["quantiles"] = [q.strip() for q in typed["quantiles"].replace(",", "\n").splitlines() if q.strip()]
        else:
            raw["thresholds"] = _thresholds(typed["thresholds"])
    if typed["filters"]:
        try:
            raw["filters"] = orjson.loads(typed["filters"])
        except orjson.JSONDecodeError:
            raise ValueError("filters: not valid JSON") from None
    try:
        return TagRule.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


@router.post("/projects/{project_id}/tags/rule")
async def save_rule(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Preview a rule (`action=preview`: persons per value, nothing stored) or save it and compute it now."""
    form = await request.form()
    fields = ("tag", "event", "aggregate", "property", "within_days", "mode", "thresholds", "quantiles", "filters")
    typed = {k: _field(form, k, 4000).strip() for k in fields}
    runtime = runtime_of(request)
    ctx = runtime.project_context(access.project.id)
    try:
        rule = _rule_from(typed)
        if _field(form, "action", 20) == "preview":
            found = await run_in_threadpool(runtime.segments.tags.preview, ctx, rule)
            counts: dict[str, int] = {}
            for value in found.values():
                counts[value] = counts.get(value, 0) + 1
            preview = {"persons": len(found), "values": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
            return await _tags_page(request, access, rule_form=typed, preview=preview)
        if not typed["tag"]:
            raise ValueError("tag: give the tag a name")
        await run_in_threadpool(save_tag_rule, runtime.segments, access.project.id, typed["tag"], rule)
        await run_in_threadpool(runtime.segments.tags.compute, ctx, typed["tag"])
    except (ValueError, QueryFailed, QueryTimeout) as exc:
        return await _tags_page(request, access, error=str(exc), status=400, rule_form=typed)
    return RedirectResponse(f"/projects/{access.project.id}/tags?done=saved", status_code=303)


@router.post("/projects/{project_id}/tags/compute")
async def compute_tag(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Recompute a rule tag now."""
    form = await request.form()
    runtime = runtime_of(request)
    try:
        await run_in_threadpool(
            runtime.segments.tags.compute, runtime.project_context(access.project.id), _field(form, "tag", 200)
        )
    except TagMissing:
        raise ConsoleError(404, "not_found") from None
    except (QueryFailed, QueryTimeout, SegmentInvalid) as exc:
        return await _tags_page(request, access, error=str(exc), status=400)
    return RedirectResponse(f"/projects/{access.project.id}/tags?done=computed", status_code=303)


@router.post("/projects/{project_id}/tags/delete")
async def delete_tag(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Delete a rule tag with its values, or remove a manual tag from everyone."""
    form = await request.form()
    tag = _field(form, "tag", 200)
    tags = runtime_of(request).segments.tags
    rules = await run_in_threadpool(tags.rules, access.project.id)
    if tag in rules:
        await run_in_threadpool(tags.delete_rule, access.project.id, tag)
    elif not await run_in_threadpool(tags.remove, access.project.id, tag):
        raise ConsoleError(404, "not_found")
    return RedirectResponse(f"/projects/{access.project.id}/tags?done=deleted", status_code=303)
