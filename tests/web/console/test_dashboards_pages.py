"""Dashboard pages: create, rename, delete; tiles added, drawn from their insight, moved, resized, removed; roles."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient

from opsloop.accounts.roles import Role
from opsloop.dashboards.boards import DashboardService
from opsloop.dashboards.insights import InsightService, InsightView
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import XSS, load_events, shop_events


def _insights(console: ConsoleHarness) -> tuple[InsightView, InsightView]:
    service = InsightService(console.runtime.metadata)
    trend = service.create(console.pid, "Daily " + XSS, {"kind": "trends", "series": [{"event": "$pageview"}]})
    funnel = service.create(
        console.pid,
        "Sign-up to purchase",
        {
            "kind": "funnel",
            "steps": [{"event": "signed_up"}, {"event": "purchase"}],
            "window": {"value": 30, "unit": "day"},
        },
    )
    return trend, funnel


def _post(console: ConsoleHarness, client: TestClient, path: str, **data: str) -> Any:
    token = console.csrf(client, f"/projects/{console.pid}/dashboards")
    return client.post(path, data={**data, "csrf_token": token})


def _tile_order(console: ConsoleHarness, board_id: int) -> list[str]:
    return [t.insight.name for t in DashboardService(console.runtime.metadata).get(console.pid, board_id).tiles]


def test_operator_builds_a_dashboard(console: ConsoleHarness) -> None:
    load_events(console.runtime, console.pid, shop_events(dt.date.today()))
    trend, funnel = _insights(console)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/dashboards"
    created = _post(console, client, base, name="Morning")
    assert created.status_code == 303
    board_url = created.headers["location"].split("?")[0]
    board_id = int(board_url.rsplit("/", 1)[1])
    assert "This dashboard is empty" in client.get(board_url).text
    for insight in (trend, funnel):
        assert _post(console, client, f"{board_url}/tiles", insight_id=str(insight.id)).status_code == 303
    assert _tile_order(console, board_id) == [trend.name, funnel.name]

    html = client.get(board_url).text
    # The tile title links to the insight page with the query's share code; the name is escaped.
    assert f'href="/projects/{console.pid}/insights/trends?q={trend.share_code}"' in html
    assert "Daily &lt;script&gt;alert(1)&lt;/script&gt;" in html and XSS not in html
    tiles = [int(t) for t in re.findall(r'data-tile-id="(\d+)"', html)]
    # Each tile's data: the insight run now, as tidy rows (trends: one row per day of the default last 30 days).
    data = client.get(f"{board_url}/tiles/{tiles[0]}/result").json()
    assert data["kind"] == "trends" and len(data["rows"]) == 30 and {"date", "value"} <= set(data["rows"][0])
    funnel_rows = client.get(f"{board_url}/tiles/{tiles[1]}/result").json()["rows"]
    assert [r["event"] for r in funnel_rows] == ["signed_up", "purchase"]

    # Move the trend down: the funnel comes first. Moving the last tile down changes nothing.
    assert _post(console, client, f"{board_url}/tiles/{tiles[0]}/move", direction="down").status_code == 303
    assert _tile_order(console, board_id) == [funnel.name, trend.name]
    assert _post(console, client, f"{board_url}/tiles/{tiles[0]}/move", direction="down").status_code == 303
    assert _tile_order(console, board_id) == [funnel.name, trend.name]
    assert _post(console, client, f"{board_url}/tiles/{tiles[0]}/move", direction="sideways").status_code == 400

    assert _post(console, client, f"{board_url}/tiles/{tiles[1]}/size", size="full").status_code == 303
    assert 'class="card tile tile-full"' in client.get(board_url).text
    bad = _post(console, client, f"{board_url}/tiles/{tiles[1]}/size", size="huge")
    assert bad.status_code == 400 and "size: must be one of" in bad.text

    assert _post(console, client, f"{board_url}/rename", name="Every morning").status_code == 303
    assert _post(console, client, f"{board_url}/tiles/{tiles[1]}/remove").status_code == 303
    assert _tile_order(console, board_id) == [trend.name]
    listing = client.get(base).text
    assert "Every morning" in listing
    assert _post(console, client, f"{board_url}/delete").status_code == 303
    assert client.get(board_url).status_code == 404
    assert len(InsightService(console.runtime.metadata).list(console.pid)) == 2  # insights are kept


def test_reorder_lists_every_tile_once(console: ConsoleHarness) -> None:
    trend, funnel = _insights(console)
    boards = DashboardService(console.runtime.metadata)
    board = boards.create(console.pid, "Order")
    a = boards.add_tile(console.pid, board.id, trend.id).id
    b = boards.add_tile(console.pid, board.id, funnel.id).id
    client = console.signed_in("op@example.com", Role.operator)
    path = f"/projects/{console.pid}/dashboards/{board.id}/tiles/order"
    for ids, message in [
        (f"{a}", f"tile_ids: tile {b} is missing"),
        (f"{a},{a},{b}", f"tile_ids: tile {a} is listed more than once"),
        (f"{a},{b},999999", "tile_ids: tile 999999 is not on dashboard"),
        ("a,b", "tile_ids: must be tile ids separated by commas"),
    ]:
        answer = _post(console, client, path, tile_ids=ids)
        assert answer.status_code == 400 and message in answer.text, ids
    assert _post(console, client, path, tile_ids=f"{b},{a}").status_code == 303
    assert _tile_order(console, board.id) == [funnel.name, trend.name]


def test_viewer_reads_but_cannot_change(console: ConsoleHarness) -> None:
    trend, _funnel = _insights(console)
    boards = DashboardService(console.runtime.metadata)
    board = boards.create(console.pid, "Shared")
    tile = boards.add_tile(console.pid, board.id, trend.id).id
    viewer = console.signed_in("vi@example.com", Role.viewer)
    base = f"/projects/{console.pid}/dashboards"
    html = viewer.get(f"{base}/{board.id}").text
    assert "Shared" in html and f'data-tile-id="{tile}"' in html
    assert "/move" not in html and "/remove" not in html and "Delete dashboard" not in html
    assert "Create dashboard" not in viewer.get(base).text
    for path, data in [
        (base, {"name": "Mine"}),
        (f"{base}/{board.id}/rename", {"name": "Renamed"}),
        (f"{base}/{board.id}/delete", {}),
        (f"{base}/{board.id}/tiles", {"insight_id": str(trend.id)}),
        (f"{base}/{board.id}/tiles/{tile}/move", {"direction": "up"}),
        (f"{base}/{board.id}/tiles/order", {"tile_ids": str(tile)}),
        (f"{base}/{board.id}/tiles/{tile}/size", {"size": "small"}),
        (f"{base}/{board.id}/tiles/{tile}/remove", {}),
    ]:
        assert _post(console, viewer, path, **data).status_code == 403, path
    assert [d.name for d in boards.list(console.pid)] == ["Shared"]


def test_other_projects_dashboards_are_not_found(console: ConsoleHarness) -> None:
    other = console.runtime.projects.create("Other")
    boards = DashboardService(console.runtime.metadata)
    theirs = boards.create(other.project.id, "Theirs")
    client = console.signed_in("ana@example.com", Role.admin)
    assert client.get(f"/projects/{other.project.id}/dashboards").status_code == 404
    # Their dashboard id under our project: not found, and it cannot be deleted from here.
    assert client.get(f"/projects/{console.pid}/dashboards/{theirs.id}").status_code == 404
    assert _post(console, client, f"/projects/{console.pid}/dashboards/{theirs.id}/delete").status_code == 404
    assert [d.name for d in boards.list(other.project.id)] == ["Theirs"]
    # An insight of another project cannot be put on our dashboard.
    insight = InsightService(console.runtime.metadata).create(
        other.project.id, "x", {"kind": "trends", "series": [{"event": "a"}]}
    )
    ours = boards.create(console.pid, "Ours")
    answer = _post(console, client, f"/projects/{console.pid}/dashboards/{ours.id}/tiles", insight_id=str(insight.id))
    assert answer.status_code == 400 and boards.get(console.pid, ours.id).tiles == []
