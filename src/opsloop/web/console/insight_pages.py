"""Insight pages: build a query with a GET form, run it, show chart, table, CSV, shareable link; save it.

Thin shells over the query registry (`execute_query`), the shareable codes (`opsloop.dashboards.sharing`),
saved insights (`InsightService`) and the property catalogue. Viewers build and run; operators save.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from opsloop.accounts.roles import Role
from opsloop.analytics.tables import SqlResult, TableResult
from opsloop.dashboards.insights import InsightService, InvalidInput, NotFound
from opsloop.dashboards.sharing import ShareCodeInvalid, decode_query, encode_query
from opsloop.query.export import result_csv
from opsloop.query.registry import QueryInvalid, execute_query, parse_query
from opsloop.query.sql import SqlRejected
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.catalogue import event_volumes
from opsloop.web.console import insight_forms as forms
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.insight_charts import chart_of
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()

#: A project with at most this many events gets its catalogue computed by the first page that needs it.
INLINE_CATALOGUE_EVENTS = 200_000
#: Rows shown under the chart (the CSV has them all).
MAX_TABLE_ROWS = 500


@dataclass(frozen=True)
class Offered:
    """What the form offers: the project's visible event and property names (most used events first)."""

    events: list[str] = field(default_factory=list)
    event_properties: list[str] = field(default_factory=list)
    person_properties: list[str] = field(default_factory=list)
    types: dict[tuple[str, str], str] = field(default_factory=dict)
    #: False until the property catalogue has been computed (then no property names are offered yet).
    catalogue_ready: bool = True


def offered_names(runtime: Runtime, project_id: int) -> Offered:
    """The names the form offers: event names live (a new event shows at once), properties from the catalogue
    as last computed; entries hidden in the catalogue are left out.

    The catalogue's property statistics read every event (about a minute for two million events), so a page
    never waits for them, except the first time on a small project; larger ones are refreshed from the
    catalogue API or `opsloop catalogue refresh`."""
    catalogue = runtime.catalogue
    volumes = event_volumes(runtime.store, project_id, timeout=runtime.settings.query_timeout_seconds)
    if catalogue.refreshed_at(project_id) is None and sum(volumes.values()) <= INLINE_CATALOGUE_EVENTS:
        catalogue.refresh(project_id)
    entries = catalogue.entries(project_id) if catalogue.refreshed_at(project_id) is not None else []
    hidden = {e.name for e in entries if e.kind == "event" and e.hidden}
    present = [e for e in entries if e.present and not e.hidden]
    # Most used first, the automatic `$` events (pageviews, identify...) after the product's own.
    events = sorted((n for n in volumes if n not in hidden), key=lambda n: (n.startswith("$"), -volumes[n], n))
    return Offered(
        events=events,
        event_properties=[e.name for e in present if e.kind == "event_property"],
        person_properties=[e.name for e in present if e.kind == "person_property"],
        types={
            ("event" if e.kind == "event_property" else "person", e.name): e.type or "string"
            for e in present
            if e.kind != "event"
        },
        catalogue_ready=bool(entries),
    )


def _cell(value: Any) -> Any:
    """A table cell: floats rounded for reading (the CSV keeps every digit)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 4)
    if isinstance(value, list | dict):
        return str(value)
    return value


def _table(result: TableResult, gettext: Any) -> dict[str, Any]:
    """The result's tidy rows for the page: columns (name and translated header), cells, and the row count."""
    rows = result.rows()
    names = list(result.columns) if isinstance(result, SqlResult) else list(rows[0]) if rows else []
    labels = {} if isinstance(result, SqlResult) else forms.COLUMN_LABELS
    columns = [{"name": c, "label": gettext(labels[c]) if c in labels else c} for c in names]
    shown = [[_cell(row.get(c)) for c in names] for row in rows[:MAX_TABLE_ROWS]]
    return {"columns": columns, "rows": shown, "total": len(rows)}


def _run(runtime: Runtime, project_id: int, model: BaseModel) -> TableResult:
    return execute_query(runtime.store, runtime.project_context(project_id), model, runtime.settings)


def kind_of_model(model: BaseModel) -> str:
    """The `kind` of a validated query model."""
    return str(getattr(model, "kind", ""))


def _kind_of(kind: str) -> forms.InsightKind:
    if kind not in forms.INSIGHT_KINDS:
        raise ConsoleError(404, "not_found")
    return forms.INSIGHT_KINDS[kind]


def _query_for(
    request: Request, kind: str, runtime: Runtime, project_id: int, offered: Offered
) -> tuple[dict[str, Any] | None, BaseModel | None, str | None]:
    """The page's query (as a dict for the form), its validated model, and an error naming the field."""
    params = forms.Params(request.query_params.multi_items())
    today = runtime.project_context(project_id).local_today()
    raw: dict[str, Any] | None
    if params.get("q"):
        try:
            model = decode_query(params.get("q"))
        except ShareCodeInvalid as exc:
            return forms.default_query(kind, offered.events), None, str(exc)
        return {"kind": kind_of_model(model), **model.model_dump(mode="json")}, model, None
    if params.get("run"):
        raw = forms.query_from_params(kind, params, today, offered.types)
    else:
        raw = forms.default_query(kind, offered.events)
    if raw is None:
        return None, None, None
    try:
        return raw, parse_query(raw), None
    except QueryInvalid as exc:
        return raw, None, str(exc)


_SAVED_NOTICES = {"renamed": N_("Insight renamed."), "deleted": N_("Insight deleted.")}


def _index_page(request: Request, access: ProjectAccess, *, error: str | None = None, status: int = 200) -> Response:
    saved = InsightService(runtime_of(request).metadata).list(access.project.id)
    done = request.query_params.get("done", "")
    notice = gettext_for(request)(_SAVED_NOTICES[done]) if done in _SAVED_NOTICES else None
    context = {"kinds": list(forms.INSIGHT_KINDS.values()), "saved": saved, "notice": notice, "error": error}
    return render(request, "console/insights.html", context, status=status)


@router.get("/projects/{project_id}/insights")
def insights_index(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Every insight kind, and the project's saved insights."""
    return _index_page(request, access)


@router.post("/projects/{project_id}/insights/saved/{insight_id}/rename")
async def rename_insight(
    insight_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Give a saved insight a new name (its dashboards' tiles show the new one)."""
    form = await request.form()
    service = InsightService(runtime_of(request).metadata)
    try:
        service.rename(access.project.id, insight_id, _field(form, "name", 300))
    except NotFound:
        raise ConsoleError(404, "not_found") from None
    except InvalidInput as exc:
        return _index_page(request, access, error=str(exc), status=400)
    return RedirectResponse(f"/projects/{access.project.id}/insights?done=renamed", status_code=303)


@router.post("/projects/{project_id}/insights/saved/{insight_id}/delete")
def delete_insight(
    insight_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Delete a saved insight; its tiles leave every dashboard with it."""
    try:
        InsightService(runtime_of(request).metadata).delete(access.project.id, insight_id)
    except NotFound:
        raise ConsoleError(404, "not_found") from None
    return RedirectResponse(f"/projects/{access.project.id}/insights?done=deleted", status_code=303)


@router.get("/projects/{project_id}/insights/{kind}")
def insight_page(kind: str, request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """An insight page: the form, and the chart and table of the query it describes."""
    info = _kind_of(kind)
    runtime = runtime_of(request)
    pid = access.project.id
    offered = offered_names(runtime, pid)
    raw, model, error = _query_for(request, kind, runtime, pid, offered)
    if model is not None and kind_of_model(model) != kind:
        # A shared code of another kind opens that kind's page.
        target = f"/projects/{pid}/insights/{kind_of_model(model)}?{urlencode({'q': encode_query(model)})}"
        return RedirectResponse(target, status_code=303)
    return _render_page(request, access, info, offered, raw, model, error)


def _render_page(
    request: Request,
    access: ProjectAccess,
    info: forms.InsightKind,
    offered: Offered,
    raw: dict[str, Any] | None,
    model: BaseModel | None,
    error: str | None,
    *,
    notice: str | None = None,
) -> Response:
    runtime = runtime_of(request)
    pid = access.project.id
    _ = gettext_for(request)
    status = 400 if error else 200
    result: TableResult | None = None
    no_events = not offered.events and info.kind != "sql"
    if model is not None and not no_events:
        try:
            result = _run(runtime, pid, model)
        except QueryTimeout as exc:
            stopped = _("The query took too long and was stopped.")
            error, status = f"{stopped} {exc}", 408
        except (QueryInvalid, SqlRejected, QueryFailed, InvalidInput, ValueError) as exc:
            error, status = str(exc), 400
    share = encode_query(model) if model is not None else None
    display = "bar" if request.query_params.get("display") == "bar" else "line"
    today = runtime.project_context(pid).local_today()
    shown = {"kind": info.kind, **model.model_dump(mode="json")} if model is not None else raw
    values = forms.form_values(shown or {"kind": info.kind})
    preset = forms.preset_of(values, today)
    if info.has_range and preset == "last_30":
        values["date_from"], values["date_to"] = (today - dt.timedelta(days=29)).isoformat(), today.isoformat()
    saved_id = request.query_params.get("saved", "")
    if saved_id.isdigit() and notice is None:
        notice = _("Insight saved.")
    context = {
        "info": info,
        "kinds": list(forms.INSIGHT_KINDS.values()),
        "q": values,
        "preset": preset,
        "today": today.isoformat(),
        "offered": offered,
        "error": error,
        "notice": notice,
        "no_events": no_events,
        "result": result,
        "figure": chart_of(result, _, bars=display == "bar") if result is not None else None,
        "table": _table(result, _) if result is not None else None,
        "display": display,
        "share": share,
        "saved": InsightService(runtime.metadata).list(pid),
        "choices": forms,
        "base": f"/projects/{pid}",
    }
    return render(request, "console/insight.html", context, status=status)


@router.get("/projects/{project_id}/insights/{kind}/export.csv")
def insight_csv(kind: str, request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The query's tidy rows as CSV (`excel=1`: byte order mark and formula guard)."""
    _kind_of(kind)
    runtime = runtime_of(request)
    try:
        model = decode_query(request.query_params.get("q", ""))
        result = _run(runtime, access.project.id, model)
    except (ShareCodeInvalid, QueryInvalid, SqlRejected, QueryFailed, ValueError) as exc:
        return Response(f"{exc}\n", status_code=400, media_type="text/plain; charset=utf-8")
    except QueryTimeout as exc:
        return Response(f"{exc}\n", status_code=408, media_type="text/plain; charset=utf-8")
    excel = request.query_params.get("excel", "") not in ("", "0", "false")
    name = f"{kind_of_model(model)}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.csv"
    return Response(
        result_csv(result, excel=excel),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/projects/{project_id}/insights")
async def save_insight(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Save the page's query (its shareable code) under a name."""
    form = await request.form()
    runtime = runtime_of(request)
    pid = access.project.id
    kind = _field(form, "kind", 32)
    info = _kind_of(kind)
    code = _field(form, "q", 6000)
    try:
        model = decode_query(code)
        query = {"kind": kind_of_model(model), **model.model_dump(mode="json")}
        saved = InsightService(runtime.metadata).create(
            pid, _field(form, "name", 300), query, created_by=access.user.id
        )
    except (ShareCodeInvalid, InvalidInput) as exc:
        offered = offered_names(runtime, pid)
        try:
            model_or_none: BaseModel | None = decode_query(code)
        except ShareCodeInvalid:
            model_or_none = None
        raw = {"kind": kind, **model_or_none.model_dump(mode="json")} if model_or_none else None
        return _render_page(request, access, info, offered, raw, model_or_none, str(exc))
    target = f"/projects/{pid}/insights/{saved.kind}?{urlencode({'q': saved.share_code or code, 'saved': saved.id})}"
    return RedirectResponse(target, status_code=303)
