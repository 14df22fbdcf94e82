"""The "User stages" console page and the stage on the person page: counts, thresholds, roles, CSRF, isolation."""

from __future__ import annotations

import json
import re

from opsloop.accounts.roles import Role
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.user_ops_data import load_buyers


def _now(page: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-stage="(\w+)">(\d+)<', page)}


def test_counts_over_time_and_today(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("vi@example.com", Role.viewer)
    page = client.get(f"/projects/{console.pid}/lifecycle-stages").text
    # Every buyer was first seen 5 days ago: with the default 7 days all five are new today.
    assert _now(page) == {"new": 5, "active": 0, "resurrected": 0, "dormant": 0, "churned": 0}
    chart = json.loads(re.search(r'id="stage-chart">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert len(chart["x"]) == 30 and chart["interval"] == "day"
    new = next(s["y"] for s in chart["series"] if s["stage"] == "new")
    # Daily points end today: nobody before the first purchases 5 days ago, then all five new.
    assert new[-6:] == [5] * 6 and new[-7] == 0
    weekly = client.get(f"/projects/{console.pid}/lifecycle-stages?range=12w").text
    chart = json.loads(re.search(r'id="stage-chart">(.*?)</script>', weekly, re.S).group(1))  # type: ignore[union-attr]
    assert chart["interval"] == "week" and len(chart["x"]) in (12, 13)
    assert 'id="thresholds-form"' not in page  # a viewer reads the thresholds, does not change them
    assert "<dt>New: first seen within (days)</dt><dd>7</dd>" in page


def test_operator_changes_thresholds_and_bad_values_are_named(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/lifecycle-stages"
    token = console.csrf(client, base)
    saved = client.post(
        f"{base}/settings", data={"new_days": "3", "active_days": "14", "churn_days": "60", "csrf_token": token}
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{base}?done=saved"
    page = client.get(saved.headers["location"]).text
    assert "Thresholds saved." in page
    # First seen 5 days ago is no longer new (3 days); they bought within 14 days and were first seen inside
    # the 14 days before those: active.
    assert _now(page) == {"new": 0, "active": 5, "resurrected": 0, "dormant": 0, "churned": 0}
    assert console.runtime.segments.stages.thresholds(console.pid).churn_days == 60
    bad = client.post(
        f"{base}/settings", data={"new_days": "3", "active_days": "90", "churn_days": "60", "csrf_token": token}
    )
    assert bad.status_code == 400 and "active_days must be below churn_days" in bad.text
    assert 'name="active_days" value="90"' in bad.text  # what was typed stays in the form
    word = client.post(
        f"{base}/settings", data={"new_days": "a week", "active_days": "9", "churn_days": "60", "csrf_token": token}
    )
    assert word.status_code == 400 and "new_days: Input should be a valid integer" in word.text
    assert console.runtime.segments.stages.thresholds(console.pid).active_days == 14


def test_roles_csrf_isolation_and_the_person_page(console: ConsoleHarness) -> None:
    load_buyers(console.runtime, console.pid)
    base = f"/projects/{console.pid}/lifecycle-stages"
    viewer = console.signed_in("vi@example.com", Role.viewer)
    token = console.csrf(viewer, base)
    fields = {"new_days": "3", "active_days": "14", "churn_days": "60"}
    assert viewer.post(f"{base}/settings", data={**fields, "csrf_token": token}).status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    assert operator.post(f"{base}/settings", data=fields).status_code == 403  # no CSRF token
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    assert outsider.get(base).status_code == 404
    token = console.csrf(outsider, "/projects")
    assert outsider.post(f"{base}/settings", data={**fields, "csrf_token": token}).status_code == 404
    assert console.runtime.segments.stages.thresholds(console.pid).new_days == 7
    # The person page names the stage (and links to this page) and lists the person's tags.
    console.runtime.segments.tags.import_csv(console.pid, "b3,vip,gold\n")
    person = viewer.get(f"/projects/{console.pid}/person?id=b3").text
    assert f'<dd class="person-stage"><a href="{base}">new</a></dd>' in person
    assert "<code>vip=gold</code>" in person
    chinese = console.browser(headers={"Accept-Language": "zh-CN"})
    console.sign_in(chinese, "vi@example.com")
    assert f'<a href="{base}">新用户</a>' in chinese.get(f"/projects/{console.pid}/person?id=b3").text
