"""The property catalogue page over HTTP: never computed by opening it, refreshed in a background thread (the
request returns at once and the page says so), statistics shown, entries edited and hidden by operators only."""

from __future__ import annotations

import threading

from opsloop.accounts.roles import Role
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.segment_data import shop


def test_refresh_runs_in_the_background_and_the_page_shows_it(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/catalogue"
    first = client.get(base)
    assert first.status_code == 200 and "The catalogue has not been computed yet." in first.text
    assert console.runtime.catalogue.refreshed_at(console.pid) is None  # opening the page computed nothing

    # Hold the refresh inside its thread until the test lets it go: the POST must not wait for it.
    release, entered = threading.Event(), threading.Event()
    real_refresh = console.runtime.catalogue.refresh

    def slow_refresh(project_id: int) -> int:
        entered.set()
        assert release.wait(30)
        return real_refresh(project_id)

    console.runtime.catalogue.refresh = slow_refresh  # type: ignore[method-assign]
    token = console.csrf(client, base)
    started = client.post(f"{base}/refresh", data={"csrf_token": token})
    assert started.status_code == 303 and started.headers["location"] == base
    assert entered.wait(10)
    running = client.get(base).text
    assert "Refreshing the catalogue" in running and 'data-running="true"' in running
    assert client.get(f"{base}/status").json()["running"] is True
    # A second press while it runs starts nothing new.
    assert client.post(f"{base}/refresh", data={"csrf_token": token}).status_code == 303
    release.set()
    console.app.state.catalogue_refreshes.wait(console.pid)
    status = client.get(f"{base}/status").json()
    # Entries: 2 events (purchase, view_item), 2 event properties (amount, item), 3 person properties.
    assert status["running"] is False and status["error"] is None and status["entries"] == 7

    events = client.get(base).text
    assert "Refreshing the catalogue" not in events and "Statistics as of" in events
    purchase = events.split('<code class="entry-name">purchase</code>')[1].split("</tr>")[0]
    assert '<td class="num">4</td>' in purchase  # ann 2, bob 1, dan 1 purchases
    persons = client.get(f"{base}?kind=person_property").text
    country = persons.split('<code class="entry-name">country</code>')[1].split("</tr>")[0]
    # Four persons have a country: ES twice, then CN and GB once each (ties by value).
    assert "<td>text</td>" in country and '<td class="num">4</td>' in country
    assert country.index("ES <small>2</small>") < country.index("CN <small>1</small>") < country.index("GB")
    assert "birth_year" in persons and "<td>number</td>" in persons


def test_refresh_errors_are_shown(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/catalogue"

    def broken(project_id: int) -> int:
        raise RuntimeError("the events store is <gone>")

    console.runtime.catalogue.refresh = broken  # type: ignore[method-assign]
    client.post(f"{base}/refresh", data={"csrf_token": console.csrf(client, base)})
    console.app.state.catalogue_refreshes.wait(console.pid)
    page = client.get(base).text
    assert "The last refresh failed: the events store is &lt;gone&gt;" in page


def test_edit_hide_roles_and_isolation(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    console.runtime.catalogue.refresh(console.pid)
    base = f"/projects/{console.pid}/catalogue"
    operator = console.signed_in("op@example.com", Role.operator)
    token = console.csrf(operator, base)
    saved = operator.post(
        f"{base}/event/edit",
        data={
            "csrf_token": token,
            "name": "purchase",
            "display_name": "Order <b>placed</b>",
            "description": "<script>window.pwned=1</script>",
            "next": f"{base}?kind=event&q=&hidden=true",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{base}?kind=event&q=&hidden=true&done=saved"
    page = operator.get(saved.headers["location"]).text
    assert "Catalogue entry saved." in page
    assert "Order &lt;b&gt;placed&lt;/b&gt;" in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "<script>window.pwned" not in page

    hide = operator.post(f"{base}/event/edit", data={"csrf_token": token, "name": "view_item", "hidden": "true"})
    assert hide.status_code == 303
    hidden = {e.name for e in console.runtime.catalogue.entries(console.pid, "event") if e.hidden}
    assert hidden == {"view_item"}
    assert "view_item" in operator.get(base).text  # shown, marked hidden
    assert "view_item" not in operator.get(f"{base}?hidden=false").text
    assert "view_item" not in operator.get(f"{base}?q=PURCH").text  # name contains, any case
    assert "purchase" in operator.get(f"{base}?q=PURCH").text
    # Names offered by the segment editor leave the hidden entry out.
    assert '<option value="view_item">' not in operator.get(f"/projects/{console.pid}/segments/new").text
    operator.post(f"{base}/event/edit", data={"csrf_token": token, "name": "view_item", "hidden": "false"})
    assert not any(e.hidden for e in console.runtime.catalogue.entries(console.pid, "event"))

    missing = operator.post(f"{base}/event/edit", data={"csrf_token": token, "name": "nope", "hidden": "true"})
    assert missing.status_code == 404
    too_long = operator.post(
        f"{base}/event/edit", data={"csrf_token": token, "name": "purchase", "display_name": "x" * 250}
    )
    assert too_long.status_code == 400 and "display_name" in too_long.text
    assert operator.post(f"{base}/event/edit", data={"name": "purchase", "hidden": "true"}).status_code == 403

    viewer = console.signed_in("vi@example.com", Role.viewer)
    page = viewer.get(base).text
    assert "purchase" in page and "Refresh catalogue" not in page and "Edit entry" not in page
    vtoken = console.csrf(viewer, base)
    assert viewer.post(f"{base}/refresh", data={"csrf_token": vtoken}).status_code == 403
    edit = {"csrf_token": vtoken, "name": "purchase", "hidden": "true"}
    assert viewer.post(f"{base}/event/edit", data=edit).status_code == 403

    other = console.runtime.projects.create("Other")
    stranger = console.signed_in("st@example.com", Role.admin, project=other)
    assert stranger.get(base).status_code == 404 and stranger.get(f"{base}/status").status_code == 404
