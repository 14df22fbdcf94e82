"""Insight pages over HTTP: every kind runs on a small event log, errors name the field, share codes, CSV."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsloop.accounts.roles import Role
from opsloop.dashboards.sharing import decode_query, encode_query
from opsloop.web.console.insight_pages import kind_of_model
from opsloop.web.console.languages import LANGUAGE_COOKIE
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.insight_data import EVIL, load_events, shop_events


class _Table(HTMLParser):
    """The cells of the page's result table, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "result-table") in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "th":
            # Headers are translated; `data-column` keeps the column's name (as in the CSV).
            self.rows[-1].append(dict(attrs).get("data-column") or "")
        elif self.inside and tag == "td":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table(html: str) -> list[dict[str, str]]:
    """The result table as dicts by column name."""
    parser = _Table()
    parser.feed(html)
    header, *rows = parser.rows
    return [dict(zip(header, row, strict=True)) for row in rows]


def alert(html: str) -> str:
    """The page's error message ("" when none)."""
    found = re.search(r"<span data-error>(.*?)</span>", html, re.S)
    return found.group(1) if found else ""


def share_code(html: str) -> str:
    """The page's shareable query code."""
    found = re.search(r'value="[^"]*\?q=([A-Za-z0-9_-]+)" data-share-link', html)
    assert found, "the page has no shareable link"
    return found.group(1)


@pytest.fixture
def shop(console: ConsoleHarness) -> tuple[ConsoleHarness, TestClient, dt.date]:
    """An operator's browser on a UTC project holding `shop_events` (today is the harness's UTC today)."""
    client = console.signed_in("op@example.com", Role.operator)
    today = dt.datetime.now(dt.UTC).date()
    load_events(client, console.runtime, console.project, shop_events(today))
    return console, client, today


#: The funnel steps' values in a page (not the blank row template for new steps).
STEP_VALUES = r'id="step-\d+" name="step" list="dl-events" value="([^"]*)"'


def day(today: dt.date, days_ago: int) -> str:
    return (today - dt.timedelta(days=days_ago)).isoformat()


# Each kind's form parameters and what the table must say (see `shop_events` for the log).
LAST_7 = [("run", "1"), ("range", "last_7")]
CASES: dict[str, list[tuple[str, str]]] = {
    "trends": [("series_event", "pageview"), ("series_math", "total"), ("series_property", ""), ("interval", "day")],
    "active_users": [("event", "$any")],
    "stickiness": [("event", "pageview"), ("interval", "day"), ("period", "range")],
    "retention": [("start_event", "pageview"), ("return_event", "pageview"), ("period", "day"), ("intervals", "4")],
    "funnel": [("step", "pageview"), ("step", "signup"), ("step", "purchase"), ("window_value", "1")],
    "paths": [("start_event", "pageview"), ("steps", "3")],
    "lifecycle": [("event", "pageview"), ("interval", "day")],
    "distribution": [("event", "pageview"), ("per", "range")],
    "growth": [("event", "pageview"), ("interval", "day")],
    "sql": [("sql", "select event, count(*) as n from events where event = 'pageview' group by event")],
}


def check(kind: str, rows: list[dict[str, str]], today: dt.date) -> None:
    """The numbers each kind must show, worked out by hand from `shop_events`."""
    if kind == "trends":
        # Pageviews: ann and bob on d-3, ann and cat on d-2, bob on d-1, none today.
        got = {r["date"]: r["value"] for r in rows}
        assert [got[day(today, n)] for n in (3, 2, 1, 0)] == ["2", "2", "1", "0"]
    elif kind == "active_users":
        by_date = {r["date"]: r for r in rows}
        # d-1: bob and dan are active; the 7 days to d-1 hold all four persons.
        assert by_date[day(today, 1)]["dau"] == "2" and by_date[day(today, 1)]["wau"] == "4"
    elif kind == "stickiness":
        # Pageview days: ann 2 (d-3, d-2), bob 2 (d-3, d-1), cat 1 (d-2).
        got = {r["units"]: r["persons"] for r in rows}
        assert got["1"] == "1" and got["2"] == "2" and got["3"] == "0"
    elif kind == "retention":
        got = {(r["date"], r["period"]): r["count"] for r in rows}
        # Cohort d-3 (ann, bob): ann back on d-2, bob on d-1, nobody today (a period up to date_to is reported).
        assert [got.get((day(today, 3), str(k))) for k in range(5)] == ["2", "1", "1", "0", None]
        # Cohort d-2 (cat): not back on d-1 or today.
        assert [got.get((day(today, 2), str(k))) for k in range(4)] == ["1", "0", "0", None]
    elif kind == "funnel":
        # Three viewed, ann and bob signed up, ann bought.
        assert [r["count"] for r in rows] == ["3", "2", "1"]
        assert rows[2]["conversion_from_first"] == "0.3333"
    elif kind == "paths":
        # ann: pageview, signup, purchase; bob: pageview, signup, pageview; cat: pageview.
        got = {(r["source"], r["target"]): r["persons"] for r in rows}
        assert got == {
            ("1_pageview", "2_signup"): "2",
            ("2_signup", "3_purchase"): "1",
            ("2_signup", "3_pageview"): "1",
        }
    elif kind == "lifecycle":
        got = {r["date"]: (r["new"], r["returning"], r["resurrecting"], r["dormant"]) for r in rows}
        # d-3: ann, bob new; d-2: cat new, ann returning, bob dormant; d-1: bob back, ann and cat dormant.
        assert got[day(today, 3)] == ("2", "0", "0", "0")
        assert got[day(today, 2)] == ("1", "1", "0", "1")
        assert got[day(today, 1)] == ("0", "0", "1", "2")
    elif kind == "distribution":
        # Pageviews in the range: ann 2, bob 2, cat 1.
        got = {r["min"]: r["persons"] for r in rows}
        assert got["1"] == "1" and got["2"] == "2"
    elif kind == "growth":
        got = {r["date"]: (r["active"], r["new"], r["retained"], r["churned"]) for r in rows}
        assert got[day(today, 2)] == ("2", "1", "1", "1")
    elif kind == "sql":
        assert rows == [{"event": "pageview", "n": "5"}]


@pytest.mark.parametrize("kind", list(CASES))
def test_each_kind_runs_on_the_event_log(shop: tuple[ConsoleHarness, TestClient, dt.date], kind: str) -> None:
    console, client, today = shop
    response = client.get(f"/projects/{console.pid}/insights/{kind}", params=LAST_7 + CASES[kind])
    assert response.status_code == 200, alert(response.text)
    assert alert(response.text) == ""
    check(kind, table(response.text), today)
    # The chart's figure travels as JSON (no inline script); SQL is a table only.
    assert ('id="insight-figure"' in response.text) == (kind != "sql")
    # The form offers what the project received (event names in the datalist).
    assert '<option value="signup">' in response.text
    # The shareable code stands for the query the page ran.
    assert kind_of_model(decode_query(share_code(response.text))) == kind


def test_pages_open_with_defaults_and_list_every_kind(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    index = client.get(f"/projects/{console.pid}/insights").text
    for kind in CASES:
        assert f'href="/projects/{console.pid}/insights/{kind}"' in index
        page = client.get(f"/projects/{console.pid}/insights/{kind}")
        assert page.status_code == 200 and alert(page.text) == "", (kind, alert(page.text))
        assert table(page.text), kind  # the default query shows something on a project with events
    # The default funnel uses the two most used events that are not automatic (`$...`) ones.
    funnel = client.get(f"/projects/{console.pid}/insights/funnel").text
    assert re.findall(STEP_VALUES, funnel) == ["pageview", "signup"]
    assert client.get(f"/projects/{console.pid}/insights/nope").status_code == 404


def test_hidden_catalogue_entries_are_not_offered(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    from opsloop.users.catalogue import CatalogueEdit

    console, client, _ = shop
    console.runtime.catalogue.refresh(console.pid)
    console.runtime.catalogue.edit(console.pid, "event", "signup", CatalogueEdit(hidden=True))
    console.runtime.catalogue.edit(console.pid, "event_property", "plan", CatalogueEdit(hidden=True))
    html = client.get(f"/projects/{console.pid}/insights/trends").text
    assert '<option value="signup">' not in html and '<option value="plan">' not in html
    assert '<option value="purchase">' in html and '<option value="amount">' in html


def test_bad_input_is_a_400_naming_the_field(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, today = shop
    base = f"/projects/{console.pid}/insights"
    cases = [
        ("trends", [("series_event", "pageview"), ("series_math", "sum"), ("series_property", "")], "series.0"),
        ("retention", [("start_event", "pageview"), ("intervals", "lots")], "intervals"),
        ("funnel", [("step", "pageview")], "steps"),
        ("trends", [("series_event", "pageview"), ("formula", "A +* B")], "formula"),
        ("paths", [("start_event", "pageview"), ("end_event", "signup")], "start_event and end_event"),
        ("sql", [("sql", "delete from events")], "only SELECT"),
    ]
    for kind, params, field in cases:
        response = client.get(f"{base}/{kind}", params=[("run", "1"), *params])
        assert response.status_code == 400, (kind, response.text[:200])
        assert field in alert(response.text), (kind, alert(response.text))
    # A custom range that ends before it starts; the form keeps what was typed.
    params = [("run", "1"), ("range", "custom"), ("date_from", day(today, 1)), ("date_to", day(today, 5))]
    response = client.get(f"{base}/active_users", params=params)
    assert response.status_code == 400 and "date_to" in alert(response.text)
    assert f'value="{day(today, 5)}"' in response.text
    # A filter comparing a number with text.
    params = [("run", "1"), ("event", "purchase"), ("filter_property", "amount"), ("filter_type", "event")]
    params += [("filter_op", "gt"), ("filter_value", "lots")]
    response = client.get(f"{base}/active_users", params=params)
    assert response.status_code == 400 and "filters.0" in alert(response.text)
    response = client.get(f"{base}/trends", params={"q": "not a code!"})
    assert response.status_code == 400 and alert(response.text).startswith("q:")


def test_filters_and_breakdown(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, today = shop
    base = [*LAST_7, ("series_event", "pageview"), ("series_math", "persons"), ("series_property", "")]
    # plan = free: bob (d-3, d-1) and cat (d-2).
    params = [*base, ("filter_property", "plan"), ("filter_type", "event"), ("filter_op", "eq")]
    params += [("filter_value", "free"), ("filter_property", ""), ("filter_type", "event"), ("filter_op", "eq")]
    params += [("filter_value", "")]  # an empty row added and left blank is ignored
    rows = table(client.get(f"/projects/{console.pid}/insights/trends", params=params).text)
    assert [r["value"] for r in rows if r["date"] in (day(today, 3), day(today, 2), day(today, 1))] == ["1", "1", "1"]
    # A purchase amount of at least 30 (a number, as the catalogue types `amount`).
    params = [*LAST_7, ("series_event", "purchase"), ("series_math", "total"), ("series_property", "")]
    params += [("filter_property", "amount"), ("filter_type", "event"), ("filter_op", "gte"), ("filter_value", "30")]
    rows = table(client.get(f"/projects/{console.pid}/insights/trends", params=params).text)
    assert sum(int(r["value"]) for r in rows) == 1
    # Broken down by plan: one line per value.
    params = [*base, ("breakdown", "plan"), ("breakdown_type", "event")]
    rows = table(client.get(f"/projects/{console.pid}/insights/trends", params=params).text)
    assert {r["breakdown_value"] for r in rows} == {"free", "pro"}


def test_share_code_round_trip(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    base = f"/projects/{console.pid}/insights"
    built = client.get(f"{base}/funnel", params=LAST_7 + CASES["funnel"])
    code = share_code(built.text)
    opened = client.get(f"{base}/funnel", params={"q": code})
    assert opened.status_code == 200
    # The form comes back filled in, and the same numbers show.
    assert re.findall(STEP_VALUES, opened.text) == ["pageview", "signup", "purchase"]
    assert 'id="window_value" name="window_value" type="number" min="1" value="1"' in opened.text
    assert 'value="last_7" selected' in opened.text
    assert table(opened.text) == table(built.text)
    # A code of another kind opens that kind's page.
    moved = client.get(f"{base}/trends", params={"q": code})
    assert moved.status_code == 303 and moved.headers["location"].startswith(f"{base}/funnel?q=")


def test_csv_export(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    base = f"/projects/{console.pid}/insights"
    page = client.get(f"{base}/funnel", params=LAST_7 + CASES["funnel"]).text
    code = share_code(page)
    assert f'href="{base}/funnel/export.csv?q={code}"' in page
    response = client.get(f"{base}/funnel/export.csv", params={"q": code})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("breakdown_value,step,event,label,count")
    assert [line.split(",")[4] for line in lines[1:]] == ["3", "2", "1"]
    # For Excel: a byte order mark, and an event name starting with "=" is not run as a formula.
    formula = encode_query({"kind": "trends", "series": [{"event": "=1+1"}]})
    excel = client.get(f"{base}/trends/export.csv", params={"q": formula, "excel": "1"})
    assert excel.content.startswith(b"\xef\xbb\xbf") and "'=1+1" in excel.text
    bad = client.get(f"{base}/trends/export.csv", params={"q": "@@"})
    assert bad.status_code == 400 and bad.text.startswith("q:")


def test_saving_needs_an_operator(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, operator, _ = shop
    base = f"/projects/{console.pid}/insights"
    code = share_code(operator.get(f"{base}/retention", params=LAST_7 + CASES["retention"]).text)
    csrf = console.csrf(operator, base)
    saved = operator.post(base, data={"name": "Pageview retention", "kind": "retention", "q": code, "csrf_token": csrf})
    assert saved.status_code == 303
    location = saved.headers["location"]
    assert location.startswith(f"{base}/retention?q=") and "saved=" in location
    page = operator.get(location).text
    assert "Insight saved." in page and "Pageview retention" in page
    [insight] = _saved(console)
    assert insight.name == "Pageview retention" and insight.query["start_event"] == "pageview"
    assert insight.query["intervals"] == 4
    # A name is required (400 naming it); a request without the CSRF token is refused.
    empty = operator.post(base, data={"name": " ", "kind": "retention", "q": code, "csrf_token": csrf})
    assert empty.status_code == 400 and alert(empty.text).startswith("name:")
    assert operator.post(base, data={"name": "x", "kind": "retention", "q": code}).status_code == 403
    # A viewer runs insights and sees the saved ones, but cannot save.
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    page = viewer.get(f"{base}/retention", params={"q": code}).text
    assert "Pageview retention" in page and 'action="' + base + '"' not in page
    assert "saving them needs the operator role" in page
    csrf = console.csrf(viewer, base)
    refused = viewer.post(base, data={"name": "Mine", "kind": "retention", "q": code, "csrf_token": csrf})
    assert refused.status_code == 403
    assert len(_saved(console)) == 1


def test_saved_insights_are_renamed_and_deleted_from_the_list_by_operators_only(
    shop: tuple[ConsoleHarness, TestClient, dt.date],
) -> None:
    from opsloop.dashboards.insights import InsightService

    console, operator, _ = shop
    base = f"/projects/{console.pid}/insights"
    service = InsightService(console.runtime.metadata)
    first = service.create(console.pid, "Signups", {"kind": "trends", "series": [{"event": "signup"}]})
    second = service.create(console.pid, "Views", {"kind": "trends", "series": [{"event": "pageview"}]})
    csrf = console.csrf(operator, base)
    renamed = operator.post(f"{base}/saved/{first.id}/rename", data={"name": "<b>New signups</b>", "csrf_token": csrf})
    assert renamed.status_code == 303 and renamed.headers["location"] == f"{base}?done=renamed"
    page = operator.get(renamed.headers["location"]).text
    assert "Insight renamed." in page and "&lt;b&gt;New signups&lt;/b&gt;" in page and "<b>New" not in page
    blank = operator.post(f"{base}/saved/{first.id}/rename", data={"name": " ", "csrf_token": csrf})
    assert blank.status_code == 400 and alert(blank.text).startswith("name:")
    assert operator.post(f"{base}/saved/{first.id}/delete").status_code == 403  # no CSRF token
    # A viewer sees the list without the forms, and its POSTs are refused.
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    assert f"/saved/{first.id}/delete" not in viewer.get(base).text
    viewer_csrf = console.csrf(viewer, base)
    assert viewer.post(f"{base}/saved/{first.id}/delete", data={"csrf_token": viewer_csrf}).status_code == 403
    # Another project's insight is not found from this project's pages.
    other = console.runtime.projects.create("Other")
    theirs = service.create(other.project.id, "Theirs", {"kind": "trends", "series": [{"event": "x"}]})
    assert operator.post(f"{base}/saved/{theirs.id}/delete", data={"csrf_token": csrf}).status_code == 404
    deleted = operator.post(f"{base}/saved/{first.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and "Insight deleted." in operator.get(deleted.headers["location"]).text
    assert [s.name for s in _saved(console)] == [second.name]
    assert [s.name for s in service.list(other.project.id)] == ["Theirs"]


def _saved(console: ConsoleHarness) -> list[Any]:
    from opsloop.dashboards.insights import InsightService

    return InsightService(console.runtime.metadata).list(console.pid)


def test_other_projects_insights_are_not_found(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    other = console.runtime.projects.create("Other")
    assert client.get(f"/projects/{other.project.id}/insights/trends").status_code == 404
    code = encode_query({"kind": "trends", "series": [{"event": "pageview"}]})
    assert client.get(f"/projects/{other.project.id}/insights/trends/export.csv", params={"q": code}).status_code == 404


def test_empty_project_says_what_to_do(console: ConsoleHarness) -> None:
    client = console.signed_in("new@example.com", Role.viewer)
    for kind in ("trends", "funnel", "retention"):
        html = client.get(f"/projects/{console.pid}/insights/{kind}").text
        assert "No events yet" in html and "<code>opsloop demo</code>" in html, kind
        assert 'id="insight-figure"' not in html


def test_event_and_property_names_are_escaped_on_every_insight_page(
    shop: tuple[ConsoleHarness, TestClient, dt.date],
) -> None:
    console, client, _ = shop
    escaped = "&lt;script&gt;window.pwned=1&lt;/script&gt;"
    own_scripts = [f'<script src="/static/{name}" defer>'
                   for name in ("console.js", "vendor/plotly.min.js", "date_range.js", "insights.js")]  # fmt: skip
    evil_params: dict[str, list[tuple[str, str]]] = {
        "trends": [("series_event", EVIL), ("series_math", "total"), ("series_property", ""), ("breakdown", EVIL)],
        "funnel": [("step", EVIL), ("step", "pageview")],
        "retention": [("start_event", EVIL), ("return_event", EVIL)],
        "paths": [("start_event", EVIL)],
        "sql": [("sql", f"select '{EVIL}' as evil")],
    }
    for kind in CASES:
        params = [*LAST_7, *evil_params.get(kind, [("event", EVIL)])]
        params += [("filter_property", EVIL), ("filter_type", "event"), ("filter_op", "eq"), ("filter_value", EVIL)]
        html = client.get(f"/projects/{console.pid}/insights/{kind}", params=params).text
        assert EVIL not in html, kind
        assert escaped in html, kind  # shown, as text (the datalist offers it, the form keeps it)
        scripts = [s for s in re.findall(r"<script[^>]*>", html) if "application/json" not in s]
        assert scripts == own_scripts, kind
        # Inside the chart's JSON, "<" is written as \u003c: the block cannot be closed early.
        figure = re.search(r'<script type="application/json" id="insight-figure">(.*?)</script>', html, re.S)
        if figure:
            assert "<" not in figure.group(1), kind
    # Plotly labels are escaped too (Plotly reads a little HTML in labels).
    html = client.get(f"/projects/{console.pid}/insights/trends", params=LAST_7 + evil_params["trends"][:3]).text
    figure = re.search(r'id="insight-figure">(.*?)</script>', html, re.S)
    assert figure and "\\u0026lt;script\\u0026gt;" in figure.group(1)


def test_trends_as_bars_and_translated_headers(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    params = [*LAST_7, *CASES["trends"]]
    lines = client.get(f"/projects/{console.pid}/insights/trends", params=params).text
    bars = client.get(f"/projects/{console.pid}/insights/trends", params=[*params, ("display", "bar")]).text
    assert '"type": "scatter"' in lines and '"type": "bar"' not in lines
    assert '"type": "bar"' in bars and "display=bar" in re.search(r'value="([^"]*)" data-share-link', bars)[1]
    assert table(bars) == table(lines)  # the same numbers, drawn another way
    # Headers are translated; the column's name (as in the CSV) stays in `data-column`.
    client.cookies.set(LANGUAGE_COOKIE, "zh_Hans")
    chinese = client.get(f"/projects/{console.pid}/insights/trends", params=params).text
    assert '<th scope="col" data-column="date" title="date">日期</th>' in chinese
    assert "<h1>趋势</h1>" in chinese


def test_a_query_stopped_by_the_time_limit_says_so(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    settings = console.runtime.settings
    console.runtime.settings = settings.model_copy(update={"sql_timeout_seconds": 0.3})
    slow = "select sum(x) as total from generate_series(1, 50000000000) as t(x)"  # minutes of work
    try:
        response = client.get(f"/projects/{console.pid}/insights/sql", params={"run": "1", "sql": slow})
    finally:
        console.runtime.settings = settings
    assert response.status_code == 408
    assert "The query took too long and was stopped." in alert(response.text)


def test_breakdowns_of_funnels_and_retention(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, today = shop
    breakdown = [("breakdown", "plan"), ("breakdown_type", "event")]
    rows = table(
        client.get(f"/projects/{console.pid}/insights/funnel", params=LAST_7 + CASES["funnel"] + breakdown).text
    )
    # The plan of each person's first step: ann pro (3 steps), bob and cat free (bob signs up).
    got = {(r["breakdown_value"], r["step"]): r["count"] for r in rows}
    assert got[("pro", "3")] == "1" and got[("free", "1")] == "2" and got[("free", "2")] == "1"
    params = LAST_7 + CASES["retention"] + breakdown
    rows = table(client.get(f"/projects/{console.pid}/insights/retention", params=params).text)
    sizes = {(r["date"], r["breakdown_value"]): r["size"] for r in rows}
    assert sizes[(day(today, 3), "pro")] == "1" and sizes[(day(today, 3), "free")] == "1"


def test_new_events_are_offered_at_once_and_big_catalogues_are_not_waited_for(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsloop.web.console import insight_pages

    client = console.signed_in("op@example.com", Role.operator)
    today = dt.datetime.now(dt.UTC).date()
    # A project "too big" for the page to compute the catalogue: events are offered, properties not yet.
    monkeypatch.setattr(insight_pages, "INLINE_CATALOGUE_EVENTS", 0)
    load_events(client, console.runtime, console.project, shop_events(today))
    html = client.get(f"/projects/{console.pid}/insights/trends").text
    assert '<option value="signup">' in html and '<option value="plan">' not in html
    assert "<code>opsloop catalogue refresh</code>" in html
    assert console.runtime.catalogue.refreshed_at(console.pid) is None
    # Once computed, properties are offered; an event sent later is offered at once (event names are live).
    console.runtime.catalogue.refresh(console.pid)
    later = [{"event": "refund", "distinct_id": "ann", "timestamp": f"{today}T09:00:00+00:00", "properties": {}}]
    load_events(client, console.runtime, console.project, later)
    html = client.get(f"/projects/{console.pid}/insights/trends").text
    assert '<option value="plan">' in html and '<option value="refund">' in html
    assert "opsloop catalogue refresh" not in html


def test_saved_insight_names_are_escaped(shop: tuple[ConsoleHarness, TestClient, dt.date]) -> None:
    console, client, _ = shop
    base = f"/projects/{console.pid}/insights"
    code = encode_query({"kind": "trends", "series": [{"event": "pageview"}]})
    csrf = console.csrf(client, base)
    assert client.post(base, data={"name": EVIL, "kind": "trends", "q": code, "csrf_token": csrf}).status_code == 303
    for path in (base, f"{base}/trends", f"{base}/funnel"):
        html = client.get(path).text
        assert EVIL not in html and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html, path
