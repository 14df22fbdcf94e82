"""Saved insights, dashboards and tiles on a real metadata store (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from opsloop.dashboards.boards import DashboardService
from opsloop.dashboards.insights import InsightService, InvalidInput, NotFound, with_range
from opsloop.dashboards.kpi_settings import KpiConfig, load_kpi_config, parse_kpi_config, save_kpi_config
from opsloop.dashboards.sharing import decode_query
from opsloop.dashboards.tables import Insight
from opsloop.projects import ProjectService
from opsloop.query.registry import parse_query
from opsloop.store.metadata import MetadataStore

FUNNEL = {"kind": "funnel", "steps": [{"event": "pageview"}, {"event": "purchase"}]}
RETENTION = {"kind": "retention", "start_event": "signup", "period": "week"}


@pytest.fixture
def metadata(metadata_url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(metadata_url)
    yield store
    store.close()


@pytest.fixture
def projects(metadata: MetadataStore) -> tuple[int, int]:
    service = ProjectService(metadata)
    return service.create("shop").project.id, service.create("other").project.id


def test_insight_crud(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, _ = projects
    insights = InsightService(metadata)
    saved = insights.create(a, "  Checkout funnel ", FUNNEL, description="weekly", created_by=7)
    assert saved.name == "Checkout funnel" and saved.created_by == 7 and saved.project_id == a
    # Stored normalised: defaults filled in, so the saved object is the whole query.
    assert saved.query["window"] == {"value": 14, "unit": "day"} and saved.query["kind"] == "funnel"
    assert decode_query(saved.share_code) == parse_query(FUNNEL)  # the code stands for the same query
    assert insights.get(a, saved.id) == saved
    renamed = insights.rename(a, saved.id, "Funnel 漏斗")
    assert renamed.name == "Funnel 漏斗" and renamed.updated_at >= saved.updated_at
    changed = insights.update(a, saved.id, query=RETENTION, description="")
    assert changed.query["start_event"] == "signup" and changed.name == "Funnel 漏斗" and changed.description == ""
    assert [i.id for i in insights.list(a)] == [saved.id]
    insights.delete(a, saved.id)
    with pytest.raises(NotFound):
        insights.get(a, saved.id)
    assert insights.list(a) == []


@pytest.mark.parametrize(
    ("name", "query", "message"),
    [
        ("", FUNNEL, "name: must be 1 to 200"),
        ("x" * 201, FUNNEL, "name: must be 1 to 200"),
        ("a\nb", FUNNEL, "name: must not contain control characters"),
        ("ok", {"kind": "nope"}, "query: unknown query kind 'nope'"),
        ("ok", {"kind": "funnel", "steps": [{"event": "a"}]}, "query: steps: List should have at least 2"),
        ("ok", [1, 2], "query: the query must be a JSON object"),
    ],
)
def test_bad_insights_name_the_field(
    metadata: MetadataStore, projects: tuple[int, int], name: str, query: object, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        InsightService(metadata).create(projects[0], name, query)


def test_dashboards_and_tiles(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, _ = projects
    insights, boards = InsightService(metadata), DashboardService(metadata)
    funnel = insights.create(a, "funnel", FUNNEL)
    retention = insights.create(a, "retention", RETENTION)
    board = boards.create(a, "Daily", created_by=3)
    assert board.tiles == [] and board.created_by == 3
    t1 = boards.add_tile(a, board.id, funnel.id)
    t2 = boards.add_tile(a, board.id, retention.id, size="large")
    t3 = boards.add_tile(a, board.id, funnel.id, size="small")  # the same insight twice is allowed
    assert [t.position for t in (t1, t2, t3)] == [0, 1, 2]
    assert boards.list(a)[0].tile_count == 3
    view = boards.reorder_tiles(a, board.id, [t3.id, t1.id, t2.id])
    assert [(t.id, t.position) for t in view.tiles] == [(t3.id, 0), (t1.id, 1), (t2.id, 2)]
    assert boards.get(a, board.id).tiles == view.tiles
    assert boards.resize_tile(a, board.id, t1.id, "full").size == "full"
    view = boards.remove_tile(a, board.id, t3.id)
    assert [(t.id, t.position) for t in view.tiles] == [(t1.id, 0), (t2.id, 1)]
    assert boards.rename(a, board.id, "每日 / Diario").name == "每日 / Diario"
    # Deleting an insight takes its tiles off every dashboard.
    insights.delete(a, retention.id)
    assert [t.id for t in boards.get(a, board.id).tiles] == [t1.id]
    boards.delete(a, board.id)
    with pytest.raises(NotFound):
        boards.get(a, board.id)
    assert insights.get(a, funnel.id).name == "funnel"  # the insight outlives the dashboard


def test_reorder_must_list_every_tile_once(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, _ = projects
    insights, boards = InsightService(metadata), DashboardService(metadata)
    insight = insights.create(a, "funnel", FUNNEL)
    board = boards.create(a, "Daily")
    other = boards.create(a, "Other")
    t1, t2 = (boards.add_tile(a, board.id, insight.id) for _ in range(2))
    elsewhere = boards.add_tile(a, other.id, insight.id)
    cases = [
        ([t1.id], f"tile {t2.id} is missing"),
        ([t1.id, t2.id, t1.id], f"tile {t1.id} is listed more than once"),
        ([t1.id, t2.id, elsewhere.id], f"tile {elsewhere.id} is not on dashboard {board.id}"),
        ([t1.id, "x"], "tile_ids: must be a list of tile ids"),
        ("1,2", "tile_ids: must be a list"),
    ]
    for tile_ids, message in cases:
        with pytest.raises(InvalidInput, match=message):
            boards.reorder_tiles(a, board.id, tile_ids)
    assert [t.id for t in boards.get(a, board.id).tiles] == [t1.id, t2.id]  # unchanged
    with pytest.raises(InvalidInput, match="size: must be one of"):
        boards.add_tile(a, board.id, insight.id, size="huge")


def test_projects_are_isolated(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, b = projects
    insights, boards = InsightService(metadata), DashboardService(metadata)
    a_insight = insights.create(a, "a's funnel", FUNNEL)
    b_board = boards.create(b, "b's board")
    a_board = boards.create(a, "a's board")
    tile = boards.add_tile(a, a_board.id, a_insight.id)
    # An insight of project A can never be put on a dashboard of project B, whichever project is named.
    with pytest.raises(NotFound, match="insight_id"):
        boards.add_tile(b, b_board.id, a_insight.id)
    with pytest.raises(NotFound, match="dashboard"):
        boards.add_tile(a, b_board.id, a_insight.id)
    # Nothing of A is readable, changeable or deletable through project B.
    for call in (
        lambda: insights.get(b, a_insight.id),
        lambda: insights.rename(b, a_insight.id, "mine"),
        lambda: insights.delete(b, a_insight.id),
        lambda: boards.get(b, a_board.id),
        lambda: boards.rename(b, a_board.id, "mine"),
        lambda: boards.delete(b, a_board.id),
        lambda: boards.remove_tile(b, a_board.id, tile.id),
        lambda: boards.reorder_tiles(b, a_board.id, [tile.id]),
        lambda: boards.remove_tile(b, b_board.id, tile.id),
    ):
        with pytest.raises(NotFound):
            call()
    # Ids no table can hold are simply not found (PostgreSQL would refuse the lookup itself).
    for call in (
        lambda: insights.get(a, 2**40),
        lambda: boards.get(a, -1),
        lambda: boards.add_tile(a, a_board.id, 2**31),
    ):
        with pytest.raises(NotFound):
            call()
    assert insights.list(b) == [] and [d.name for d in boards.list(b)] == ["b's board"]
    assert insights.get(a, a_insight.id).name == "a's funnel"
    assert [t.id for t in boards.get(a, a_board.id).tiles] == [tile.id]


def test_kpi_settings_round_trip(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, b = projects
    assert load_kpi_config(metadata, a) == KpiConfig()
    config = parse_kpi_config(
        {
            "core_funnel": {"steps": [{"event": "signed_up"}, {"event": "purchase"}], "window": {"value": 7}},
            "purchase_event": "order_completed",
            "revenue_property": "total",
        }
    )
    save_kpi_config(metadata, a, config)
    save_kpi_config(metadata, a, config)  # saving again replaces
    assert load_kpi_config(metadata, a) == config
    assert load_kpi_config(metadata, b) == KpiConfig()
    with pytest.raises(InvalidInput, match="core_funnel.steps"):
        parse_kpi_config({"core_funnel": {"steps": [{"event": "a"}]}})
    with pytest.raises(InvalidInput, match="revenue_property"):
        parse_kpi_config({"revenue_property": ""})
    with pytest.raises(InvalidInput, match="colour"):
        parse_kpi_config({"colour": "red"})


def test_a_saved_query_runs_over_another_range() -> None:
    saved = {**FUNNEL, "date_from": "2024-01-01", "date_to": "2024-01-31"}
    moved = with_range(saved, dt.date(2024, 5, 1), dt.date(2024, 5, 7))
    assert (moved.date_from, moved.date_to) == (dt.date(2024, 5, 1), dt.date(2024, 5, 7))  # type: ignore[attr-defined]
    assert with_range(saved, None, None) == parse_query(saved)
    with pytest.raises(InvalidInput, match="date_from: a `sql` query has no date range"):
        with_range({"kind": "sql", "query": "select 1"}, dt.date(2024, 5, 1), None)
    with pytest.raises(InvalidInput, match="date_to .* is before date_from"):
        with_range(saved, dt.date(2024, 5, 7), dt.date(2024, 5, 1))


def test_migration_0003_goes_down_and_up(metadata: MetadataStore) -> None:
    # Run this revision's own downgrade and upgrade (whatever revision it follows once merged).
    revision = importlib.import_module("opsloop.store.migrations.versions.0003_dashboards")
    mine = {"insights", "dashboards", "dashboard_tiles", "kpi_settings"}
    with metadata.engine.begin() as connection:
        with Operations.context(MigrationContext.configure(connection, opts={"render_as_batch": True})):
            revision.downgrade()
        assert not mine & set(sa.inspect(connection).get_table_names())
        with Operations.context(MigrationContext.configure(connection, opts={"render_as_batch": True})):
            revision.upgrade()
        assert mine <= set(sa.inspect(connection).get_table_names())


def test_a_saved_query_that_no_longer_validates_still_lists(metadata: MetadataStore, projects: tuple[int, int]) -> None:
    a, _ = projects
    insights = InsightService(metadata)
    saved = insights.create(a, "funnel", FUNNEL)
    assert saved.kind == "funnel" and saved.share_code
    # As if an upgrade had renamed a field: the row is still listed, without a share code.
    with metadata.session() as session, session.begin():
        session.get(Insight, saved.id).query = {**saved.query, "colour": "red"}  # type: ignore[union-attr]
    listed = insights.list(a)
    assert [(i.id, i.share_code) for i in listed] == [(saved.id, None)]
