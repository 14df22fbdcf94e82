"""Dashboards: named, ordered sets of tiles, each tile showing one saved insight of the same project."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsloop.dashboards.insights import (
    InsightView,
    InvalidInput,
    NotFound,
    View,
    as_utc,
    clean_name,
    find,
    insight_view,
)
from opsloop.dashboards.tables import Dashboard, DashboardTile, Insight
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow

TileSize = Literal["small", "medium", "large", "full"]
TILE_SIZES: tuple[str, ...] = get_args(TileSize)
#: Most tiles one dashboard holds.
MAX_TILES = 100
#: A dashboard's tiles in order, each with its insight.
Tiles = list[tuple[DashboardTile, Insight]]


class TileView(View):
    """One tile: its id, place (0 = first), size and the insight it shows."""

    id: int
    position: int
    size: str
    insight: InsightView


class DashboardSummary(View):
    """A dashboard in a list: no tiles, just how many."""

    id: int
    project_id: int
    name: str
    tile_count: int
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class DashboardView(View):
    """A dashboard with its tiles in order."""

    id: int
    project_id: int
    name: str
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    tiles: list[TileView]


def _clean_size(value: Any) -> str:
    if value not in TILE_SIZES:
        raise InvalidInput(f"size: must be one of {', '.join(TILE_SIZES)} (got {value!r})")
    return str(value)


class DashboardService:
    """Create, rename and delete dashboards; add, resize, remove and reorder their tiles."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    # -- dashboards -----------------------------------------------------------------------------------------

    def list(self, project_id: int) -> list[DashboardSummary]:
        """The project's dashboards by name."""
        counts = (
            select(DashboardTile.dashboard_id, func.count().label("n")).group_by(DashboardTile.dashboard_id).subquery()
        )
        with self.metadata.session() as session:
            rows = session.execute(
                select(Dashboard, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.dashboard_id == Dashboard.id)
                .where(Dashboard.project_id == project_id)
                .order_by(Dashboard.name, Dashboard.id)
            ).all()
            return [
                DashboardSummary(
                    id=d.id,
                    project_id=d.project_id,
                    name=d.name,
                    tile_count=int(n),
                    created_by=d.created_by,
                    created_at=as_utc(d.created_at),
                    updated_at=as_utc(d.updated_at),
                )
                for d, n in rows
            ]

    def get(self, project_id: int, dashboard_id: int) -> DashboardView:
        """A dashboard of the project with its tiles in order; `NotFound` otherwise."""
        with self.metadata.session() as session:
            return self._view(session, self._dashboard(session, project_id, dashboard_id))

    def create(self, project_id: int, name: str, *, created_by: int | None = None) -> DashboardView:
        """A new, empty dashboard."""
        row = Dashboard(project_id=project_id, name=clean_name(name), created_by=created_by)
        with self.metadata.session() as session, session.begin():
            session.add(row)
            session.flush()
            return self._view(session, row)

    def rename(self, project_id: int, dashboard_id: int, name: str) -> DashboardView:
        """Give a dashboard a new name."""
        clean = clean_name(name)
        with self.metadata.session() as session, session.begin():
            row = self._dashboard(session, project_id, dashboard_id)
            row.name = clean
            row.updated_at = utcnow()
            session.flush()
            return self._view(session, row)

    def delete(self, project_id: int, dashboard_id: int) -> None:
        """Delete a dashboard and its tiles (the insights stay)."""
        with self.metadata.session() as session, session.begin():
            session.delete(self._dashboard(session, project_id, dashboard_id))

    # -- tiles ----------------------------------------------------------------------------------------------

    def add_tile(self, project_id: int, dashboard_id: int, insight_id: int, *, size: str = "medium") -> TileView:
        """Put a saved insight of the same project at the end of a dashboard."""
        size = _clean_size(size)
        with self.metadata.session() as session, session.begin():
            board = self._dashboard(session, project_id, dashboard_id)
            insight = find(session, Insight, insight_id)
            if insight is None or insight.project_id != project_id:
                # Another project's insight is reported exactly like a missing one: nothing leaks.
                raise NotFound(f"insight_id: no insight {insight_id} in project {project_id}")
            tiles = self._tiles(session, board.id)
            if len(tiles) >= MAX_TILES:
                raise InvalidInput(f"insight_id: a dashboard holds at most {MAX_TILES} tiles")
            tile = DashboardTile(dashboard_id=board.id, insight_id=insight.id, position=len(tiles), size=size)
            session.add(tile)
            board.updated_at = utcnow()
            session.flush()
            return TileView(id=tile.id, position=tile.position, size=tile.size, insight=insight_view(insight))

    def resize_tile(self, project_id: int, dashboard_id: int, tile_id: int, size: str) -> TileView:
        """Change a tile's display size."""
        size = _clean_size(size)
        with self.metadata.session() as session, session.begin():
            board = self._dashboard(session, project_id, dashboard_id)
            tiles = self._tiles(session, board.id)
            found = [(i, t) for i, (t, _) in enumerate(tiles) if t.id == tile_id]
            if not found:
                raise NotFound(f"no tile {tile_id} on dashboard {dashboard_id}")
            position, tile = found[0]
            tile.size = size
            board.updated_at = utcnow()
            insight = tiles[position][1]
            return TileView(id=tile.id, position=position, size=size, insight=insight_view(insight))

    def remove_tile(self, project_id: int, dashboard_id: int, tile_id: int) -> DashboardView:
        """Take a tile off a dashboard (the insight stays saved); the others close the gap."""
        with self.metadata.session() as session, session.begin():
            board = self._dashboard(session, project_id, dashboard_id)
            tiles = [t for t, _ in self._tiles(session, board.id)]
            gone = [t for t in tiles if t.id == tile_id]
            if not gone:
                raise NotFound(f"no tile {tile_id} on dashboard {dashboard_id}")
            session.delete(gone[0])
            for position, tile in enumerate(t for t in tiles if t.id != tile_id):
                tile.position = position
            board.updated_at = utcnow()
            session.flush()
            return self._view(session, board)

    def reorder_tiles(self, project_id: int, dashboard_id: int, tile_ids: Any) -> DashboardView:
        """Put the tiles in the given order: `tile_ids` must list every tile of the dashboard exactly once."""
        if not isinstance(tile_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in tile_ids):
            raise InvalidInput("tile_ids: must be a list of tile ids (whole numbers)")
        with self.metadata.session() as session, session.begin():
            board = self._dashboard(session, project_id, dashboard_id)
            tiles = {t.id: t for t, _ in self._tiles(session, board.id)}
            duplicates = sorted({i for i in tile_ids if tile_ids.count(i) > 1})
            if duplicates:
                raise InvalidInput(f"tile_ids: tile {duplicates[0]} is listed more than once")
            unknown = [i for i in tile_ids if i not in tiles]
            if unknown:
                raise InvalidInput(f"tile_ids: tile {unknown[0]} is not on dashboard {dashboard_id}")
            missing = sorted(set(tiles) - set(tile_ids))
            if missing:
                raise InvalidInput(f"tile_ids: tile {missing[0]} is missing; list every tile of the dashboard")
            for position, tile_id in enumerate(tile_ids):
                tiles[tile_id].position = position
            board.updated_at = utcnow()
            session.flush()
            return self._view(session, board)

    # -- reading --------------------------------------------------------------------------------------------

    @staticmethod
    def _dashboard(session: Session, project_id: int, dashboard_id: int) -> Dashboard:
        row = find(session, Dashboard, dashboard_id)
        if row is None or row.project_id != project_id:
            raise NotFound(f"no dashboard {dashboard_id} in project {project_id}")
        return row

    @staticmethod
    def _tiles(session: Session, dashboard_id: int) -> Tiles:
        rows = session.execute(
            select(DashboardTile, Insight)
            .join(Insight, Insight.id == DashboardTile.insight_id)
            .where(DashboardTile.dashboard_id == dashboard_id)
            .order_by(DashboardTile.position, DashboardTile.id)
        ).all()
        return [(row[0], row[1]) for row in rows]

    def _view(self, session: Session, board: Dashboard) -> DashboardView:
        tiles = [
            TileView(id=t.id, position=position, size=t.size, insight=insight_view(i))
            for position, (t, i) in enumerate(self._tiles(session, board.id))
        ]
        return DashboardView(
            id=board.id,
            project_id=board.project_id,
            name=board.name,
            created_by=board.created_by,
            created_at=as_utc(board.created_at),
            updated_at=as_utc(board.updated_at),
            tiles=tiles,
        )
