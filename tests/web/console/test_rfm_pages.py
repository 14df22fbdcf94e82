"""The RFM console page: grid, segments, movement, an edited map, "Make a segment"; roles, CSRF, isolation."""

from __future__ import annotations

import html as htmllib
import json
import re
from typing import Any

from fastapi.testclient import TestClient

from opsloop.accounts.roles import Role
from opsloop.users.rfm_settings import RfmSettings
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import XSS
from tests.web.console.user_ops_data import load_buyers


def _cell(page: str, r: int, f: int) -> str:
    """The text of one grid cell, tags removed."""
    match = re.search(rf'data-r="{r}" data-f="{f}">(.*?)</td>', page, re.S)
    assert match, (r, f)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def _segment_rows(page: str) -> dict[str, list[str]]:
    body = page.split('<table class="rfm-segments">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells:
            rows[htmllib.unescape(cells[0])] = cells[1:4]
    return rows


def test_grid_segments_and_movement_of_five_buyers(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/rfm").text
    # Defaults: the KPI purchase event and revenue property, 365 days. Five buyers, 10 per purchase:
    # b<k> buys k times, so revenue 10 + 20 + 30 + 40 + 50 = 150, and b<k> lands in cell (R k, F k).
    assert "5 buyers, revenue 150.00, in the last 365 days." in page
    assert _cell(page, 5, 5) == "Champions Buyers: 1 50.00"
    assert _cell(page, 4, 4) == "Loyal Buyers: 1 40.00"
    assert _cell(page, 3, 3) == "Need Attention Buyers: 1 30.00"
    assert _cell(page, 1, 1) == "Hibernating Buyers: 1 10.00"
    assert _cell(page, 5, 1) == "New customers Buyers: 0 0.00"  # the standard "New" segment, shown translated
    rows = _segment_rows(page)
    # Hibernating holds R1-2 x F1-2: b1 and b2, 2 of 5 buyers, 10 + 20.
    assert rows["Hibernating"] == ["2", "40.0%", "30.00"]
    assert rows["Champions"] == ["1", "20.0%", "50.00"]
    # 30 days ago nobody had bought: all five moved from "not a buyer" into their segment.
    assert "5 persons changed segment" in page
    assert re.search(r"<td>\(not a buyer\)</td><td>Hibernating</td><td class=\"num\">2</td>", page)
    # A viewer looks but makes no segment.
    assert "Make a segment" not in page


def test_an_edited_map_names_the_cells_and_bad_input_is_named(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("vi@example.com", Role.viewer)
    base = f"/projects/{console.pid}/rfm"
    # Two rules: "Top" = R4-5 x F4-5 (b4, b5), then "Rest" = everything else (b1, b2, b3); an empty row is dropped.
    params = {
        "event": "purchase",
        "amount": "revenue",
        "days": "30",
        "rule_name": ["Top", "Rest", ""],
        "rule_r_lo": ["4", "1", "1"],
        "rule_r_hi": ["5", "5", "5"],
        "rule_f_lo": ["4", "1", "1"],
        "rule_f_hi": ["5", "5", "5"],
    }
    page = client.get(base, params=params).text
    assert _segment_rows(page) == {"Top": ["2", "40.0%", "90.00"], "Rest": ["3", "60.0%", "60.00"]}
    assert _cell(page, 2, 5) == "Rest Buyers: 0 0.00"
    bad = client.get(base, params={**params, "rule_r_lo": ["5", "1", "1"], "rule_r_hi": ["2", "5", "5"]})
    assert bad.status_code == 400 and "segment_map.0 (Top): scores are 1 to 5, low before high" in bad.text
    days = client.get(base, params={"days": "soon"})
    assert days.status_code == 400 and "days: must be a whole number" in days.text
    window = client.get(base, params={"days": "0"})
    assert window.status_code == 400 and "lookback_days: Input should be greater than or equal to 1" in window.text
    nobody = client.get(base, params={"event": "refund"}).text
    assert "No buyers" in nobody and "No person did refund in the last 365 days" in nobody


#: The RFM settings a "Make a segment" form carries (the page's defaults, standard map).
DEFAULT_RFM = json.dumps({"value_event": "purchase", "amount_property": "revenue", "lookback_days": 365})


def _make(client: TestClient, console: ConsoleHarness, **fields: str) -> Any:
    """Press a "Make a segment" button: the RFM settings of the form on the page (or the defaults)."""
    page = client.get(f"/projects/{console.pid}/rfm").text
    found = re.search(r'name="rfm" value="([^"]+)"', page)
    rfm = htmllib.unescape(found.group(1)) if found else DEFAULT_RFM
    token = console.csrf(client, f"/projects/{console.pid}/rfm")
    return client.post(f"/projects/{console.pid}/rfm/segment", data={"rfm": rfm, "csrf_token": token, **fields})


def test_operator_makes_segments_from_a_cell_and_a_named_segment(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    page = client.get(f"/projects/{console.pid}/rfm").text
    assert page.count("Make a segment") == 25 + 10  # every cell and every segment of the map, empty ones too
    made = _make(client, console, cell="5,5")
    assert made.status_code == 303
    sid = int(made.headers["location"].rsplit("/", 1)[1])
    assert made.headers["location"] == f"/projects/{console.pid}/segments/{sid}"
    segments = console.runtime.segments
    info = segments.get(console.pid, sid)
    assert info.name == "RFM R5 F5" and info.kind == "dynamic"
    ctx = console.runtime.project_context(console.pid)
    assert segments.refresh(ctx, sid).size == 1  # b5 alone
    # The same cell again gets a numbered name rather than an error.
    again = _make(client, console, cell="5,5")
    assert segments.get(console.pid, int(again.headers["location"].rsplit("/", 1)[1])).name == "RFM R5 F5 (2)"
    hibernating = _make(client, console, segment="Hibernating")
    hid = int(hibernating.headers["location"].rsplit("/", 1)[1])
    assert segments.get(console.pid, hid).name == "RFM Hibernating" and segments.refresh(ctx, hid).size == 2
    bad = _make(client, console, cell="6,1")
    assert bad.status_code == 400 and "cell: give R and F scores from 1 to 5" in bad.text
    both = _make(client, console, cell="1,1", segment="Loyal")
    assert both.status_code == 400 and "one of them" in both.text
    broken = client.post(
        f"/projects/{console.pid}/rfm/segment",
        data={
            "rfm": json.dumps({"value_event": "purchase", "lookback_days": 0}),
            "cell": "1,1",
            "csrf_token": console.csrf(client, "/projects"),
        },
    )
    # What the settings leave out comes from the project's (the amount property here); a bad value is named.
    assert broken.status_code == 400 and "rfm.lookback_days: Input should be greater than or equal to 1" in broken.text


def test_roles_csrf_and_isolation(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    viewer = console.signed_in("vi@example.com", Role.viewer)
    assert _make(viewer, console, cell="5,5").status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    rfm = DEFAULT_RFM
    no_token = operator.post(f"/projects/{console.pid}/rfm/segment", data={"rfm": rfm, "cell": "5,5"})
    assert no_token.status_code == 403 and console.runtime.segments.saved(console.pid) == []
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    assert outsider.get(f"/projects/{console.pid}/rfm").status_code == 404
    token = console.csrf(outsider, "/projects")
    sneaky = outsider.post(
        f"/projects/{console.pid}/rfm/segment", data={"rfm": rfm, "cell": "5,5", "csrf_token": token}
    )
    assert sneaky.status_code == 404 and console.runtime.segments.saved(console.pid) == []


def test_map_names_are_escaped(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("vi@example.com", Role.viewer)
    params = {"rule_name": [XSS], "rule_r_lo": ["1"], "rule_r_hi": ["5"], "rule_f_lo": ["1"], "rule_f_hi": ["5"]}
    page = client.get(f"/projects/{console.pid}/rfm", params=params).text
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert _segment_rows(page)[XSS] == ["5", "100.0%", "150.00"]
    # Saved settings with markup in their names are escaped too (the operator's "Project default" line).
    evil = RfmSettings.model_validate(
        {"value_event": XSS, "amount_property": XSS, "segment_map": [{"name": XSS, "r": [1, 5], "f": [1, 5]}]}
    )
    console.runtime.segments.rfm_settings.save(console.pid, evil)
    operator = console.signed_in("op@example.com", Role.operator)
    page = operator.get(f"/projects/{console.pid}/rfm", params={"event": "purchase", "amount": "revenue"}).text
    assert "Project default: &lt;script&gt;alert(1)&lt;/script&gt; / &lt;script&gt;" in page and XSS not in page
    assert _segment_rows(page)[XSS] == ["5", "100.0%", "150.00"]


#: An edited map: "Top" = R4-5 x F4-5 (b4, b5), then "Rest" = every other cell (b1, b2, b3), over 30 days.
TOP_REST = {
    "event": "purchase",
    "amount": "revenue",
    "days": "30",
    "rule_name": ["Top", "Rest"],
    "rule_r_lo": ["4", "1"],
    "rule_r_hi": ["5", "5"],
    "rule_f_lo": ["4", "1"],
    "rule_f_hi": ["5", "5"],
}


def _save_form(page: str) -> dict[str, str]:
    """The hidden fields of the "Save as project default" form."""
    match = re.search(r'<form method="post" action="[^"]+/rfm/settings">(.*?)</form>', page, re.S)
    assert match and "Save as project default" in match.group(1)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', match.group(1)))
    return {k: htmllib.unescape(v) for k, v in fields.items()}


def test_operator_saves_the_map_as_the_project_default(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    operator = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/rfm"
    page = operator.get(base).text
    # Nothing saved: the page runs the defaults, so there is nothing to save or reset.
    assert "These are the project&#39;s default RFM settings." in page
    assert "Save as project default" not in page and "Reset to the standard map" not in page
    edited = operator.get(base, params=TOP_REST).text
    assert "Project default: purchase / revenue over 365 days, 10 map rules." in edited
    saved = operator.post(f"{base}/settings", data=_save_form(edited))
    assert saved.status_code == 303 and saved.headers["location"] == f"{base}?done=saved"
    settings = console.runtime.segments.rfm_settings.settings(console.pid)
    assert [r.name for r in settings.segment_map] == ["Top", "Rest"] and settings.lookback_days == 30
    # The page without parameters now runs the saved settings: the map, the window and the form's values.
    page = operator.get(saved.headers["location"]).text
    assert "Saved as the project&#39;s default RFM settings" in page
    assert "These are the project&#39;s default RFM settings." in page and "Save as project default" not in page
    assert _segment_rows(page) == {"Top": ["2", "40.0%", "90.00"], "Rest": ["3", "60.0%", "60.00"]}
    assert "5 buyers, revenue 150.00, in the last 30 days." in page
    assert 'name="days" value="30"' in page and 'name="rule_name" value="Top"' in page
    # A segment made from a cell carries the saved map: R5 F5 (b5) is in "Top".
    made = _make(operator, console, cell="5,5")
    sid = int(made.headers["location"].rsplit("/", 1)[1])
    info = console.runtime.segments.get(console.pid, sid)
    assert info.definition is not None
    rfm = info.definition.model_dump()["conditions"][0]["rfm"]
    assert [r["name"] for r in rfm["segment_map"]] == ["Top", "Rest"] and rfm["lookback_days"] == 30
    # A form that sends settings without a map (an older page) gets the saved map's names too.
    token = console.csrf(operator, base)
    named = operator.post(f"{base}/segment", data={"rfm": DEFAULT_RFM, "segment": "Top", "csrf_token": token})
    assert named.status_code == 303
    tid = int(named.headers["location"].rsplit("/", 1)[1])
    ctx = console.runtime.project_context(console.pid)
    assert console.runtime.segments.get(console.pid, tid).name == "RFM Top"
    assert console.runtime.segments.refresh(ctx, tid).size == 2  # b4 and b5 (365 days, as the form said)
    # The change is in the audit log, by whom.
    entry = console.runtime.accounts.audit.entries(console.pid)[0]
    assert (entry.action, entry.actor) == ("rfm_settings_changed", "op@example.com")
    assert entry.details["segment_map"] == "Top, Rest" and entry.details["lookback_days"] == "30"
    # Reset: the standard map again, the value event, amount and window kept.
    page = operator.get(base).text
    assert "Reset to the standard map" in page
    reset = operator.post(f"{base}/settings", data={"action": "reset", "csrf_token": console.csrf(operator, base)})
    assert reset.headers["location"] == f"{base}?done=reset"
    settings = console.runtime.segments.rfm_settings.settings(console.pid)
    assert [r.name for r in settings.segment_map][:2] == ["Champions", "Loyal"] and settings.lookback_days == 30
    page = operator.get(reset.headers["location"]).text
    assert "The project&#39;s segment map is the standard map again." in page
    assert _segment_rows(page)["Champions"] == ["1", "20.0%", "50.00"]


def test_viewers_cannot_save_settings_and_bad_settings_are_named(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    base = f"/projects/{console.pid}/rfm"
    operator = console.signed_in("op@example.com", Role.operator)
    form = _save_form(operator.get(base, params=TOP_REST).text)
    viewer = console.signed_in("vi@example.com", Role.viewer)
    page = viewer.get(base, params=TOP_REST).text
    assert "Save as project default" not in page and "Reset to the standard map" not in page
    refused = viewer.post(f"{base}/settings", data={**form, "csrf_token": console.csrf(viewer, base)})
    assert refused.status_code == 403
    no_token = operator.post(f"{base}/settings", data={"rfm": form["rfm"]})
    assert no_token.status_code == 403
    assert console.runtime.segments.rfm_settings.settings(console.pid).segment_map[0].name == "Champions"
    # Two rules of the same name may be run, but not saved as the project's map.
    twice = json.dumps({**json.loads(form["rfm"]), "segment_map": [{"name": "A", "r": [1, 5], "f": [1, 5]}] * 2})
    bad = operator.post(f"{base}/settings", data={"rfm": twice, "csrf_token": console.csrf(operator, base)})
    assert bad.status_code == 400 and "rfm.segment_map: the name &#39;A&#39; is used by two rules" in bad.text
    assert console.runtime.segments.rfm_settings.settings(console.pid).segment_map[0].name == "Champions"
    # Another project's operator cannot reach this project's settings.
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    sneaky = outsider.post(f"{base}/settings", data={**form, "csrf_token": console.csrf(outsider, "/projects")})
    assert sneaky.status_code == 404
    assert console.runtime.segments.rfm_settings.settings(console.pid).segment_map[0].name == "Champions"
