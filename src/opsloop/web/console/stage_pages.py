"""The "User stages" console page: persons per lifecycle stage (new, active, resurrected, dormant, churned) over
time and now, and the stage thresholds in days (operators change them); thin over `users.stages`. Named apart
from the analytics "Lifecycle" insight, which counts new / returning / dormant persons per period."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.roles import Role
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.lifecycle import STAGES, LifecycleThresholds
from opsloop.web.console.access import ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()

#: Stage names as shown (lower case, as in the API, so they do not collide with other "New" / "Active").
STAGE_LABELS = {
    "new": N_("new"),
    "active": N_("active"),
    "resurrected": N_("resurrected"),
    "dormant": N_("dormant"),
    "churned": N_("churned"),
}
STAGE_HINTS = {
    "new": N_("first seen within the last %(days)s days"),
    "active": N_("seen within the last %(days)s days, and in the period before"),
    "resurrected": N_("seen within the last %(days)s days after a gap, first seen earlier"),
    "dormant": N_("not seen for %(days)s days, seen within %(churn)s days"),
    "churned": N_("not seen for more than %(days)s days"),
}
#: The chart's spans: (points, interval).
RANGES: dict[str, tuple[int, Literal["day", "week"]]] = {"30d": (30, "day"), "12w": (12, "week"), "26w": (26, "week")}
RANGE_LABELS = {
    "30d": N_("Last 30 days, daily"),
    "12w": N_("Last 12 weeks, weekly"),
    "26w": N_("Last 26 weeks, weekly"),
}


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "thresholds"
    return f"{where}: {str(first.get('msg', 'invalid value')).removeprefix('Value error, ')}"


async def _stages_page(
    request: Request,
    access: ProjectAccess,
    *,
    error: str | None = None,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    runtime = runtime_of(request)
    _ = gettext_for(request)
    span = request.query_params.get("range", "30d")
    span = span if span in RANGES else "30d"
    points, interval = RANGES[span]
    ctx = runtime.project_context(access.project.id)
    today = ctx.local_today()
    start = today - (dt.timedelta(days=points - 1) if interval == "day" else dt.timedelta(weeks=points - 1))
    thresholds = await run_in_threadpool(runtime.segments.stages.thresholds, access.project.id)
    counts = []
    try:
        counts = await run_in_threadpool(runtime.segments.stages.counts, ctx, start, today, interval)
    except (QueryTimeout, QueryFailed, ValueError) as exc:
        error, status = error or f"{type(exc).__name__}: {exc}", 400 if status == 200 else status
    chart = {
        "x": [c.day.isoformat() for c in counts],
        "series": [{"stage": s, "name": _(STAGE_LABELS[s]), "y": [c.counts[s] for c in counts]} for s in STAGES],
        "interval": interval,
    }
    now = counts[-1].counts if counts else {}
    total = sum(now.values())
    days = {
        "new": thresholds.new_days,
        "active": thresholds.active_days,
        "resurrected": thresholds.active_days,
        "dormant": thresholds.active_days,
        "churned": thresholds.churn_days,
    }
    current = [
        {
            "stage": s,
            "label": _(STAGE_LABELS[s]),
            "persons": now.get(s, 0),
            "share": f"{100 * now.get(s, 0) / total:.1f}%" if total else "—",
            "hint": _(STAGE_HINTS[s]) % {"days": days[s], "churn": thresholds.churn_days},
        }
        for s in STAGES
    ]
    notice = request.query_params.get("done") == "saved"
    context: dict[str, Any] = {
        "chart": chart,
        "current": current,
        "total": total,
        "today": today,
        "thresholds": typed or thresholds.model_dump(),
        "ranges": {k: _(v) for k, v in RANGE_LABELS.items()},
        "span": span,
        "error": error,
        "notice": notice,
        "can_edit": access.can(Role.operator),
    }
    return render(request, "console/user_stages.html", context, status=status)


@router.get("/projects/{project_id}/lifecycle-stages")
async def stages_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """Persons per stage over time (stacked) and today, with the thresholds."""
    return await _stages_page(request, access)


@router.post("/projects/{project_id}/lifecycle-stages/settings")
async def save_thresholds(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Change the project's stage thresholds (days); a wrong value is refused with the field named."""
    form = await request.form()
    typed = {k: _field(form, k, 10).strip() for k in ("new_days", "active_days", "churn_days")}
    try:
        thresholds = LifecycleThresholds.model_validate(typed)
    except ValidationError as exc:
        return await _stages_page(request, access, error=_first_error(exc), status=400, typed=typed)
    await run_in_threadpool(runtime_of(request).segments.stages.set_thresholds, access.project.id, thresholds)
    return RedirectResponse(f"/projects/{access.project.id}/lifecycle-stages?done=saved", status_code=303)
