"""The tags console page: listing, CSV upload with line-numbered errors, rule tags (preview, save, recompute,
delete), roles, CSRF, isolation and escaping."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from opsloop.accounts.roles import Role
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.event_log import XSS
from tests.web.console.user_ops_data import load_buyers


def _row(page: str, tag: str) -> str:
    match = re.search(rf'<tr data-tag="{re.escape(tag)}">(.*?)</tr>', page, re.S)
    assert match, tag
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def _post(client: TestClient, console: ConsoleHarness, path: str, **kwargs: Any) -> Any:
    token = console.csrf(client, f"/projects/{console.pid}/tags")
    data = {**kwargs.pop("data", {}), "csrf_token": token}
    return client.post(f"/projects/{console.pid}/tags/{path}", data=data, **kwargs)


CSV = "\n".join(
    [
        "distinct_id,tag,value",  # line 1: a header, skipped
        "b1,vip,gold",  # line 2: stored
        "b2,vip",  # line 3: stored, no value
        "b3,vip,gold,extra",  # line 4: four values
        "nobody,vip,gold",  # line 5: no such person
        ",vip,gold",  # line 6: empty distinct id
        "b4,segment_a,",  # line 7: stored, empty value
    ]
)


def test_csv_upload_keeps_good_rows_and_lists_bad_lines(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    files = {"file": ("tags.csv", CSV.encode(), "text/csv")}
    page = _post(client, console, "import", files=files)
    assert page.status_code == 200
    assert "Rows stored: 3." in page.text and "Rows refused: 3." in page.text
    errors = re.findall(r"<li>(line \d+): ", page.text)
    assert errors == ["line 4", "line 5", "line 6"]
    assert "line 4: expected distinct_id,tag[,value]; found 4 value(s)" in page.text
    assert _row(page.text, "vip").startswith("vip manual 2 ")
    assert "gold: 1" in _row(page.text, "vip") and "(no value): 1" in _row(page.text, "vip")
    # Pasted rows work the same; a file that is not UTF-8 or nothing at all is a clear 400.
    pasted = _post(client, console, "import", data={"csv": "b5,vip,silver"})
    assert "Rows stored: 1." in pasted.text and "silver: 1" in _row(pasted.text, "vip")
    latin = _post(client, console, "import", files={"file": ("t.csv", "b1,vip,caf\xe9".encode("latin-1"), "text/csv")})
    assert latin.status_code == 400 and "file: the CSV must be UTF-8 text" in latin.text
    empty = _post(client, console, "import", data={"csv": ""})
    assert empty.status_code == 400 and "file: choose a CSV file or paste its rows" in empty.text
    # Removing a manual tag takes it from everyone.
    removed = _post(client, console, "delete", data={"tag": "vip"})
    assert removed.status_code == 303 and console.runtime.segments.tags.values(console.pid, "vip") == {}
    assert _post(client, console, "delete", data={"tag": "vip"}).status_code == 404


RULE = {
    "tag": "value_tier",
    "event": "purchase",
    "aggregate": "sum",
    "property": "revenue",
    "within_days": "90",
    "mode": "thresholds",
    "thresholds": "high: 40\nmid: 20\nlow: 0",
}


def test_rule_tag_preview_save_recompute_and_delete(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    # b<k> spent 10 k: b4 (40) and b5 (50) high, b2 (20) and b3 (30) mid, b1 (10) low.
    preview = _post(client, console, "rule", data={**RULE, "action": "preview"})
    assert preview.status_code == 200 and "Preview: 5 persons" in preview.text
    shown = re.findall(r'<span class="tag-value">(\w+): (\d+)</span>', preview.text.split('id="rule-preview"')[1])
    assert shown == [("high", "2"), ("mid", "2"), ("low", "1")]
    assert console.runtime.segments.tags.rules(console.pid) == {}  # a preview stores nothing
    saved = _post(client, console, "rule", data={**RULE, "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("/tags?done=saved")
    page = client.get(saved.headers["location"]).text
    assert "Rule tag saved and computed." in page
    assert _row(page, "value_tier").startswith("value_tier rule 5 high: 2 mid: 2 low: 1")
    edit = client.get(f"/projects/{console.pid}/tags?edit=value_tier").text
    assert "Edit rule tag" in edit and "high: 40\nmid: 20\nlow: 0</textarea>" in edit
    # Quantiles in three equal shares of 5 persons by rank: floor(3 (place - 1) / 5) -> 0, 0, 1, 1, 2.
    quantiles = {**RULE, "mode": "quantiles", "quantiles": "low, mid, high", "action": "save"}
    assert _post(client, console, "rule", data=quantiles).status_code == 303
    assert {v: len(p) for v, p in console.runtime.segments.tags.values(console.pid, "value_tier").items()} == {
        "low": 2,
        "mid": 2,
        "high": 1,
    }
    assert _post(client, console, "compute", data={"tag": "value_tier"}).status_code == 303
    assert _post(client, console, "compute", data={"tag": "missing"}).status_code == 404
    assert _post(client, console, "delete", data={"tag": "value_tier"}).status_code == 303
    assert console.runtime.segments.tags.rules(console.pid) == {}


def test_bad_rules_are_refused_naming_the_field(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    line = _post(client, console, "rule", data={**RULE, "thresholds": "high 40", "action": "save"})
    assert line.status_code == 400 and "thresholds: line 1: write `value: minimum`" in line.text
    assert 'value="value_tier"' in line.text  # the form keeps what was typed
    no_property = _post(client, console, "rule", data={**RULE, "property": "", "action": "save"})
    assert no_property.status_code == 400 and "property: `sum` needs a property" in no_property.text
    days = _post(client, console, "rule", data={**RULE, "within_days": "ninety", "action": "save"})
    assert days.status_code == 400 and "within_days: must be a whole number" in days.text
    nameless = _post(client, console, "rule", data={**RULE, "tag": "", "action": "save"})
    assert nameless.status_code == 400 and "tag: give the tag a name" in nameless.text
    assert console.runtime.segments.tags.rules(console.pid) == {}


def test_roles_csrf_isolation_and_escaping(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    console.runtime.segments.tags.import_csv(console.pid, f'b1,"{XSS}","{XSS}"\n')
    viewer = console.signed_in("vi@example.com", Role.viewer)
    page = viewer.get(f"/projects/{console.pid}/tags").text
    assert XSS not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    assert "Upload manual tags" not in page and "New rule tag" not in page  # a viewer only looks
    assert _post(viewer, console, "import", data={"csv": "b1,vip"}).status_code == 403
    assert _post(viewer, console, "rule", data={**RULE, "action": "save"}).status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    no_token = operator.post(f"/projects/{console.pid}/tags/import", data={"csv": "b1,vip"})
    assert no_token.status_code == 403 and console.runtime.segments.tags.values(console.pid, "vip") == {}
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    assert outsider.get(f"/projects/{console.pid}/tags").status_code == 404
    token = console.csrf(outsider, "/projects")
    sneaky = outsider.post(f"/projects/{console.pid}/tags/import", data={"csv": "b1,vip", "csrf_token": token})
    assert sneaky.status_code == 404 and console.runtime.segments.tags.values(console.pid, "vip") == {}
