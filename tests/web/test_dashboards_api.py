"""The dashboards JSON API over HTTP: KPIs, insights, dashboards and tiles, shareable codes, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import httpx
import pytest

from opsloop.projects import NewProject
from tests.conftest import LiveServer

FUNNEL = {"kind": "funnel", "steps": [{"event": "pageview"}, {"event": "purchase"}]}
TRENDS = {"kind": "trends", "series": [{"event": "pageview", "math": "persons"}]}


def auth(project: NewProject) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.api_key}"}


class Api:
    """Calls as one project's API key, on that project's paths."""

    def __init__(self, server: LiveServer, project: NewProject) -> None:
        self.client = server.client
        self.base = f"/api/projects/{project.project.id}"
        self.headers = auth(project)

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, self.base + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = self(method, path, **kwargs)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    def error(self, method: str, path: str, status: int, message: str, **kwargs: Any) -> None:
        r = self(method, path, **kwargs)
        assert r.status_code == status, r.text
        assert message in r.json()["detail"], r.json()["detail"]


def capture(server: LiveServer, events: list[tuple[str, str, dt.datetime, dict[str, Any]]]) -> None:
    batch = [
        {"event": e, "distinct_id": who, "timestamp": at.isoformat(), "properties": props}
        for who, e, at, props in events
    ]
    r = server.client.post("/batch/", json={"api_key": server.project.token, "batch": batch})
    assert r.status_code == 200, r.text
    server.flush()


def test_kpis_over_http(live_server: LiveServer) -> None:
    # A UTC project; yesterday: ann views and buys for 12.5, bob views; the day before, ann views.
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    noon = dt.datetime.combine(yesterday, dt.time(12), tzinfo=dt.UTC)
    capture(
        live_server,
        [
            ("ann", "pageview", noon - dt.timedelta(days=1), {}),
            ("ann", "pageview", noon, {}),
            ("ann", "purchase", noon + dt.timedelta(minutes=5), {"revenue": 12.5}),
            ("bob", "pageview", noon, {}),
        ],
    )
    api = Api(live_server, live_server.project)
    got = api.ok("GET", "/kpis", params={"days": 1})
    assert got["date_to"] == yesterday.isoformat() and got["days"] == 1
    # Yesterday: 2 active (ann, bob), bob new; the day before: ann, new then.
    assert got["dau"]["value"] == 2 and got["dau"]["previous"] == 1 and got["dau"]["change_percent"] == 100
    assert got["new_persons"]["value"] == 1 and got["new_persons"]["previous"] == 1
    # ann came back the next day: D1 of the day before's cohort is 1/1.
    assert got["d1_retention"]["value"] == 1
    assert got["revenue"]["value"] == 12.5 and got["arpu"]["value"] == 6.25
    # Detected funnel `$any` -> purchase: ann converts, bob does not.
    assert got["funnel_detected"] and got["funnel_conversion"]["value"] == 0.5
    # Configure the funnel: pageview -> purchase, and a revenue property that no event has.
    settings = {"core_funnel": {"steps": FUNNEL["steps"]}, "revenue_property": "amount"}
    assert api.ok("PUT", "/kpis/settings", json=settings)["revenue_property"] == "amount"
    assert api.ok("GET", "/kpis/settings")["core_funnel"]["steps"][0]["event"] == "pageview"
    got = api.ok("GET", "/kpis", params={"days": 1, "date_to": yesterday.isoformat()})
    assert not got["funnel_detected"] and got["funnel_conversion"]["value"] == 0.5 and got["revenue"]["value"] == 0
    # Bad input: 400 naming the field.
    api.error("GET", "/kpis", 400, "days", params={"days": 0})
    api.error("GET", "/kpis", 400, "days", params={"days": 91})
    api.error("GET", "/kpis", 400, "date_to", params={"date_to": "yesterday"})
    api.error("PUT", "/kpis/settings", 400, "core_funnel.steps", json={"core_funnel": {"steps": []}})
    api.error("PUT", "/kpis/settings", 400, "purchase_event", json={"purchase_event": ""})


def test_insights_and_dashboards_over_http(live_server: LiveServer) -> None:
    capture(live_server, [("ann", "pageview", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), {})])
    api = Api(live_server, live_server.project)
    funnel = api.ok("POST", "/insights", 201, json={"name": "Funnel", "query": FUNNEL, "description": "d"})
    trends = api.ok("POST", "/insights", 201, json={"name": "Viewers", "query": TRENDS})
    assert {i["id"] for i in api.ok("GET", "/insights")} == {funnel["id"], trends["id"]}
    assert api.ok("GET", f"/insights/{funnel['id']}")["query"]["window"] == {"value": 14, "unit": "day"}
    renamed = api.ok("PATCH", f"/insights/{trends['id']}", json={"name": "Daily viewers"})
    assert renamed["name"] == "Daily viewers" and renamed["query"] == trends["query"]
    result = api.ok("GET", f"/insights/{trends['id']}/result")
    assert result["series"][0]["total"] == 1  # ann, within the default last 30 days
    # The same insight over another range (a dashboard's date picker): nobody was active in 2020.
    old = api.ok("GET", f"/insights/{trends['id']}/result", params={"date_from": "2020-01-01", "date_to": "2020-01-03"})
    assert old["series"][0]["dates"] == ["2020-01-01", "2020-01-02", "2020-01-03"] and old["series"][0]["total"] == 0
    api.error("GET", f"/insights/{trends['id']}/result", 400, "date_to", params={"date_to": "2020-13-01"})
    bad_range = {"date_from": "2020-01-03", "date_to": "2020-01-01"}
    api.error("GET", f"/insights/{trends['id']}/result", 400, "is before date_from", params=bad_range)
    r = api("GET", f"/insights/{trends['id']}/result.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(r.text)))[0][0] == "label"

    board = api.ok("POST", "/dashboards", 201, json={"name": "Daily"})
    t1 = api.ok("POST", f"/dashboards/{board['id']}/tiles", 201, json={"insight_id": funnel["id"]})
    t2 = api.ok("POST", f"/dashboards/{board['id']}/tiles", 201, json={"insight_id": trends["id"], "size": "large"})
    order = api.ok("PUT", f"/dashboards/{board['id']}/tiles/order", json={"tile_ids": [t2["id"], t1["id"]]})
    assert [t["id"] for t in order["tiles"]] == [t2["id"], t1["id"]]
    assert api.ok("PATCH", f"/dashboards/{board['id']}/tiles/{t1['id']}", json={"size": "small"})["size"] == "small"
    assert api.ok("PATCH", f"/dashboards/{board['id']}", json={"name": "Morning"})["name"] == "Morning"
    listed = api.ok("GET", "/dashboards")
    assert [(d["name"], d["tile_count"]) for d in listed] == [("Morning", 2)]
    after = api.ok("DELETE", f"/dashboards/{board['id']}/tiles/{t2['id']}")
    assert [t["id"] for t in after["tiles"]] == [t1["id"]]
    assert api("DELETE", f"/insights/{funnel['id']}").status_code == 204
    assert api.ok("GET", f"/dashboards/{board['id']}")["tiles"] == []
    assert api("DELETE", f"/dashboards/{board['id']}").status_code == 204
    api.error("GET", f"/dashboards/{board['id']}", 404, f"no dashboard {board['id']}")


def test_bad_requests_name_the_field(live_server: LiveServer) -> None:
    api = Api(live_server, live_server.project)
    insight = api.ok("POST", "/insights", 201, json={"name": "Viewers", "query": TRENDS})
    board = api.ok("POST", "/dashboards", 201, json={"name": "Daily"})
    tile = api.ok("POST", f"/dashboards/{board['id']}/tiles", 201, json={"insight_id": insight["id"]})
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/insights", {"name": "x"}, 400, "body.query"),
        ("POST", "/insights", {"name": "", "query": TRENDS}, 400, "name: must be 1 to 200"),
        ("POST", "/insights", {"name": "x", "query": {"kind": "trends"}}, 400, "query: series"),
        ("POST", "/insights", {"name": "x", "query": TRENDS, "colour": "red"}, 400, "colour"),
        ("PATCH", f"/insights/{insight['id']}", {"query": {"kind": "nope"}}, 400, "query: unknown query kind"),
        ("PATCH", "/insights/999999", {"name": "x"}, 404, "no insight 999999"),
        ("GET", "/insights/99999999999", {}, 404, "no insight 99999999999"),
        ("GET", "/dashboards/99999999999", {}, 404, "no dashboard 99999999999"),
        ("POST", "/dashboards", {}, 400, "body.name"),
        ("POST", f"/dashboards/{board['id']}/tiles", {"insight_id": 999999}, 404, "insight_id"),
        ("POST", f"/dashboards/{board['id']}/tiles", {"insight_id": "x"}, 400, "insight_id"),
        ("POST", f"/dashboards/{board['id']}/tiles", {"insight_id": insight["id"], "size": "xl"}, 400, "size"),
        ("PUT", f"/dashboards/{board['id']}/tiles/order", {"tile_ids": []}, 400, f"tile {tile['id']} is missing"),
        ("PUT", f"/dashboards/{board['id']}/tiles/order", {"tile_ids": [tile["id"], tile["id"]]}, 400, "more than"),
        ("PUT", f"/dashboards/{board['id']}/tiles/order", {"tile_ids": "x"}, 400, "tile_ids"),
        ("DELETE", f"/dashboards/{board['id']}/tiles/999999", {}, 404, "no tile 999999"),
    ]
    for method, path, body, status, message in cases:
        api.error(method, path, status, message, **({"json": body} if body or method not in ("GET", "DELETE") else {}))
    r = api("POST", "/insights", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "body" in r.json()["detail"]


def test_projects_are_isolated_over_http(live_server: LiveServer) -> None:
    a = Api(live_server, live_server.project)
    other = live_server.new_project("other")
    b = Api(live_server, other)
    insight = a.ok("POST", "/insights", 201, json={"name": "A's", "query": TRENDS})
    a_board = a.ok("POST", "/dashboards", 201, json={"name": "A"})
    b_board = b.ok("POST", "/dashboards", 201, json={"name": "B"})
    # B's key on A's paths: refused before anything is read.
    for method, path in [
        ("GET", "/kpis"),
        ("GET", "/insights"),
        ("GET", f"/insights/{insight['id']}/result"),
        ("DELETE", f"/dashboards/{a_board['id']}"),
    ]:
        r = live_server.client.request(method, a.base + path, headers=b.headers)
        assert r.status_code == 403, (path, r.text)
    assert live_server.client.get(a.base + "/insights").status_code == 401
    # On B's own paths, A's ids do not exist.
    b.error("GET", f"/insights/{insight['id']}", 404, "no insight")
    b.error("GET", f"/insights/{insight['id']}/result", 404, "no insight")
    b.error("POST", f"/dashboards/{b_board['id']}/tiles", 404, "insight_id", json={"insight_id": insight["id"]})
    b.error("PATCH", f"/dashboards/{a_board['id']}", 404, "no dashboard", json={"name": "mine"})
    assert a.ok("GET", f"/dashboards/{a_board['id']}")["name"] == "A"


@pytest.mark.parametrize("excel", [False, True])
def test_shareable_codes_and_csv_over_http(live_server: LiveServer, excel: bool) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    capture(live_server, [("ann", 'say "hi", 你好', now, {}), ("bob", "=cmd", now, {})])
    api = Api(live_server, live_server.project)
    query = {"kind": "sql", "query": "select event, count(*) as n from events group by event order by event"}
    shared = api.ok("POST", "/query/share", json=query)
    assert api.ok("GET", "/query/share", params={"q": shared["q"]})["query"] == query
    r = api("GET", "/query.csv", params={"q": shared["q"], "excel": excel})
    assert r.status_code == 200, r.text
    assert 'attachment; filename="sql-' in r.headers["content-disposition"]
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff") == excel
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    guarded = "'=cmd" if excel else "=cmd"
    assert rows == [["event", "n"], [guarded, "1"], ['say "hi", 你好', "1"]]
    api.error("GET", "/query.csv", 400, "q: not a shareable query code", params={"q": "not a code!"})
    api.error("GET", "/query.csv", 400, "q", params={})
    api.error("POST", "/query/share", 400, "unknown query kind", json={"kind": "nope"})
