"""JSON API of the home dashboard, saved insights, dashboards, shareable query codes and CSV export.

Thin: every route checks the project's API key (`authorised_project`), parses input and calls a service of
`opsloop.dashboards`. Errors are 400 (naming the field) or 404, never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from opsloop.analytics.tables import TableResult
from opsloop.dashboards.boards import DashboardService, DashboardSummary, DashboardView, TileView
from opsloop.dashboards.insights import InsightService, InsightView, InvalidInput, NotFound, with_range
from opsloop.dashboards.kpi_settings import KpiConfig, load_kpi_config, parse_kpi_config, save_kpi_config
from opsloop.dashboards.kpis import MAX_DAYS, KpiOptions, KpiReport, project_kpis
from opsloop.dashboards.sharing import ShareCodeInvalid, decode_query, encode_query, query_json
from opsloop.projects import ProjectError
from opsloop.query.export import result_csv
from opsloop.query.registry import QueryInvalid, execute_query, result_json
from opsloop.query.sql import SqlRejected
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.web.api import authorised_project, get_runtime

router = APIRouter(prefix="/api/projects/{project_id}")


class Body_(BaseModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class InsightIn(Body_):
    """A new insight."""

    name: str
    query: dict[str, Any] = Field(description="a query object, as POST /api/projects/{id}/query takes")
    description: str = ""


class InsightChange(Body_):
    """Fields of an insight to change (others stay)."""

    name: str | None = None
    description: str | None = None
    query: dict[str, Any] | None = None


class DashboardIn(Body_):
    """A new dashboard, or a new name."""

    name: str


class TileIn(Body_):
    """A saved insight to put on a dashboard."""

    insight_id: int
    size: str = "medium"


class TileChange(Body_):
    """A tile's new size."""

    size: str


class TileOrder(Body_):
    """Every tile id of the dashboard, in the new order."""

    tile_ids: list[int]


class SharedQuery(BaseModel):
    """A query and its shareable code (`?q=`)."""

    q: str
    query: dict[str, Any]


@contextmanager
def _answers() -> Iterator[None]:
    """Service errors as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (InvalidInput, QueryInvalid, SqlRejected, ShareCodeInvalid, ProjectError) as exc:
        raise HTTPException(400, str(exc)) from None
    except QueryTimeout as exc:
        raise HTTPException(408, str(exc)) from None
    except QueryFailed as exc:
        raise HTTPException(400, f"the query failed: {exc}") from None


def _execute(runtime: Runtime, project_id: int, query: Any) -> TableResult:
    return execute_query(runtime.store, runtime.project_context(project_id), query, runtime.settings)


def _csv_response(result: TableResult, kind: str, excel: bool) -> Response:
    name = f"{kind}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.csv"
    return Response(
        result_csv(result, excel=excel),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- home dashboard -------------------------------------------------------------------------------------------


@router.get("/kpis", tags=["dashboards"])
def kpis(
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
    days: int = Query(7, ge=1, le=MAX_DAYS, description="period length in days"),
    date_to: dt.date | None = Query(None, description="last day of the period (default: yesterday)"),
) -> KpiReport:
    """The home dashboard's indicators for the period and the one before it."""
    with _answers():
        return project_kpis(runtime, project_id, KpiOptions(days=days, date_to=date_to))


@router.get("/kpis/settings", tags=["dashboards"])
def kpi_settings(project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)) -> KpiConfig:
    """The project's core funnel, purchase event and revenue property."""
    return load_kpi_config(runtime.metadata, project_id)


@router.put("/kpis/settings", tags=["dashboards"])
def put_kpi_settings(
    body: dict[str, Any] = Body(...),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> KpiConfig:
    """Replace the project's KPI settings."""
    with _answers():
        return save_kpi_config(runtime.metadata, project_id, parse_kpi_config(body))


# -- insights -------------------------------------------------------------------------------------------------


@router.get("/insights", tags=["dashboards"])
def list_insights(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[InsightView]:
    """The project's saved insights, most recently changed first."""
    return InsightService(runtime.metadata).list(project_id)


@router.post("/insights", status_code=201, tags=["dashboards"])
def create_insight(
    body: InsightIn, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> InsightView:
    """Save a query as an insight."""
    with _answers():
        return InsightService(runtime.metadata).create(project_id, body.name, body.query, description=body.description)


@router.get("/insights/{insight_id}", tags=["dashboards"])
def get_insight(
    insight_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> InsightView:
    """One saved insight."""
    with _answers():
        return InsightService(runtime.metadata).get(project_id, insight_id)


@router.patch("/insights/{insight_id}", tags=["dashboards"])
def update_insight(
    insight_id: int,
    body: InsightChange,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> InsightView:
    """Rename an insight or change its description or query."""
    with _answers():
        return InsightService(runtime.metadata).update(
            project_id, insight_id, name=body.name, description=body.description, query=body.query
        )


@router.delete("/insights/{insight_id}", status_code=204, tags=["dashboards"])
def delete_insight(
    insight_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> Response:
    """Delete an insight (and its tiles on every dashboard)."""
    with _answers():
        InsightService(runtime.metadata).delete(project_id, insight_id)
    return Response(status_code=204)


_DATE_FROM = Query(None, description="run over this range instead of the saved one (first day)")
_DATE_TO = Query(None, description="run over this range instead of the saved one (last day)")


@router.get("/insights/{insight_id}/result", tags=["dashboards"])
def insight_result(
    insight_id: int,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
    date_from: dt.date | None = _DATE_FROM,
    date_to: dt.date | None = _DATE_TO,
) -> dict[str, Any]:
    """Run a saved insight's query now (optionally over another date range); the same JSON as POST /query."""
    with _answers():
        insight = InsightService(runtime.metadata).get(project_id, insight_id)
        query = with_range(insight.query, date_from, date_to)
        return result_json(_execute(runtime, project_id, query))


@router.get("/insights/{insight_id}/result.csv", tags=["dashboards"])
def insight_csv(
    insight_id: int,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
    date_from: dt.date | None = _DATE_FROM,
    date_to: dt.date | None = _DATE_TO,
    excel: bool = Query(False, description="byte order mark and formula guard for spreadsheets"),
) -> Response:
    """Run a saved insight's query now (optionally over another date range); its rows as CSV."""
    with _answers():
        insight = InsightService(runtime.metadata).get(project_id, insight_id)
        query = with_range(insight.query, date_from, date_to)
        return _csv_response(_execute(runtime, project_id, query), str(insight.query["kind"]), excel)


# -- dashboards -----------------------------------------------------------------------------------------------


@router.get("/dashboards", tags=["dashboards"])
def list_dashboards(
    project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> list[DashboardSummary]:
    """The project's dashboards, by name."""
    return DashboardService(runtime.metadata).list(project_id)


@router.post("/dashboards", status_code=201, tags=["dashboards"])
def create_dashboard(
    body: DashboardIn, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> DashboardView:
    """A new, empty dashboard."""
    with _answers():
        return DashboardService(runtime.metadata).create(project_id, body.name)


@router.get("/dashboards/{dashboard_id}", tags=["dashboards"])
def get_dashboard(
    dashboard_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> DashboardView:
    """A dashboard and its tiles in order."""
    with _answers():
        return DashboardService(runtime.metadata).get(project_id, dashboard_id)


@router.patch("/dashboards/{dashboard_id}", tags=["dashboards"])
def rename_dashboard(
    dashboard_id: int,
    body: DashboardIn,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> DashboardView:
    """Rename a dashboard."""
    with _answers():
        return DashboardService(runtime.metadata).rename(project_id, dashboard_id, body.name)


@router.delete("/dashboards/{dashboard_id}", status_code=204, tags=["dashboards"])
def delete_dashboard(
    dashboard_id: int, project_id: int = Depends(authorised_project), runtime: Runtime = Depends(get_runtime)
) -> Response:
    """Delete a dashboard and its tiles (the insights stay)."""
    with _answers():
        DashboardService(runtime.metadata).delete(project_id, dashboard_id)
    return Response(status_code=204)


@router.post("/dashboards/{dashboard_id}/tiles", status_code=201, tags=["dashboards"])
def add_tile(
    dashboard_id: int,
    body: TileIn,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> TileView:
    """Put a saved insight of this project at the end of the dashboard."""
    with _answers():
        return DashboardService(runtime.metadata).add_tile(project_id, dashboard_id, body.insight_id, size=body.size)


@router.put("/dashboards/{dashboard_id}/tiles/order", tags=["dashboards"])
def reorder_tiles(
    dashboard_id: int,
    body: TileOrder,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> DashboardView:
    """Reorder the tiles: `tile_ids` lists every tile of the dashboard once, in the new order."""
    with _answers():
        return DashboardService(runtime.metadata).reorder_tiles(project_id, dashboard_id, body.tile_ids)


@router.patch("/dashboards/{dashboard_id}/tiles/{tile_id}", tags=["dashboards"])
def resize_tile(
    dashboard_id: int,
    tile_id: int,
    body: TileChange,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> TileView:
    """Change a tile's size (small, medium, large or full)."""
    with _answers():
        return DashboardService(runtime.metadata).resize_tile(project_id, dashboard_id, tile_id, body.size)


@router.delete("/dashboards/{dashboard_id}/tiles/{tile_id}", tags=["dashboards"])
def remove_tile(
    dashboard_id: int,
    tile_id: int,
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> DashboardView:
    """Take a tile off the dashboard; returns the dashboard as it is now."""
    with _answers():
        return DashboardService(runtime.metadata).remove_tile(project_id, dashboard_id, tile_id)


# -- shareable queries and CSV --------------------------------------------------------------------------------


@router.post("/query/share", tags=["dashboards"])
def share_query(body: dict[str, Any] = Body(...), project_id: int = Depends(authorised_project)) -> SharedQuery:
    """The shareable code (`?q=`) of a query object, after validating it."""
    with _answers():
        return SharedQuery(q=encode_query(body), query=query_json(body))


@router.get("/query/share", tags=["dashboards"])
def shared_query(
    q: str = Query(..., description="a shareable query code"), project_id: int = Depends(authorised_project)
) -> SharedQuery:
    """The query object a shareable code stands for (400 naming `q` when it is not one)."""
    with _answers():
        return SharedQuery(q=q, query=query_json(decode_query(q)))


@router.get("/query.csv", tags=["dashboards"])
def query_csv(
    q: str = Query(..., description="a shareable query code"),
    excel: bool = Query(False, description="byte order mark and formula guard for spreadsheets"),
    project_id: int = Depends(authorised_project),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Run the query a shareable code stands for; its rows as CSV (UTF-8)."""
    with _answers():
        query = decode_query(q)
        return _csv_response(_execute(runtime, project_id, query), str(query.kind), excel)  # type: ignore[attr-defined]
