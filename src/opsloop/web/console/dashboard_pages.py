"""Dashboard pages: list, create, rename, delete; a dashboard's tiles (add, remove, move, resize) and their data."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response

from opsloop.accounts.roles import Role
from opsloop.dashboards.boards import TILE_SIZES, DashboardService, DashboardView
from opsloop.dashboards.insights import InsightService, InvalidInput, NotFound, with_range
from opsloop.query.registry import QueryInvalid, execute_query, parse_query
from opsloop.query.sql import SqlRejected
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.dashboard_range import DASHBOARD_PRESETS, checked_dates, dashboard_range
from opsloop.web.console.insight_charts import chart_of
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()
# Before Settings, so that the administrative entries stay last.

#: Most rows of a tile's result sent to the page.
TILE_ROWS = 500
#: Kinds whose tile draws the insight page's own figure (Sankey, funnel bars with conversion, heat map).
FIGURE_KINDS = frozenset({"paths", "funnel", "retention"})
SIZE_LABELS = {"small": N_("Small"), "medium": N_("Medium"), "large": N_("Large"), "full": N_("Full width")}
NOTICES = {
    "created": N_("Dashboard created."),
    "renamed": N_("Dashboard renamed."),
    "deleted": N_("Dashboard deleted. Its insights are kept."),
    "tile_added": N_("Insight added to the dashboard."),
    "tile_removed": N_("Tile removed."),
    "tile_moved": N_("Tile moved."),
    "tile_resized": N_("Tile resized."),
}


def _boards(request: Request) -> DashboardService:
    return DashboardService(runtime_of(request).metadata)


def _notice(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    return gettext_for(request)(NOTICES[done]) if done in NOTICES else None


def _board(request: Request, access: ProjectAccess, dashboard_id: int) -> DashboardView:
    try:
        return _boards(request).get(access.project.id, dashboard_id)
    except NotFound:
        raise ConsoleError(404, "not_found") from None


def _list_page(request: Request, access: ProjectAccess, *, error: str | None = None, status: int = 200) -> Response:
    boards = _boards(request).list(access.project.id)
    context = {"dashboards": boards, "notice": _notice(request), "error": error}
    return render(request, "console/dashboards.html", context, status=status)


def _board_page(
    request: Request, access: ProjectAccess, dashboard_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    board = _board(request, access, dashboard_id)
    _ = gettext_for(request)
    pid = access.project.id
    runtime = runtime_of(request)
    insights = InsightService(runtime.metadata).list(pid)
    today = runtime.project_context(pid).local_today()
    chosen = dashboard_range(request.query_params, today)
    if chosen.error and error is None:
        error, status = (
            _("These dates cannot be used: %(error)s. Each tile shows its own dates.") % {"error": chosen.error},
            400,
        )
    tiles: list[dict[str, Any]] = [
        {
            "tile": t,
            "insight_url": f"/projects/{pid}/insights/{t.insight.kind}"
            + (f"?q={t.insight.share_code}" if t.insight.share_code else ""),
            "data_url": f"/projects/{pid}/dashboards/{board.id}/tiles/{t.id}/result" + chosen.tile_query(),
        }
        for t in board.tiles
    ]
    context = {
        "board": board,
        "tiles": tiles,
        "insights": insights,
        "sizes": [(s, _(SIZE_LABELS[s])) for s in TILE_SIZES],
        "notice": _notice(request),
        "error": error,
        "board_range": chosen,
        "presets": DASHBOARD_PRESETS,
        "today": today.isoformat(),
        "chart_text": {
            "loading": _("Running the insight…"),
            "failed": _("This insight could not be run:"),
            "table": _("Shown as a table (first rows)"),
            "empty": _("No data in this insight's date range."),
            "own_dates": _("This insight has no date range: shown as saved."),
        },
    }
    return render(request, "console/dashboard.html", context, status=status)


def _back(access: ProjectAccess, dashboard_id: int | None, done: str) -> Response:
    where = f"/projects/{access.project.id}/dashboards" + (f"/{dashboard_id}" if dashboard_id else "")
    return RedirectResponse(f"{where}?done={done}", status_code=303)


@router.get("/projects/{project_id}/dashboards")
def dashboards_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """The project's dashboards."""
    return _list_page(request, access)


@router.post("/projects/{project_id}/dashboards")
async def create_dashboard(
    request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Create an empty dashboard and open it."""
    form = await request.form()
    try:
        board = _boards(request).create(access.project.id, _field(form, "name", 300), created_by=access.user.id)
    except InvalidInput as exc:
        return _list_page(request, access, error=str(exc), status=400)
    return _back(access, board.id, "created")


@router.get("/projects/{project_id}/dashboards/{dashboard_id}")
def dashboard_page(dashboard_id: int, request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """A dashboard: its tiles in order, each drawing its insight."""
    return _board_page(request, access, dashboard_id)


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/rename")
async def rename_dashboard(
    dashboard_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Rename a dashboard."""
    form = await request.form()
    _board(request, access, dashboard_id)
    try:
        _boards(request).rename(access.project.id, dashboard_id, _field(form, "name", 300))
    except InvalidInput as exc:
        return _board_page(request, access, dashboard_id, error=str(exc), status=400)
    return _back(access, dashboard_id, "renamed")


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/delete")
def delete_dashboard(
    dashboard_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Delete a dashboard (its insights stay)."""
    _board(request, access, dashboard_id)
    _boards(request).delete(access.project.id, dashboard_id)
    return _back(access, None, "deleted")


def _form_int(form: Any, name: str) -> int:
    text = _field(form, name, 20).strip()
    if not text.isdigit():
        raise InvalidInput(f"{name}: choose one")
    return int(text)


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/tiles")
async def add_tile(
    dashboard_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Add a saved insight at the end of the dashboard."""
    form = await request.form()
    _board(request, access, dashboard_id)
    try:
        insight_id = _form_int(form, "insight_id")
        size = _field(form, "size", 16) or "medium"
        _boards(request).add_tile(access.project.id, dashboard_id, insight_id, size=size)
    except (InvalidInput, NotFound) as exc:
        return _board_page(request, access, dashboard_id, error=str(exc), status=400)
    return _back(access, dashboard_id, "tile_added")


def _tile_action(request: Request, access: ProjectAccess, dashboard_id: int, action: Any, done: str) -> Response:
    _board(request, access, dashboard_id)
    try:
        action()
    except NotFound:
        raise ConsoleError(404, "not_found") from None
    except InvalidInput as exc:
        return _board_page(request, access, dashboard_id, error=str(exc), status=400)
    return _back(access, dashboard_id, done)


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/remove")
def remove_tile(
    dashboard_id: int, tile_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Take a tile off the dashboard."""
    pid = access.project.id
    return _tile_action(
        request, access, dashboard_id, lambda: _boards(request).remove_tile(pid, dashboard_id, tile_id), "tile_removed"
    )


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/size")
async def resize_tile(
    dashboard_id: int, tile_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Change a tile's size."""
    form = await request.form()
    size = _field(form, "size", 16)
    pid = access.project.id
    return _tile_action(
        request,
        access,
        dashboard_id,
        lambda: _boards(request).resize_tile(pid, dashboard_id, tile_id, size),
        "tile_resized",
    )


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/move")
async def move_tile(
    dashboard_id: int, tile_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Move a tile one place up (earlier) or down (later)."""
    form = await request.form()
    direction = _field(form, "direction", 8)
    board = _board(request, access, dashboard_id)
    order = [t.id for t in board.tiles]
    if tile_id not in order:
        raise ConsoleError(404, "not_found")
    if direction not in ("up", "down"):
        return _board_page(request, access, dashboard_id, error="direction: must be up or down", status=400)
    i = order.index(tile_id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(order):
        order[i], order[j] = order[j], order[i]
    pid = access.project.id
    return _tile_action(
        request, access, dashboard_id, lambda: _boards(request).reorder_tiles(pid, dashboard_id, order), "tile_moved"
    )


@router.post("/projects/{project_id}/dashboards/{dashboard_id}/tiles/order")
async def reorder_tiles(
    dashboard_id: int, request: Request, access: ProjectAccess = Depends(require_member(Role.operator))
) -> Response:
    """Put the tiles in a new order: `tile_ids`, every tile id of the dashboard once, comma-separated."""
    form = await request.form()
    parts = [p.strip() for p in _field(form, "tile_ids", 2000).split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        return _board_page(
            request, access, dashboard_id, error="tile_ids: must be tile ids separated by commas", status=400
        )
    ids = [int(p) for p in parts]
    pid = access.project.id
    return _tile_action(
        request, access, dashboard_id, lambda: _boards(request).reorder_tiles(pid, dashboard_id, ids), "tile_moved"
    )


@router.get("/projects/{project_id}/dashboards/{dashboard_id}/tiles/{tile_id}/result")
def tile_result(
    dashboard_id: int, tile_id: int, request: Request, access: ProjectAccess = Depends(require_member())
) -> Response:
    """Run a tile's insight now: its kind and tidy rows (the first few hundred), as JSON."""
    board = _board(request, access, dashboard_id)
    tile = next((t for t in board.tiles if t.id == tile_id), None)
    if tile is None:
        return JSONResponse({"detail": f"no tile {tile_id} on dashboard {dashboard_id}"}, status_code=404)
    runtime = runtime_of(request)
    try:
        date_from, date_to = checked_dates(request.query_params.get("date_from"), request.query_params.get("date_to"))
        # A query without dates (SQL) runs as saved; the answer says the dashboard's range was not applied.
        dated = "date_from" in type(parse_query(tile.insight.query)).model_fields
        query = with_range(tile.insight.query, date_from, date_to) if dated else parse_query(tile.insight.query)
        result = execute_query(runtime.store, runtime.project_context(access.project.id), query, runtime.settings)
    except (InvalidInput, QueryInvalid, SqlRejected, QueryFailed, QueryTimeout) as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    rows = result.rows()
    answer: dict[str, Any] = {
        "kind": tile.insight.kind,
        "rows": jsonable_encoder(rows[:TILE_ROWS]),
        "truncated": len(rows) > TILE_ROWS,
        "range_applied": dated and (date_from is not None or date_to is not None),
        # The dashboard has a range that this query cannot take: the tile says it shows its saved query.
        "own_dates": not dated and (date_from is not None or date_to is not None),
        "figure": chart_of(result, gettext_for(request)) if tile.insight.kind in FIGURE_KINDS else None,
    }
    return JSONResponse(jsonable_encoder(answer), headers={"Cache-Control": "no-store"})
