"""The home dashboard: the core indicators of a project (fetched as JSON by the page), and the KPI settings."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from opsloop.accounts.roles import Role
from opsloop.dashboards.insights import InvalidInput
from opsloop.dashboards.kpi_settings import (
    KpiConfig,
    event_counts,
    load_kpi_config,
    parse_kpi_config,
    save_kpi_config,
)
from opsloop.dashboards.kpis import KpiOptions, project_kpis
from opsloop.projects import ProjectError, list_tokens
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.catalogue import EntryKind
from opsloop.web.console.access import ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()
# Home comes right after the overview (the other pages append theirs at the end).

#: The periods the page offers (days).
PERIODS = (7, 30)

#: The cards in order: report field, label, how the value is shown.
CARDS: tuple[tuple[str, str, str], ...] = (
    ("new_persons", N_("New persons"), "count"),
    ("dau", N_("Daily active persons (DAU)"), "decimal"),
    ("wau", N_("Weekly active persons (WAU)"), "count"),
    ("mau", N_("Monthly active persons (MAU)"), "count"),
    ("dau_mau", N_("Stickiness (DAU/MAU)"), "percent"),
    ("d1_retention", N_("Day-1 retention"), "percent"),
    ("d7_retention", N_("Day-7 retention"), "percent"),
    ("funnel_conversion", N_("Core funnel conversion"), "percent"),
    ("revenue", N_("Revenue"), "money"),
    ("arpu", N_("Revenue per active person (ARPU)"), "money"),
)


def _period(days: int) -> int:
    return days if days in PERIODS else PERIODS[0]


def suggested_names(runtime: Runtime, project_id: int, kind: EntryKind) -> list[str]:
    """Names to offer in a form: from the property catalogue once it has been computed (computing it reads
    every event, minutes on a large project, so a page never starts that); before, event names only, by a
    quick count of the events table."""
    if runtime.catalogue.refreshed_at(project_id) is not None:
        entries = runtime.catalogue.entries(project_id, kind, include_hidden=False)
        return [e.name for e in entries if e.present]
    if kind != "event":
        return []
    counts = event_counts(runtime.store, runtime.project_context(project_id), runtime.settings)
    return sorted(counts, key=lambda name: (-counts[name], name))


def _home_context(request: Request, access: ProjectAccess, days: int, **extra: Any) -> dict[str, Any]:
    runtime = runtime_of(request)
    pid = access.project.id
    _ = gettext_for(request)
    has_events = runtime.store.count_events(pid) > 0
    tokens = [t for t in list_tokens(runtime.projects, pid) if t.revoked_at is None]
    config = load_kpi_config(runtime.metadata, pid)
    can_edit = access.can(Role.operator)
    events = suggested_names(runtime, pid, "event") if can_edit and has_events else []
    properties = suggested_names(runtime, pid, "event_property") if can_edit and has_events else []
    context: dict[str, Any] = {
        "days": days,
        "periods": PERIODS,
        "has_events": has_events,
        "token": tokens[0].label if tokens else None,
        "config": config,
        "funnel_text": "\n".join(s.event for s in config.core_funnel.steps) if config.core_funnel else "",
        "event_names": events,
        "property_names": properties,
        "can_edit": can_edit,
        "error": None,
        "notice": _("KPI settings saved.") if request.query_params.get("done") == "settings" else None,
        "kpi_page": {
            "url": f"/projects/{pid}/home/kpis?days={days}",
            "cards": [{"key": key, "label": _(label), "format": fmt} for key, label, fmt in CARDS],
            "text": {
                "previous": _("previous period"),
                "no_value": _("no data"),
                "failed": _("The indicators could not be computed:"),
                "same": _("no change"),
                "period": _("Period"),
                "active_today": _("Active today so far"),
                "funnel": _("Core funnel"),
                "detected": _("detected automatically"),
                "seconds": _("computed in {seconds} s"),
            },
        },
    }
    context.update(extra)
    return context


@router.get("/projects/{project_id}/home")
def home_page(request: Request, access: ProjectAccess = Depends(require_member()), days: int = 7) -> Response:
    """The home dashboard's shell; the page fetches the indicators (they take a second or two)."""
    return render(request, "console/home.html", _home_context(request, access, _period(days)))


@router.get("/projects/{project_id}/home/kpis")
def home_kpis(request: Request, access: ProjectAccess = Depends(require_member()), days: int = 7) -> Response:
    """The indicators as JSON (the same report as the API's `/kpis`)."""
    try:
        report = project_kpis(runtime_of(request), access.project.id, KpiOptions(days=_period(days), date_to=None))
    except (ProjectError, InvalidInput, QueryFailed, QueryTimeout) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    return JSONResponse(report.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


def _config_from_form(form: Any) -> KpiConfig:
    steps = [line.strip() for line in _field(form, "funnel_steps", 4000).splitlines() if line.strip()]
    body: dict[str, Any] = {
        "core_funnel": {"steps": [{"event": s} for s in steps]} if steps else None,
        "purchase_event": _field(form, "purchase_event", 200).strip() or "purchase",
        "revenue_property": _field(form, "revenue_property", 200).strip() or "revenue",
    }
    if len(steps) == 1:
        raise InvalidInput("funnel_steps: give at least 2 steps, one event per line (or none to detect the funnel)")
    return parse_kpi_config(body)


@router.post("/projects/{project_id}/home/settings")
async def save_home_settings(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Save the core funnel, purchase event and revenue property."""
    form = await request.form()
    try:
        config = _config_from_form(form)
    except InvalidInput as exc:
        context = _home_context(request, access, PERIODS[0], error=str(exc))
        context["funnel_text"] = _field(form, "funnel_steps", 4000)
        return render(request, "console/home.html", context, status=400)
    save_kpi_config(runtime_of(request).metadata, access.project.id, config)
    return RedirectResponse(f"/projects/{access.project.id}/home?done=settings", status_code=303)
