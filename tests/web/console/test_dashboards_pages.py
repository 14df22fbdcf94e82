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


def _pageviews(today: dt.date) -> list[dict[str, Any]]:
    """Page views at noon UTC: 3 yesterday, 2 ten days ago, 5 forty days ago (the project's timezone is UTC)."""
    days = [1, 1, 1, 10, 10, 40, 40, 40, 40, 40]
    return [
        {
            "event": "$pageview",
            "distinct_id": f"p{i}",
            "timestamp": dt.datetime.combine(today - dt.timedelta(days=ago), dt.time(12), tzinfo=dt.UTC).isoformat(),
            "properties": {},
        }
        for i, ago in enumerate(days)
    ]


def _ranged_board(console: ConsoleHarness) -> tuple[int, int, int]:
    """A dashboard with a trend of page views (saved without dates: the last 30 days) and an SQL tile."""
    insights = InsightService(console.runtime.metadata)
    trend = insights.create(console.pid, "Views", {"kind": "trends", "series": [{"event": "$pageview"}]})
    sql = insights.create(console.pid, "Count", {"kind": "sql", "query": "select count(*) as n from events"})
    boards = DashboardService(console.runtime.metadata)
    board = boards.create(console.pid, "Ranged")
    return (
        board.id,
        boards.add_tile(console.pid, board.id, trend.id).id,
        boards.add_tile(console.pid, board.id, sql.id).id,
    )


def _data_urls(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'class="tile-chart" data-url="([^"]+)"', html)]


def test_date_range_overrides_every_tile(console: ConsoleHarness) -> None:
    today = dt.datetime.now(dt.UTC).date()
    load_events(console.runtime, console.pid, _pageviews(today))
    board_id, trend_tile, sql_tile = _ranged_board(console)
    # A viewer may use the range: it changes nothing stored.
    viewer = console.signed_in("vi@example.com", Role.viewer)
    page = f"/projects/{console.pid}/dashboards/{board_id}"

    def total(url: str) -> int:
        answer = viewer.get(url)
        assert answer.status_code == 200, answer.text
        return sum(r["value"] for r in answer.json()["rows"])

    # The insights' own dates (default): the trend's saved range, the last 30 days, holds 3 + 2 = 5 views.
    html = viewer.get(page).text
    assert "The insights&#39; own dates" in html and "Days in UTC (the project timezone)." in html
    trend_url, sql_url = _data_urls(html)
    assert "?" not in trend_url and total(trend_url) == 5
    # Last 7 days: only yesterday's 3 views; the tile URL carries the days, and so does the page's own URL.
    html = viewer.get(f"{page}?range=last_7").text
    trend_url, sql_url = _data_urls(html)
    assert trend_url.endswith(f"?date_from={today - dt.timedelta(days=6)}&date_to={today}")
    assert total(trend_url) == 3
    # Last 90 days: all 10; custom days 45 to 35 days ago: the 5 views of day 40.
    assert total(_data_urls(viewer.get(f"{page}?range=last_90").text)[0]) == 10
    start, end = today - dt.timedelta(days=45), today - dt.timedelta(days=35)
    html = viewer.get(f"{page}?range=custom&date_from={start}&date_to={end}").text
    assert f'value="{start}"' in html and f'value="{end}"' in html
    assert total(_data_urls(html)[0]) == 5
    # The SQL tile has no dates: it runs as saved (10 events) and says the range does not apply to it.
    answer = viewer.get(_data_urls(html)[1]).json()
    assert answer["rows"] == [{"n": 10}] and answer["own_dates"] is True and answer["range_applied"] is False
    # Without a dashboard range, neither tile mentions one.
    for tile in (trend_tile, sql_tile):
        answer = viewer.get(f"{page}/tiles/{tile}/result").json()
        assert answer["range_applied"] is False and answer["own_dates"] is False
    # Nothing stored changed.
    saved = DashboardService(console.runtime.metadata).get(console.pid, board_id).tiles[0].insight.query
    assert saved.get("date_from") is None and saved.get("date_to") is None


def test_bad_dashboard_dates_say_what_is_wrong(console: ConsoleHarness) -> None:
    board_id, trend_tile, _sql_tile = _ranged_board(console)
    client = console.signed_in("vi@example.com", Role.viewer)
    page = f"/projects/{console.pid}/dashboards/{board_id}"
    for query, message in [
        ("range=custom&date_from=2024-02-30", "date_from: Input should be a valid date"),
        (
            "range=custom&date_from=2024-05-10&date_to=2024-05-01",
            "date_to (2024-05-01) is before date_from (2024-05-10)",
        ),
        ("range=custom", "date_from: choose a first day, a last day or both"),
        ("range=forever", "range: must be one of own, last_7"),
        ("range=custom&date_from=2000-01-01&date_to=2024-01-01", "the date range may cover at most 3660 days"),
    ]:
        answer = client.get(f"{page}?{query}")
        assert answer.status_code == 400, query
        assert "These dates cannot be used: " in answer.text and message in answer.text, query
        # The tiles are still drawn, over their own dates.
        assert all("?" not in u for u in _data_urls(answer.text)), query
    # What was typed stays in the form, escaped.
    answer = client.get(f'{page}?range=custom&date_from="><b>x')
    assert 'value="&#34;&gt;&lt;b&gt;x"' in answer.text and "<b>x" not in answer.text
    # The tile data URL checks its dates the same way.
    tile = f"{page}/tiles/{trend_tile}/result"
    bad = client.get(f"{tile}?date_from=2024-05-10&date_to=2024-05-01")
    assert bad.status_code == 400 and bad.json()["detail"] == "date_to (2024-05-01) is before date_from (2024-05-10)"
    assert client.get(f"{tile}?date_to=yesterday").json()["detail"].startswith("date_to: Input should be a valid date")


def test_tiles_carry_the_insight_pages_figure(console: ConsoleHarness) -> None:
    load_events(console.runtime, console.pid, shop_events(dt.date.today()))
    insights = InsightService(console.runtime.metadata)
    boards = DashboardService(console.runtime.metadata)
    board = boards.create(console.pid, "Figures")
    queries = {
        "paths": {"kind": "paths", "start_event": "signed_up"},
        "funnel": {"kind": "funnel", "steps": [{"event": "signed_up"}, {"event": "purchase"}]},
        "retention": {"kind": "retention", "start_event": "signed_up", "return_event": "$pageview"},
        "trends": {"kind": "trends", "series": [{"event": "$pageview"}]},
    }
    tiles = {
        k: boards.add_tile(console.pid, board.id, insights.create(console.pid, k, q).id).id for k, q in queries.items()
    }
    client = console.signed_in("vi@example.com", Role.viewer)
    base = f"/projects/{console.pid}/dashboards/{board.id}/tiles"
    figures = {k: client.get(f"{base}/{t}/result").json()["figure"] for k, t in tiles.items()}
    assert figures["paths"]["data"][0]["type"] == "sankey"
    assert "1. signed_up" in figures["paths"]["data"][0]["node"]["label"]
    funnel = figures["funnel"]["data"][0]
    assert funnel["type"] == "bar" and funnel["x"] == ["1. signed_up", "2. purchase"] and funnel["text"][0] == "100.0%"
    assert figures["retention"]["data"][0]["type"] == "heatmap"
    assert figures["trends"] is None  # lines are drawn in the page from the rows


def test_dashboard_range_keeps_projects_apart(console: ConsoleHarness) -> None:
    other = console.runtime.projects.create("Other")
    insight = InsightService(console.runtime.metadata).create(
        other.project.id, "x", {"kind": "trends", "series": [{"event": "a"}]}
    )
    boards = DashboardService(console.runtime.metadata)
    theirs = boards.create(other.project.id, "Theirs")
    tile = boards.add_tile(other.project.id, theirs.id, insight.id).id
    client = console.signed_in("vi@example.com", Role.viewer)
    for path in (
        f"/projects/{console.pid}/dashboards/{theirs.id}?range=last_7",
        f"/projects/{console.pid}/dashboards/{theirs.id}/tiles/{tile}/result?date_from=2024-05-01",
        f"/projects/{other.project.id}/dashboards/{theirs.id}?range=last_7",
    ):
        assert client.get(path).status_code == 404, path
