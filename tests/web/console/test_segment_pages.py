"""Segment console pages over HTTP: the list, the editor (save, live size, clear errors, cycles refused), the
segment page (summary, refresh, history, export, static lists, portrait), roles, CSRF, isolation and escaping."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import threading

import pytest
from fastapi.testclient import TestClient

from opsloop.accounts.roles import Role
from opsloop.users.rfm import RfmRule
from opsloop.users.rfm_settings import RfmSettings
from opsloop.users.segments import SegmentInput
from opsloop.users.tags import TagAssignment
from opsloop.web.console import segment_pages
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import load_events
from tests.web.console.segment_data import EVIL, bought, shop

ESCAPED_EVIL = "&lt;script&gt;window.pwned=1&lt;/script&gt; buyers"


def _create(console: ConsoleHarness, client: TestClient, name: str, definition: object) -> tuple[int, str]:
    """Post the editor's form; returns the status and where it redirects (or the page)."""
    token = console.csrf(client, f"/projects/{console.pid}/segments/new")
    text = definition if isinstance(definition, str) else json.dumps(definition)
    answer = client.post(
        f"/projects/{console.pid}/segments",
        data={"csrf_token": token, "name": name, "description": "", "kind": "dynamic", "definition": text},
    )
    return answer.status_code, answer.headers.get("location") or answer.text


def _size(console: ConsoleHarness, client: TestClient, definition: object) -> tuple[int, dict[str, object]]:
    token = console.csrf(client, f"/projects/{console.pid}/segments")
    answer = client.post(
        f"/projects/{console.pid}/segments/size",
        content=definition if isinstance(definition, str) else json.dumps(definition),
        headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
    )
    return answer.status_code, answer.json()


def test_build_save_refresh_and_list_a_segment(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/segments"
    assert "No segments yet." in client.get(base).text

    editor = client.get(f"{base}/new")
    assert editor.status_code == 200
    # Event names are offered (from a count of the events until the catalogue is computed).
    assert '<option value="purchase">' in editor.text and 'id="definition-tree"' in editor.text

    # Live size: purchase at least once in the last 30 days: ann and bob (dan bought 100 days ago) = 2;
    # at least twice: ann only = 1; at any time: ann, bob and dan = 3.
    assert _size(console, client, bought()) == (200, {"size": 2})
    assert _size(console, client, bought(times=2)) == (200, {"size": 1})
    assert _size(console, client, bought(days=3650)) == (200, {"size": 3})

    status, location = _create(console, client, EVIL, bought())
    assert status == 303 and re.fullmatch(rf"{base}/\d+\?done=saved", location), location
    page = client.get(location)
    assert page.status_code == 200 and "Segment saved." in page.text
    assert ESCAPED_EVIL in page.text and "<script>window.pwned" not in page.text
    # The definition in words: "All of these / Did purchase at least 1 times in the last 30 days".
    assert "<code>purchase</code>" in page.text and "in the last 30 days" in page.text
    assert "not refreshed yet" in page.text

    segment_id = int(location.split("/")[-1].split("?")[0])
    token = console.csrf(client, base)
    refreshed = client.post(f"{base}/{segment_id}/refresh", data={"csrf_token": token})
    assert refreshed.status_code == 303 and refreshed.headers["location"].endswith("done=refreshed")
    listing = client.get(base).text
    assert ESCAPED_EVIL in listing and "<script>window.pwned" not in listing
    row = listing.split(f'id="segment-{segment_id}"')[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row and "Dynamic" in row
    history = json.loads(re.search(r'id="segment-sparks">(.*?)</script>', listing).group(1))  # type: ignore[union-attr]
    assert history[str(segment_id)]["y"] == [2]

    members = client.get(f"{base}/{segment_id}/members.csv")
    assert members.status_code == 200 and members.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(members.text)))
    assert rows[0] == ["person_id", "distinct_ids"] and sorted(r[1] for r in rows[1:]) == ["ann", "bob"]

    # Editing keeps the id; the editor shows the saved definition.
    edit = client.get(f"{base}/{segment_id}/edit")
    assert edit.status_code == 200 and "&#34;purchase&#34;" in edit.text
    token = console.csrf(client, base)
    again = client.post(
        f"{base}/{segment_id}/edit",
        data={"csrf_token": token, "name": "Repeat buyers", "definition": json.dumps(bought(times=2))},
    )
    assert again.status_code == 303
    assert console.runtime.segments.get(console.pid, segment_id).name == "Repeat buyers"


def test_bad_definitions_come_back_with_a_clear_error(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)

    unknown = bought()
    unknown["conditions"][0]["event"] = "nope"
    status, page = _create(console, client, "Typo <b>x</b>", unknown)
    assert status == 400 and "The segment was not saved." in page
    assert "definition.conditions.0.event: unknown event &#39;nope&#39;" in page
    assert 'value="Typo &lt;b&gt;x&lt;/b&gt;"' in page  # the form keeps what was typed, escaped

    status, page = _create(console, client, "Broken", '{"conditions": [')
    assert status == 400 and "definition: not valid JSON" in page
    negative = bought()
    negative["conditions"][0]["count"] = -1
    status, page = _create(console, client, "Negative", negative)
    assert status == 400 and "definition.conditions.0.event.count: Input should be greater than or equal to 0" in page
    status, page = _create(console, client, "Empty", "")
    assert status == 400 and "definition: add at least one condition" in page
    status, page = _create(console, client, "  ", bought())
    assert status == 400 and "name: name must be 1 to 200 characters" in page
    assert console.runtime.segments.saved(console.pid) == []

    # The live size says why it cannot count, as JSON, never a 500.
    status, body = _size(console, client, unknown)
    assert status == 400 and "unknown event 'nope'" in str(body["detail"])
    status, body = _size(console, client, "[1,")
    assert status == 400 and str(body["detail"]).startswith("definition: not valid JSON")
    status, body = _size(console, client, {"conditions": [{"type": "age"}]})
    assert status == 400 and "an age band needs `min`, `max` or both" in str(body["detail"])


def test_a_cycle_of_segments_is_refused_on_save(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    segments = console.runtime.segments
    a = segments.create(console.pid, SegmentInput(name="A", definition=bought()))  # type: ignore[arg-type]
    member_of_a = {"conditions": [{"type": "segment", "segment_id": a.id}]}
    b = segments.create(console.pid, SegmentInput(name="B", definition=member_of_a))  # type: ignore[arg-type]
    # A = bought AND member of B, while B = member of A: A -> B -> A.
    loop = bought()
    loop["conditions"].append({"type": "segment", "segment_id": b.id})
    token = console.csrf(client, f"/projects/{console.pid}/segments")
    answer = client.post(
        f"/projects/{console.pid}/segments/{a.id}/edit",
        data={"csrf_token": token, "name": "A", "definition": json.dumps(loop)},
    )
    assert answer.status_code == 400, answer.text
    loop_text = f"&#39;A&#39; ({a.id}) -&gt; &#39;B&#39; ({b.id}) -&gt; &#39;A&#39; ({a.id})"
    assert f"definition: segments would refer to each other in a cycle: {loop_text}" in answer.text
    assert segments.get(console.pid, a.id).definition.model_dump(mode="json")["conditions"][0]["event"] == "purchase"  # type: ignore[union-attr]
    # The editor of A offers B (and not A itself) as a segment to be a member of.
    editor = client.get(f"/projects/{console.pid}/segments/{a.id}/edit").text
    data = json.loads(re.search(r'id="segment-editor-data">(.*?)</script>', editor, re.S).group(1))  # type: ignore[union-attr]
    assert data["segments"] == [{"id": b.id, "name": "B"}]
    # A segment another refers to cannot be deleted.
    refused = client.post(f"/projects/{console.pid}/segments/{a.id}/delete", data={"csrf_token": token})
    assert refused.status_code == 400 and "is used by" in refused.text
    gone = client.post(f"/projects/{console.pid}/segments/{b.id}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and [s.name for s in segments.saved(console.pid)] == ["A"]


def test_roles_csrf_and_project_isolation(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    segment = console.runtime.segments.create(console.pid, SegmentInput(name="Buyers", definition=bought()))  # type: ignore[arg-type]
    base = f"/projects/{console.pid}/segments"
    viewer = console.signed_in("vi@example.com", Role.viewer)
    for path in (base, f"{base}/{segment.id}", f"{base}/{segment.id}/members.csv", f"{base}/{segment.id}/portrait.csv"):
        assert viewer.get(path).status_code == 200, path
    page = viewer.get(base).text
    assert "New segment" not in page
    detail = viewer.get(f"{base}/{segment.id}").text
    assert "Refresh now" not in detail and "Edit definition" not in detail
    assert viewer.get(f"{base}/new").status_code == 403
    assert viewer.get(f"{base}/{segment.id}/edit").status_code == 403
    token = console.csrf(viewer, base)
    assert viewer.post(f"{base}/{segment.id}/refresh", data={"csrf_token": token}).status_code == 403
    create = {"csrf_token": token, "name": "X", "definition": json.dumps(bought())}
    assert viewer.post(base, data=create).status_code == 403
    # A viewer may still count a definition: it changes nothing.
    assert _size(console, viewer, bought()) == (200, {"size": 2})

    operator = console.signed_in("op@example.com", Role.operator)
    no_token = operator.post(base, data={"name": "X", "definition": json.dumps(bought())})
    assert no_token.status_code == 403 and [s.name for s in console.runtime.segments.saved(console.pid)] == ["Buyers"]
    no_header = operator.post(
        f"{base}/size", content=json.dumps(bought()), headers={"Content-Type": "application/json"}
    )
    assert no_header.status_code == 403

    # Another project's segment id is "not found" here, as is this project for a non-member.
    other = console.runtime.projects.create("Other")
    theirs = console.runtime.segments.create(other.project.id, SegmentInput(name="Theirs", kind="static"))  # type: ignore[call-arg]
    for path in (f"{base}/{theirs.id}", f"{base}/{theirs.id}/edit", f"{base}/{theirs.id}/members.csv"):
        assert operator.get(path).status_code == 404, path
    token = console.csrf(operator, base)
    assert operator.post(f"{base}/{theirs.id}/refresh", data={"csrf_token": token}).status_code == 404
    stranger = console.signed_in("st@example.com", Role.admin, project=other)
    assert stranger.get(base).status_code == 404 and stranger.get(f"{base}/{segment.id}").status_code == 404


def test_static_list_upload_reports_malformed_rows_by_line(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    token = console.csrf(client, f"/projects/{console.pid}/segments/new")
    made = client.post(
        f"/projects/{console.pid}/segments",
        data={"csrf_token": token, "name": "VIPs", "kind": "static", "definition": "ignored"},
    )
    assert made.status_code == 303, made.text
    base = made.headers["location"].split("?")[0]
    assert "Upload the list" in client.get(base).text

    bad = "distinct_id\nann\nbob,extra\n\ncat\n" + "x" * 401 + "\n"
    answer = client.post(f"{base}/upload", data={"csrf_token": token}, files={"file": ("vips.csv", bad, "text/csv")})
    assert answer.status_code == 400
    # Line 3 has two values; line 6 (after a blank line 4) is too long.
    assert "<li>line 3: expected 1 value, found 2</li>" in answer.text
    assert "<li>line 6: the id is longer than 400 characters</li>" in answer.text

    good = "distinct_id\nann\ncat\nnobody\n"
    answer = client.post(f"{base}/upload", data={"csrf_token": token}, files={"file": ("vips.csv", good, "text/csv")})
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=uploaded")
    client.post(f"{base}/refresh", data={"csrf_token": token})
    page = client.get(base).text
    # Three ids listed; "nobody" never sent an event, so two persons are members.
    assert re.search(r"Ids in the list</dt><dd>3</dd>", page) and '<dd class="size-value">2</dd>' in page
    empty = client.post(f"{base}/upload", data={"csrf_token": token}, files={"file": ("e.csv", b"", "text/csv")})
    assert empty.status_code == 400 and "file: choose a CSV file" in empty.text


def test_portrait_against_all_persons_with_lift_and_csv(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    segment = console.runtime.segments.create(console.pid, SegmentInput(name="Buyers", definition=bought()))  # type: ignore[arg-type]
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/segments/{segment.id}?dim=person:country&dim=person:plan")
    assert page.status_code == 200
    assert "2 members of 4 persons" in page.text
    # Members ann (ES, pro) and bob (CN, free) against all four: ES 1/2 in the segment vs 2/4 overall, lift
    # 1.00; CN 1/2 vs 1/4, lift 2.00; GB 0/2 vs 1/4, lift 0.00.
    country = page.text.split('data-dimension="person:country"')[1].split("</table>")[0]
    assert re.search(r"CN</td>.*?50.0% \(1\).*?25.0% \(1\).*?2.00×", country, re.S)
    assert re.search(r"ES</td>.*?50.0% \(1\).*?50.0% \(2\).*?1.00×", country, re.S)
    exported = client.get(f"/projects/{console.pid}/segments/{segment.id}/portrait.csv?dim=person:plan")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["dimension", "value", "segment_persons"]
    # plan: free (bob; all: bob, dan) and pro (ann; all: ann, cat) each 1/2 vs 2/4: lift 1.
    assert ["person:plan", "free", "1", "0.5000", "2", "0.5000", "1.0000"] in rows
    # Top events of the last 30 days: ann and bob bought 3 times, 1.5 per member, against 3 / 4 persons.
    assert ["event", "purchase", "3", "1.5000", "3", "0.7500", "2.0000"] in rows
    bad = client.get(f"/projects/{console.pid}/segments/{segment.id}?dim=person:")
    assert bad.status_code == 200 and "property" in bad.text and 'role="alert"' in bad.text


def test_portrait_rfm_segments_follow_the_projects_rfm_settings(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    runtime = console.runtime
    # The project's RFM counts `order_paid` (only ann paid one), not the KPI purchase event `purchase`, and
    # names every cell of the grid "Order payer".
    paid = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    order = {"event": "order_paid", "distinct_id": "ann", "timestamp": paid.isoformat(), "properties": {"total": 30}}
    assert load_events(runtime, console.pid, [order]) == 1
    everyone = [RfmRule(name="Order payer", r=(1, 5), f=(1, 5))]
    settings = RfmSettings(value_event="order_paid", amount_property="total", segment_map=everyone)
    runtime.segments.rfm_settings.save(console.pid, settings)
    segment = runtime.segments.create(console.pid, SegmentInput(name="Buyers", definition=bought()))  # type: ignore[arg-type]
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/segments/{segment.id}")
    assert page.status_code == 200 and 'data-dimension="rfm_segment"' in page.text  # shown by default
    exported = client.get(f"/projects/{console.pid}/segments/{segment.id}/portrait.csv?dim=rfm_segment")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text)))
    # Members ann and bob; of them only ann paid an order: 1/2 in the segment against 1/4 of all persons, lift
    # 2.00; bob has no RFM segment: 1/2 against 3/4 (bob, cat, dan), lift 0.67. Counting `purchase` instead
    # (the page's old KPI-based query) would put ann and bob in the segment: 2/2 against 3/4.
    assert ["rfm_segment", "Order payer", "1", "0.5000", "1", "0.2500", "2.0000"] in rows
    assert ["rfm_segment", "(not set)", "1", "0.5000", "3", "0.7500", "0.6667"] in rows


def test_portrait_offers_rfm_when_the_rfm_settings_event_was_seen(console: ConsoleHarness) -> None:
    runtime = console.runtime
    # No `purchase` (the KPI purchase event) at all: only the RFM settings' `order_paid`.
    paid = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    order = {"event": "order_paid", "distinct_id": "eve", "timestamp": paid.isoformat(), "properties": {"total": 30}}
    assert load_events(runtime, console.pid, [order]) == 1
    runtime.segments.rfm_settings.save(console.pid, RfmSettings(value_event="order_paid", amount_property="total"))
    payers = bought()
    payers["conditions"][0]["event"] = "order_paid"  # paid an order in the last 30 days
    segment = runtime.segments.create(console.pid, SegmentInput(name="Payers", definition=payers))  # type: ignore[arg-type]
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/segments/{segment.id}")
    assert page.status_code == 200
    assert 'value="rfm_segment"' in page.text and 'data-dimension="rfm_segment"' in page.text


def test_live_size_on_a_large_project_computes_the_catalogue_in_the_background(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shop has 6 events; call a project "large" from 3 events so the first computation goes to the background.
    monkeypatch.setattr(segment_pages, "INLINE_CATALOGUE_EVENTS", 3)
    shop(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    editor = client.get(f"/projects/{console.pid}/segments/new").text
    assert "Property names are offered once the property catalogue has been computed" in editor
    # The refresh waits inside its thread until the test lets it go, so that it is surely still running.
    release = threading.Event()
    real_refresh = console.runtime.catalogue.refresh

    def held_refresh(project_id: int) -> int:
        assert release.wait(30)
        return real_refresh(project_id)

    monkeypatch.setattr(console.runtime.catalogue, "refresh", held_refresh)
    status, body = _size(console, client, bought())
    assert status == 409 and body["retry"] is True and "being computed" in str(body["detail"])
    # Saving meanwhile says the same, with the form kept.
    status, page = _create(console, client, "Buyers", bought())
    assert status == 400 and "The property catalogue is being computed" in page and 'value="Buyers"' in page
    release.set()
    console.app.state.catalogue_refreshes.wait(console.pid)
    assert console.runtime.catalogue.refreshed_at(console.pid) is not None
    assert _size(console, client, bought()) == (200, {"size": 2})
    assert _create(console, client, "Buyers", bought())[0] == 303


def test_every_kind_of_condition_reads_in_words_and_counts(console: ConsoleHarness) -> None:
    shop(console.runtime, console.pid)
    runtime = console.runtime
    runtime.segments.tags.assign(console.pid, [TagAssignment(distinct_id="ann", tag="tier", value="gold")])
    buyers = runtime.segments.create(console.pid, SegmentInput(name="Buyers", definition=bought()))  # type: ignore[arg-type]
    definition = {
        "operator": "or",
        "conditions": [
            {"type": "person", "property": "country", "op": "in", "value": ["ES", "CN"]},
            {"type": "age", "min": 30, "max": 40},
            {"type": "first_seen", "date_from": "2020-01-01", "date_to": "2020-12-31"},
            {"type": "last_seen", "within_days": 7},
            {"type": "segment", "segment_id": buyers.id, "member": False},
            {"type": "tag", "tag": "tier", "op": "eq", "value": "gold"},
            {"type": "lifecycle_stage", "stages": ["active", "dormant"]},
            {"type": "rfm_segment", "rfm": {"value_event": "purchase", "amount_property": "amount"}, "cells": [[5, 5]]},
            {
                "type": "group",
                "operator": "and",
                "negate": True,
                "conditions": [
                    {
                        "type": "event",
                        "event": "view_item",
                        "did": False,
                        "filters": [{"property": "item", "type": "event", "op": "eq", "value": "socks"}],
                    }
                ],
            },
        ],
    }
    client = console.signed_in("op@example.com", Role.operator)
    status, location = _create(console, client, "Everything", definition)
    assert status == 303, location
    page = client.get(location).text
    summary = re.sub(r"<[^>]+>", "", page.split('<ul class="summary">')[1].split("</ul>\n")[0])
    summary = re.sub(r"\s+", " ", summary)
    for words in (
        "Any of these",
        "Person property country is one of ES, CN",
        "Age 30–40 from the property birth_year",
        "First seen between 2020-01-01 and 2020-12-31",
        "Last seen in the last 7 days",
        "Not a member of segment Buyers",
        "Tag tier equals gold",
        "Lifecycle stage is one of active, dormant",
        "RFM segment is one of R5F5 by purchase / amount",
        "Not all of these",
        "Did not do view_item at any time where item equals socks",
    ):
        assert words in summary, (words, summary)
    # All four match (any condition is enough): ann and cat live in ES and bob in CN (the first condition), and
    # dan (GB), who bought 100 days ago, is not a member of Buyers (purchase in the last 30 days).
    assert _size(console, client, definition) == (200, {"size": 4})
    # The editor opens it again, every condition in the JSON it edits.
    edit = client.get(location.split("?")[0] + "/edit").text
    assert edit.count("&#34;type&#34;:") >= 10
