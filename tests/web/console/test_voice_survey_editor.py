"""The survey editor over HTTP: create and edit drafts, editor actions, validation next to the form, roles,
CSRF, project isolation, escaping."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from opsloop.accounts.roles import Role
from opsloop.surveys.management import SurveyManager
from tests.surveys.factories import nps_survey
from tests.web.console.conftest import ConsoleHarness

EVIL = "<script>alert(1)</script>"


def _nps_form(token: str, **extra: str) -> dict[str, Any]:
    """The editor's form for an NPS question that branches 0-6 to an open-text question, then ends."""
    form: dict[str, Any] = {
        "csrf_token": token,
        "languages": "en,zh_Hans,es",
        "name": "Quarterly NPS",
        "default_language": "en",
        "q-count": "2",
        "q-0-id": "nps",
        "q-0-type": "nps",
        "q-0-required": "1",
        "q-0-text-en": "How likely are you to recommend us?",
        "q-0-text-zh_Hans": "您向朋友推荐我们的可能性有多大？",
        "q-0-b-count": "1",
        "q-0-b-0-max": "6",
        "q-0-b-0-goto": "why",
        "q-0-next": "$end",
        "q-1-id": "why",
        "q-1-type": "open_text",
        "q-1-text-en": "What went wrong?",
        "q-1-b-count": "0",
        "t-count": "1",
        "t-0-property": "plan",
        "t-0-op": "eq",
        "t-0-value": "pro",
        "trigger_events": "checkout_done, signup",
        "rollout_percent": "50",
        "hide_after_dismiss_days": "30",
        "recurrence_days": "90",
        "starts_at": "2026-12-01T09:00",
        "op": "save",
    }
    form.update(extra)
    return form


def test_operator_creates_a_survey_with_branching_targeting_and_schedule(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    listing = client.get(base)
    assert f'href="{base}/new"' in listing.text
    page = client.get(f"{base}/new")
    assert page.status_code == 200 and 'name="q-0-type"' in page.text and 'name="q-0-text-zh_Hans"' in page.text

    token = console.csrf(client, f"{base}/new")
    saved = client.post(f"{base}/new", data=_nps_form(token))
    assert saved.status_code == 303, saved.text
    survey_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    survey = SurveyManager(console.runtime.metadata).get(console.pid, survey_id)
    assert survey.status == "draft" and survey.name == "Quarterly NPS"
    d = survey.definition
    assert d["questions"][0]["text"]["zh_Hans"] == "您向朋友推荐我们的可能性有多大？"
    assert d["questions"][0]["branches"] == [{"max": 6, "goto": "why"}] and d["questions"][0]["next"] == "$end"
    assert d["targeting"]["properties"] == [{"property": "plan", "type": "person", "op": "eq", "value": "pro"}]
    assert d["targeting"]["trigger_events"] == ["checkout_done", "signup"]
    assert d["targeting"]["rollout_percent"] == 50 and d["hide_after_dismiss_days"] == 30
    assert d["recurrence_days"] == 90
    timezone = console.runtime.projects.get(console.pid).timezone  # type: ignore[union-attr]
    # 09:00 on the project's clock, whatever its timezone.
    expected = dt.datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo(timezone))
    assert dt.datetime.fromisoformat(d["starts_at"]) == expected

    results = client.get(saved.headers["location"])
    assert "Survey saved as a draft." in results.text and f'href="{base}/{survey_id}/edit"' in results.text
    edit = client.get(f"{base}/{survey_id}/edit")
    assert edit.status_code == 200 and "您向朋友推荐我们的可能性有多大？" in edit.text
    assert 'value="2026-12-01T09:00"' in edit.text  # shown back in the project's timezone

    renamed = client.post(f"{base}/{survey_id}/edit", data=_nps_form(token, name="NPS (edited)"))
    assert renamed.status_code == 303
    assert SurveyManager(console.runtime.metadata).get(console.pid, survey_id).name == "NPS (edited)"


def test_editor_actions_add_move_and_remove_questions(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    token = console.csrf(client, f"{base}/new")
    added = client.post(f"{base}/new", data=_nps_form(token, op="add", new_type="single_choice"))
    assert added.status_code == 200
    # The new third question gets the next free id and empty choice rows (two spare rows).
    assert 'name="q-2-id" value="q3"' in added.text and 'name="q-2-c-1-id"' in added.text
    moved = client.post(f"{base}/new", data=_nps_form(token, op="down:0"))
    assert moved.text.index('name="q-0-id" value="why"') < moved.text.index('name="q-1-id" value="nps"')
    removed = client.post(f"{base}/new", data=_nps_form(token, op="remove:1"))
    assert 'name="q-1-id"' not in removed.text and 'name="q-count" value="1"' in removed.text
    # Saving now would branch to the removed question: refused next to the form, nothing stored.
    form = _nps_form(token, **{"q-count": "1"})
    refused = client.post(f"{base}/new", data=form)
    assert refused.status_code == 400
    assert "branch target &#39;why&#39; is not a question" in refused.text and 'id="editor-errors"' in refused.text
    assert 'class="field-error"' in refused.text  # also shown in the question's own box
    assert SurveyManager(console.runtime.metadata).list(console.pid) == []
    # The preview follows the chosen language.
    preview = client.post(f"{base}/new", data=_nps_form(token, op="refresh", preview_language="zh_Hans"))
    aside = preview.text.split('class="card survey-preview"')[1]
    assert "您向朋友推荐我们的可能性有多大？" in aside and "<span>10</span>" in aside


def test_validation_errors_come_back_as_400_never_500(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    token = console.csrf(client, f"{base}/new")
    cases = [
        ({"q-1-type": "single_choice", "q-1-c-count": "2"}, "a single_choice question needs `choices`"),
        ({"q-0-b-0-max": "six"}, "is not a whole number"),
        ({"name": ""}, "name"),
        ({"q-0-text-en": ""}, "has no &#39;en&#39; text"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"rollout_percent": "150"}, "rollout_percent"),
        ({"t-0-op": "gt", "t-0-value": "lots"}, "is not a number"),
        ({"q-0-id": "bad id!"}, "questions.0.id"),
    ]
    for change, message in cases:
        response = client.post(f"{base}/new", data=_nps_form(token, **change))
        assert response.status_code == 400, (change, response.text[:300])
        assert message in response.text, (change, message)
    assert SurveyManager(console.runtime.metadata).list(console.pid) == []


def test_only_drafts_are_editable_and_other_projects_are_not_found(console: ConsoleHarness) -> None:
    manager = SurveyManager(console.runtime.metadata)
    now = dt.datetime.now(dt.UTC)
    active = manager.create(console.pid, nps_survey(), now=now)
    manager.set_status(console.pid, active.id, "active", now=now)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    refused = client.get(f"{base}/{active.id}/edit")
    assert refused.status_code == 409 and "Only draft surveys can be edited" in refused.text
    assert f"{base}/{active.id}/edit" not in client.get(f"{base}/{active.id}").text
    token = console.csrf(client, base)
    assert client.post(f"{base}/{active.id}/edit", data=_nps_form(token)).status_code == 409

    # "Copy as a new draft" gives a draft with the same questions, opened in the editor.
    copied = client.post(f"{base}/{active.id}/copy", data={"csrf_token": token})
    assert copied.status_code == 303 and copied.headers["location"].endswith("/edit")
    copy_id = int(copied.headers["location"].split("/")[-2])
    copy = manager.get(console.pid, copy_id)
    assert copy.status == "draft" and copy.name == "How are we doing? (2)"
    assert copy.definition["questions"] == manager.get(console.pid, active.id).definition["questions"]
    assert client.get(copied.headers["location"]).status_code == 200

    other = console.runtime.projects.create("Other shop")
    theirs = manager.create(other.project.id, nps_survey(), now=now)
    assert client.get(f"{base}/{theirs.id}/edit").status_code == 404
    assert client.post(f"{base}/{theirs.id}/copy", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{base}/{theirs.id}/edit", data=_nps_form(token)).status_code == 404
    assert manager.get(other.project.id, theirs.id).name == "How are we doing?"


def test_viewers_and_missing_csrf_are_refused(console: ConsoleHarness) -> None:
    manager = SurveyManager(console.runtime.metadata)
    draft = manager.create(console.pid, nps_survey(), now=dt.datetime.now(dt.UTC))
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    base = f"/projects/{console.pid}/surveys"
    assert f'href="{base}/new"' not in viewer.get(base).text
    assert f"{base}/{draft.id}/edit" not in viewer.get(f"{base}/{draft.id}").text
    assert viewer.get(f"{base}/new").status_code == 403
    token = console.csrf(viewer, base)
    assert viewer.post(f"{base}/new", data=_nps_form(token)).status_code == 403
    assert viewer.post(f"{base}/{draft.id}/edit", data=_nps_form(token)).status_code == 403
    assert viewer.post(f"{base}/{draft.id}/copy", data={"csrf_token": token}).status_code == 403
    assert "/copy" not in viewer.get(f"{base}/{draft.id}").text
    operator = console.signed_in("op@example.com", Role.operator)
    assert operator.post(f"{base}/new", data=_nps_form("forged")).status_code == 403
    assert [s.id for s in manager.list(console.pid)] == [draft.id]


def test_user_text_is_escaped_and_unedited_fields_are_kept(console: ConsoleHarness) -> None:
    manager = SurveyManager(console.runtime.metadata)
    definition = nps_survey(name=EVIL)
    definition["questions"][0]["text"]["fr"] = "Recommanderiez-vous notre boutique ?"  # a fourth language (API-made)
    definition["targeting"] = {
        "properties": [{"property": "plan", "type": "person", "op": "in", "value": ["pro", "team"]}]
    }
    draft = manager.create(console.pid, definition, now=dt.datetime.now(dt.UTC))
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    page = client.get(f"{base}/{draft.id}/edit")
    assert EVIL not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # Saving the form as the page gives it keeps the labels the editor does not show (low / high labels).
    token = console.csrf(client, base)
    form = _form_of(page.text)
    form["csrf_token"], form["op"] = token, "save"
    assert client.post(f"{base}/{draft.id}/edit", data=form).status_code == 303
    after = manager.get(console.pid, draft.id).definition
    assert after["questions"][0]["low_label"]["zh_Hans"] == "不太可能"
    assert after["questions"][0]["text"]["fr"] == "Recommanderiez-vous notre boutique ?"  # shown as a 4th column
    assert [q["id"] for q in after["questions"]] == [q["id"] for q in definition["questions"]]
    assert after["questions"][0]["branches"] == [{"max": 6, "goto": "wrong"}]
    assert after["targeting"]["properties"] == definition["targeting"]["properties"]  # "pro, team" read back as a list


def _form_of(html: str) -> dict[str, Any]:
    """The editor form's fields as a browser would send them (inputs, checked boxes, selected options)."""
    import re
    from html import unescape

    form: dict[str, Any] = {}
    body = html.split('id="survey-editor"')[1].split("</form>")[0]
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or ('type="checkbox"' in tag and "checked" not in tag):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        form[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        chosen = [unescape(v) for v in re.findall(r'<option value="([^"]*)" selected', options)]
        if chosen:
            form[name] = chosen if len(chosen) > 1 else chosen[0]
    return form


def test_segment_targeting_offers_the_projects_segments_only(console: ConsoleHarness) -> None:
    from opsloop.users.segments import SegmentInput

    mine = console.runtime.segments.create(console.pid, SegmentInput(name="<b>Pro buyers</b>", kind="static"))
    other = console.runtime.projects.create("Other shop")
    theirs = console.runtime.segments.create(other.project.id, SegmentInput(name="Their segment", kind="static"))
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    page = client.get(f"{base}/new")
    assert f'<option value="{mine.id}">&lt;b&gt;Pro buyers&lt;/b&gt;</option>' in page.text
    assert "Their segment" not in page.text
    token = console.csrf(client, base)
    refused = client.post(f"{base}/new", data=_nps_form(token, segment_id=str(theirs.id)))
    assert refused.status_code == 400 and f"no segment {theirs.id} in this project" in refused.text
    saved = client.post(f"{base}/new", data=_nps_form(token, segment_id=str(mine.id)))
    assert saved.status_code == 303
    [survey] = SurveyManager(console.runtime.metadata).list(console.pid)
    assert survey.definition["targeting"]["segment_id"] == mine.id


def test_every_question_type_and_a_choice_branch(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/surveys"
    token = console.csrf(client, f"{base}/new")
    form: dict[str, Any] = {"csrf_token": token, "languages": "en,zh_Hans,es", "name": "All kinds", "t-count": "0"}
    kinds = ["nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "open_text"]
    # Add the seven kinds one by one with the editor's "Add question" (the form starts with none here).
    form["q-count"] = "0"
    for kind in kinds:
        page = client.post(f"{base}/new", data={**form, "op": "add", "new_type": kind})
        assert page.status_code == 200
        i = int(form["q-count"])
        form.update(_form_of(page.text))
        assert form[f"q-{i}-type"] == kind and form[f"q-{i}-id"] == f"q{i + 1}"
        form[f"q-{i}-text-en"] = f"Question {i + 1}"
        form[f"q-{i}-text-es"] = f"Pregunta {i + 1}"
    assert form["q-3-scale_max"] == "5"  # a new rating question is 1-5 until changed
    form["q-3-scale_max"] = "7"
    for i in (4, 5):  # the two choice questions: two choices each, in English and Chinese
        form.update({f"q-{i}-c-0-id": "cheap", f"q-{i}-c-0-text-en": "Cheap", f"q-{i}-c-0-text-zh_Hans": "便宜"})
        form.update({f"q-{i}-c-1-id": "fast", f"q-{i}-c-1-text-en": "Fast", f"q-{i}-c-1-text-zh_Hans": "快"})
    # With choices in place, the choice question offers its choices as branch conditions.
    page = client.post(f"{base}/new", data={**form, "op": "refresh"})
    assert 'name="q-4-b-0-choices" multiple' in page.text and '<option value="fast">Fast</option>' in page.text
    form.update({"q-4-b-count": "1", "q-4-b-0-choices": ["fast"], "q-4-b-0-goto": "q7"})
    saved = client.post(f"{base}/new", data={**form, "op": "save"})
    assert saved.status_code == 303, saved.text[-3000:]
    [survey] = SurveyManager(console.runtime.metadata).list(console.pid)
    questions = survey.definition["questions"]
    assert [q["type"] for q in questions] == kinds
    assert questions[3]["scale_max"] == 7 and questions[0]["text"] == {"en": "Question 1", "es": "Pregunta 1"}
    assert questions[4]["choices"][1] == {"id": "fast", "text": {"en": "Fast", "zh_Hans": "快"}}
    assert questions[4]["branches"] == [{"choices": ["fast"], "goto": "q7"}]
    assert "choices" not in questions[6]  # open text has none


def test_operators_delete_surveys_viewers_cannot_and_other_projects_are_not_found(console: ConsoleHarness) -> None:
    manager = SurveyManager(console.runtime.metadata)
    now = dt.datetime.now(dt.UTC)
    mine = manager.create(console.pid, nps_survey(), now=now)
    kept = manager.create(console.pid, nps_survey(), now=now)
    other = console.runtime.projects.create("Other shop")
    theirs = manager.create(other.project.id, nps_survey(), now=now)
    base = f"/projects/{console.pid}/surveys"
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    assert f"{base}/{mine.id}/delete" not in viewer.get(f"{base}/{mine.id}").text
    viewer_token = console.csrf(viewer, base)
    assert viewer.post(f"{base}/{mine.id}/delete", data={"csrf_token": viewer_token}).status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    assert f'action="{base}/{mine.id}/delete"' in operator.get(f"{base}/{mine.id}").text
    token = console.csrf(operator, base)
    assert operator.post(f"{base}/{mine.id}/delete").status_code == 403  # no CSRF token
    assert operator.post(f"{base}/{theirs.id}/delete", data={"csrf_token": token}).status_code == 404
    deleted = operator.post(f"{base}/{mine.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and deleted.headers["location"] == f"{base}?done=deleted"
    assert "Survey deleted with its responses." in operator.get(deleted.headers["location"]).text
    assert [s.id for s in manager.list(console.pid)] == [kept.id]
    assert [s.id for s in manager.list(other.project.id)] == [theirs.id]
    assert operator.get(f"{base}/{mine.id}").status_code == 404
