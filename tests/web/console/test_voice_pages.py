"""Feedback, surveys and requirements console pages over HTTP: data made through the services, escaping of user
text, operator-only changes (viewers get 403), and project isolation (non-members get 404)."""

from __future__ import annotations

import csv
import io
import re

from opsloop.accounts.roles import Role
from opsloop.requirements.schemas import RequirementUpdate
from opsloop.surveys.management import SurveyManager
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.voice_data import EVIL, seed_voice

ESCAPED_EVIL = "&lt;script&gt;window.pwned=1&lt;/script&gt; checkout &lt;b&gt;breaks&lt;/b&gt;"


def _pages(pid: int, survey_id: int, requirement_id: int) -> list[str]:
    return [
        f"/projects/{pid}/feedback",
        f"/projects/{pid}/feedback/themes",
        f"/projects/{pid}/surveys",
        f"/projects/{pid}/surveys/{survey_id}",
        f"/projects/{pid}/surveys/{survey_id}/responses.csv",
        f"/projects/{pid}/requirements",
        f"/projects/{pid}/requirements/{requirement_id}",
        f"/projects/{pid}/requirements/{requirement_id}/prd.md",
    ]


def test_feedback_inbox_escapes_searches_and_triages(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/feedback"

    page = client.get(base)
    assert page.status_code == 200, page.text
    assert EVIL not in page.text and "<script>window.pwned" not in page.text
    assert ESCAPED_EVIL in page.text
    assert "&lt;i&gt;tag&lt;/i&gt;" in page.text and "&lt;evil&gt;" in page.text
    assert "Items: 11" in page.text  # ten seeded texts and the one with script in it
    assert f'action="{base}/{data.evil_item}"' in page.text  # operators get the triage form
    # user-0 sent events, so their item links to their person.
    assert re.search(rf'href="/projects/{console.pid}/persons/[^"]+">Person: user-0<', page.text)

    dark = client.get(base, params={"q": "DARK mode"})  # case-insensitive text search
    assert "Items: 1" in dark.text and "I love the new dark mode" in dark.text
    assert "Checkout fails" not in dark.text
    tagged = client.get(base, params={"tag": "mobile"})
    assert "Items: 5" in tagged.text  # the odd-numbered five of the ten texts carry the tag
    positive = client.get(base, params={"sentiment": "positive"})
    assert "Me encanta el modo oscuro" in positive.text and "Checkout fails" not in positive.text
    theme = console.runtime.themes.list_themes(console.pid)[0]
    by_theme = client.get(base, params={"theme_id": theme.id})
    assert f"Items: {theme.size}" in by_theme.text

    bad = client.get(base, params={"status": "bogus"})
    assert bad.status_code == 400 and "status" in bad.text

    token = console.csrf(client, base)
    answer = client.post(
        f"{base}/{data.evil_item}",
        data={"csrf_token": token, "status": "triaged", "assignee": "ana", "tags": "ios, urgent", "next": base},
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{base}?done=saved"
    item = console.runtime.feedback.get(console.pid, data.evil_item)
    assert item is not None
    assert (item.status, item.assignee, item.tags) == ("triaged", "ana", ["ios", "urgent"])
    assert "Feedback item updated." in client.get(answer.headers["location"]).text

    refused = client.post(f"{base}/{data.evil_item}", data={"csrf_token": token, "status": "done"})
    assert refused.status_code == 400 and "status" in refused.text
    offsite = client.post(f"{base}/{data.evil_item}", data={"csrf_token": token, "next": "https://evil.example/"})
    assert offsite.headers["location"] == f"{base}?done=saved"  # no open redirect


def test_themes_page_rename_merge_and_reanalyse(console: ConsoleHarness) -> None:
    seed_voice(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/feedback/themes"
    themes = console.runtime.themes.list_themes(console.pid)
    assert len(themes) >= 2

    page = client.get(base)
    assert page.status_code == 200
    assert all(f'id="theme-{t.id}"' in page.text for t in themes)
    assert 'id="theme-trends"' in page.text and "/static/voice.js" in page.text
    assert "<script>" not in page.text.split('id="theme-trends">')[1].split("</script>")[0]

    token = console.csrf(client, base)
    renamed = client.post(f"{base}/{themes[0].id}/rename", data={"csrf_token": token, "label": "Payments <b>"})
    assert renamed.status_code == 303
    assert "Payments &lt;b&gt;" in client.get(base).text

    merged = client.post(
        f"{base}/merge", data={"csrf_token": token, "theme_id": [str(themes[0].id), str(themes[1].id)]}
    )
    assert merged.status_code == 303
    after = console.runtime.themes.list_themes(console.pid)
    assert len(after) == len(themes) - 1
    assert next(t for t in after if t.id == themes[0].id).size == themes[0].size + themes[1].size

    one = client.post(f"{base}/merge", data={"csrf_token": token, "theme_id": str(themes[0].id)})
    assert one.status_code == 400 and "at least two" in one.text
    assert client.post(f"{base}/999999/rename", data={"csrf_token": token, "label": "x"}).status_code == 404

    analysed = client.post(f"{base}/analyse", data={"csrf_token": token})
    assert analysed.status_code == 303
    assert "Payments &lt;b&gt;" in client.get(base).text  # the operator's label survives re-analysis

    largest = console.runtime.themes.list_themes(console.pid)
    split = client.post(f"{base}/{largest[0].id}/split", data={"csrf_token": token})
    assert split.status_code == 303 and "Theme split in two." in client.get(split.headers["location"]).text
    assert len(console.runtime.themes.list_themes(console.pid)) == len(largest) + 1


def test_survey_list_results_export_and_status(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"

    listing = client.get(base)
    assert listing.status_code == 200
    row = listing.text.split(f'href="{base}/{data.survey_id}"')[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["4", "4"]  # four responses, all complete
    assert "Active" in row

    page = client.get(f"{base}/{data.survey_id}")
    assert page.status_code == 200
    # Shown to 5, answered by 4: a response rate of 4 / 5 = 80.0%.
    assert re.search(r"Response rate</span><span class=\"stat-value\">80.0%", page.text)
    # NPS answers 10, 9, 8, 3: promoters 2, passives 1, detractors 1 -> (2 - 1) / 4 = +25.
    assert "NPS +25" in page.text
    assert "Promoters 2" in page.text and "Passives 1" in page.text and "Detractors 1" in page.text
    # The interval is the service's (-56.3 to +100 for these four answers), rounded for display.
    assert "95% interval: -56 to +100" in page.text
    # CSAT answers 5, 4, 4, 2: three of four are 4 or 5 -> 75%.
    assert "CSAT 75%" in page.text
    assert ESCAPED_EVIL in page.text and EVIL not in page.text  # the open-text answer with script in it
    # Open-text answers carry the feedback theme they belong to ("checkout ... breaks" joins the checkout theme).
    [[label]] = console.runtime.themes.themes_for(console.pid, [EVIL])
    answer = page.text.split(ESCAPED_EVIL)[1].split("</li>")[0]
    assert answer.rstrip().endswith(f"· {label}</span>")
    assert 'id="survey-charts"' in page.text and 'data-question="nps"' in page.text
    assert "How likely are you to recommend us?" in page.text
    assert f'href="{base}/{data.survey_id}/responses.csv"' in page.text

    # Respondents are not known persons, so a breakdown by plan puts all four answers under "(not set)".
    broken_down = client.get(f"{base}/{data.survey_id}", params={"breakdown": "plan"})
    assert re.search(r"<td>\(not set\)</td><td class=\"num\">4</td>\s*<td class=\"num\">\+25</td>", broken_down.text)

    export = client.get(f"{base}/{data.survey_id}/responses.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert sorted(r["nps"] for r in rows) == ["10", "3", "8", "9"]

    token = console.csrf(client, base)
    stopped = client.post(f"{base}/{data.survey_id}/status", data={"csrf_token": token, "status": "stopped"})
    assert stopped.status_code == 303
    assert SurveyManager(console.runtime.metadata).get(console.pid, data.survey_id).status == "stopped"
    assert "Activate survey" in client.get(stopped.headers["location"]).text
    wrong = client.post(f"{base}/{data.survey_id}/status", data={"csrf_token": token, "status": "draft"})
    assert wrong.status_code == 400 and "status" in wrong.text
    assert client.get(f"{base}/999999").status_code == 404


def test_requirements_board_page_prd_and_status(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/requirements"

    board = client.get(base)
    assert board.status_code == 200
    column = board.text.split('id="col-under_review"')[1].split("</section>")[0]
    assert "Fix card payments &lt;script&gt;x&lt;/script&gt;" in column
    # Reach 4 (the four persons behind the linked items) x impact 2 x confidence 80% / effort 2 = 3.2.
    assert "<dt>RICE</dt><dd>3.2</dd>" in column and "<dt>Reach</dt><dd>4</dd>" in column
    assert "<script>x" not in board.text

    page = client.get(f"{base}/{data.requirement_id}")
    assert page.status_code == 200
    assert "Checkout fails when I pay with my credit card" in page.text  # a linked quote
    assert "支付失败" in page.text
    assert f'href="{base}/{data.requirement_id}/prd.md"' in page.text

    prd = client.get(f"{base}/{data.requirement_id}/prd.md")
    assert prd.status_code == 200 and prd.headers["content-type"].startswith("text/markdown")
    assert "attachment" in prd.headers["content-disposition"] and "Checkout fails" in prd.text

    assert "No target metric set" in page.text
    metric = {"kind": "trends", "series": [{"event": "$pageview"}]}
    console.runtime.requirements.update(console.pid, data.requirement_id, RequirementUpdate(target_metric=metric))
    token = console.csrf(client, base)
    shipped = client.post(f"{base}/{data.requirement_id}/status", data={"csrf_token": token, "status": "shipped"})
    assert shipped.status_code == 303
    assert console.runtime.requirements.get(console.pid, data.requirement_id).status == "shipped"
    after = client.get(shipped.headers["location"])
    assert "Status changed." in after.text
    # Shipped today with a target metric: the before / after table, the after-window still running.
    assert "Before shipping" in after.text and "After shipping" in after.text
    assert "the after-window has not ended yet" in after.text
    assert 'id="col-shipped"' in client.get(base).text
    bad = client.post(f"{base}/{data.requirement_id}/status", data={"csrf_token": token, "status": "done"})
    assert bad.status_code == 400 and "status" in bad.text
    assert client.get(f"{base}/999999").status_code == 404


def test_viewers_read_but_cannot_change(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid)
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    pid = console.pid
    for path in _pages(pid, data.survey_id, data.requirement_id):
        assert viewer.get(path).status_code == 200, path
    inbox = viewer.get(f"/projects/{pid}/feedback").text
    assert 'name="assignee"' not in inbox  # no triage form for viewers
    assert "Re-analyse themes" not in viewer.get(f"/projects/{pid}/feedback/themes").text
    assert "Stop survey" not in viewer.get(f"/projects/{pid}/surveys/{data.survey_id}").text
    token = console.csrf(viewer, f"/projects/{pid}/feedback")
    theme = console.runtime.themes.list_themes(pid)[0]
    posts = [
        (f"/projects/{pid}/feedback/{data.evil_item}", {"status": "closed"}),
        (f"/projects/{pid}/feedback/themes/analyse", {}),
        (f"/projects/{pid}/feedback/themes/{theme.id}/rename", {"label": "x"}),
        (f"/projects/{pid}/feedback/themes/merge", {"theme_id": str(theme.id)}),
        (f"/projects/{pid}/feedback/themes/{theme.id}/split", {}),
        (f"/projects/{pid}/surveys/{data.survey_id}/status", {"status": "stopped"}),
        (f"/projects/{pid}/requirements/{data.requirement_id}/status", {"status": "declined"}),
    ]
    for path, form in posts:
        assert viewer.post(path, data={"csrf_token": token, **form}).status_code == 403, path
    item = console.runtime.feedback.get(pid, data.evil_item)
    assert item is not None and item.status == "new"
    assert console.runtime.requirements.get(pid, data.requirement_id).status == "under_review"


def test_other_projects_pages_are_not_found(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("outsider@example.com", Role.admin, project=other)
    for path in _pages(console.pid, data.survey_id, data.requirement_id):
        assert outsider.get(path).status_code == 404, path
    # An admin of the other project cannot reach this project's items through their own project's pages either.
    opid = other.project.id
    assert outsider.get(f"/projects/{opid}/surveys/{data.survey_id}").status_code == 404
    assert outsider.get(f"/projects/{opid}/requirements/{data.requirement_id}").status_code == 404
    assert outsider.get(f"/projects/{opid}/requirements/{data.requirement_id}/prd.md").status_code == 404
    token = console.csrf(outsider, f"/projects/{opid}/feedback")
    moved = outsider.post(f"/projects/{opid}/feedback/{data.evil_item}", data={"csrf_token": token, "status": "closed"})
    assert moved.status_code == 404
    item = console.runtime.feedback.get(console.pid, data.evil_item)
    assert item is not None and item.status == "new"
    assert "Items: 11" not in outsider.get(f"/projects/{opid}/feedback").text


def test_pages_of_a_new_project_say_what_to_do(console: ConsoleHarness) -> None:
    client = console.signed_in("admin@example.com", Role.admin)
    pid = console.pid
    texts = {
        f"/projects/{pid}/feedback": "No feedback matches.",
        f"/projects/{pid}/feedback/themes": "No themes yet.",
        f"/projects/{pid}/surveys": "No surveys yet.",
        f"/projects/{pid}/requirements": "No requirements yet.",
    }
    for path, text in texts.items():
        page = client.get(path)
        assert page.status_code == 200 and text in page.text, path
    nav = client.get(f"/projects/{pid}").text
    for label, path in (("Feedback", "feedback"), ("Surveys", "surveys"), ("Requirements", "requirements")):
        assert f'<a href="/projects/{pid}/{path}">{label}</a>' in nav
    # Re-analysing with fewer than two items says why, on the themes page.
    token = console.csrf(client, f"/projects/{pid}/feedback/themes")
    refused = client.post(f"/projects/{pid}/feedback/themes/analyse", data={"csrf_token": token})
    assert refused.status_code == 400 and "at least 2 feedback items" in refused.text


def test_theme_trend_fills_empty_weeks() -> None:
    import datetime as dt

    from opsloop.feedback.schemas import ThemeSummary, WeekCount
    from opsloop.web.console.feedback_pages import _trend_chart

    monday = dt.date(2026, 11, 2)
    theme = ThemeSummary(
        id=7,
        label="x",
        custom_label=False,
        keywords=[],
        size=3,
        languages=["en"],
        sentiment={},
        examples=[],
        trend=[WeekCount(week=monday, count=2), WeekCount(week=monday + dt.timedelta(days=14), count=1)],
    )
    # Items in the weeks of 2 and 16 November, none in the week of 9 November: that week shows 0.
    assert _trend_chart([theme]) == {"7": {"x": ["2026-11-02", "2026-11-09", "2026-11-16"], "y": [2, 0, 1]}}
