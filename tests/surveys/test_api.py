"""Surveys over HTTP on a real server: token routes, events through the ingest path, management, results, CSV,
the hosted page (escaping), and bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from opsloop.projects import NewProject
from tests.conftest import LiveServer
from tests.surveys.factories import nps_survey


def admin(server: LiveServer, method: str, path: str, project: NewProject | None = None, **kw: Any) -> httpx.Response:
    project = project or server.project
    headers = {"Authorization": f"Bearer {project.api_key}"}
    return server.client.request(method, f"/api/projects/{project.project.id}/surveys{path}", headers=headers, **kw)


def active_survey(server: LiveServer, **extra: Any) -> dict[str, Any]:
    r = admin(server, "POST", "", json=nps_survey(**extra))
    assert r.status_code == 201, r.text
    survey = r.json()
    r = admin(server, "POST", f"/{survey['id']}/activate")
    assert r.status_code == 200 and r.json()["status"] == "active"
    return survey  # type: ignore[no-any-return]


def answer(server: LiveServer, sid: int, who: str, answers: dict[str, Any], **extra: Any) -> httpx.Response:
    body = {"token": server.project.token, "distinct_id": who, "answers": answers, **extra}
    return server.client.post(f"/api/surveys/{sid}/responses", json=body)


def test_respondent_flow_with_events_and_results(live_server: LiveServer) -> None:
    server = live_server
    survey = active_survey(server)
    sid = survey["id"]
    token = server.project.token
    r = server.client.get(
        "/api/surveys/active", params={"token": token, "distinct_id": "ann"}, headers={"Accept-Language": "es-MX"}
    )
    assert r.status_code == 200
    [shown] = r.json()["surveys"]
    assert shown["language"] == "es" and shown["questions"][0]["text"].startswith("¿Qué probabilidad")
    assert server.client.post(f"/api/surveys/{sid}/shown", json={"token": token, "distinct_id": "ann"}).json()["ok"]
    # Partial: the first answer creates the response; later answers update it.
    first = answer(server, sid, "ann", {"nps": 3})
    assert first.status_code == 200 and first.json()["completed"] is False
    rid = first.json()["response_id"]
    r = answer(server, sid, "ann", {"wrong": "crashes", "plan": "pro", "csat": 4}, response_id=rid)
    assert r.json() == {"response_id": rid, "completed": True, "answers": r.json()["answers"]}
    assert r.json()["answers"]["wrong"] == "crashes"
    # bob is shown and dismisses; cat answers 10 and stops halfway.
    for who, kind in (("bob", "shown"), ("bob", "dismissed"), ("cat", "shown")):
        assert server.client.post(f"/api/surveys/{sid}/{kind}", json={"token": token, "distinct_id": who}).is_success
    assert answer(server, sid, "cat", {"nps": 10}).json()["completed"] is False
    # Answered and dismissed persons are not offered the survey again; cat (partial) still is.
    for who, expected in (("ann", 0), ("bob", 0), ("cat", 1)):
        r = server.client.get("/api/surveys/active", params={"token": token, "distinct_id": who})
        assert len(r.json()["surveys"]) == expected, who
    rows = server.sql(
        "select event, distinct_id, properties->>'survey_id', properties->>'survey_answer_nps' from events "
        "where event like 'survey %' order by event, distinct_id"
    )
    assert rows == [
        ["survey dismissed", "bob", str(sid), None],
        ["survey sent", "ann", str(sid), "3"],
        ["survey shown", "ann", str(sid), None],
        ["survey shown", "bob", str(sid), None],
        ["survey shown", "cat", str(sid), None],
    ]
    results = admin(server, "GET", f"/{sid}/results").json()
    # Shown to 3 persons; ann and cat answered something -> response rate 2/3; 1 complete, 1 partial.
    assert (results["shown"], results["answered"], results["completed"], results["partial"]) == (3, 2, 1, 1)
    assert abs(results["response_rate"] - 2 / 3) < 1e-9
    nps_q = results["questions"][0]
    # One detractor (3) and one promoter (10): NPS 0, 2 answers.
    assert nps_q["nps"]["value"] == 0 and nps_q["nps"]["promoters"] == 1 and nps_q["nps"]["detractors"] == 1
    assert results["questions"][1]["open_text"][0]["text"] == "crashes"
    plan = results["questions"][3]["distribution"]
    assert [(c["value"], c["count"]) for c in plan] == [("free", 0), ("pro", 1)]
    text = admin(server, "GET", f"/{sid}/responses.csv").content.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert {row["distinct_id"]: (row["nps"], row["completed"]) for row in table} == {
        "ann": ("3", "true"),
        "cat": ("10", "false"),
    }


def test_bad_input(live_server: LiveServer) -> None:
    server = live_server
    sid = active_survey(server)["id"]
    r = answer(server, sid, "ann", {"nps": 11})
    assert r.status_code == 400 and "answers.nps" in r.json()["detail"] and "0..10" in r.json()["detail"]
    r = server.client.post(f"/api/surveys/{sid}/responses", json={"token": "olp_nope", "distinct_id": "a"})
    assert r.status_code == 401 and "token" in r.json()["detail"]
    r = server.client.get("/api/surveys/active", params={"token": "olp_nope", "distinct_id": "a"})
    assert r.status_code == 401
    r = answer(server, sid, "ann", {"nps": 2, "wrong": "x" * 5001})
    assert r.status_code == 400 and "answers.wrong" in r.json()["detail"]
    r = server.client.post(f"/api/surveys/{sid}/responses", content=b"{" + b"x" * 70_000)
    assert r.status_code == 413
    r = server.client.post(f"/api/surveys/{sid}/responses", content=b"not json")
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = answer(server, sid, "", {"nps": 2})
    assert r.status_code == 400 and r.json()["detail"] == "distinct_id: required"
    # Nothing was stored by the refused requests.
    assert admin(server, "GET", f"/{sid}/results").json()["answered"] == 0
    admin(server, "POST", f"/{sid}/stop")
    r = answer(server, sid, "ann", {"nps": 9})
    assert r.status_code == 409 and f"survey {sid} is stopped" in r.json()["detail"]
    # Another project's token cannot answer this project's survey.
    other = server.new_project()
    r = server.client.post(
        f"/api/surveys/{sid}/responses", json={"token": other.token, "distinct_id": "a", "answers": {"nps": 1}}
    )
    assert r.status_code == 404


def test_management_api(live_server: LiveServer) -> None:
    server = live_server
    bad = nps_survey()
    bad["questions"][0]["branches"][0]["goto"] = "nowhere"
    r = admin(server, "POST", "", json=bad)
    assert r.status_code == 400 and "branch target 'nowhere'" in r.json()["detail"]
    survey = active_survey(server)
    sid = survey["id"]
    assert [s["id"] for s in admin(server, "GET", "").json()] == [sid]
    r = admin(server, "PUT", f"/{sid}", json=nps_survey(name="Renamed"))
    assert r.json()["name"] == "Renamed" and r.json()["status"] == "active"
    assert admin(server, "PUT", "/settings", json={"cooldown_days": 30}).json() == {"cooldown_days": 30}
    assert admin(server, "GET", "/settings").json() == {"cooldown_days": 30}
    other = server.new_project()
    r = server.client.get(
        f"/api/projects/{other.project.id}/surveys/{sid}", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert r.status_code == 404
    assert admin(server, "DELETE", f"/{sid}").status_code == 204
    assert admin(server, "GET", f"/{sid}").status_code == 404


def test_hosted_page_escapes_and_branches(live_server: LiveServer) -> None:
    server = live_server
    data = nps_survey(name="<script>alert('name')</script>")
    survey = active_survey(server, **{k: v for k, v in data.items() if k == "name"})
    page = server.client.get(f"/s/{survey['public_id']}", params={"distinct_id": "web-1", "lang": "zh_Hans"})
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#39;name&#39;)" in page.text
    assert "您向朋友推荐我们的可能性有多大？" in page.text
    form = {"distinct_id": "web-1", "response_id": "", "question_id": "nps", "lang": "zh_Hans", "answer": "2"}
    step = server.client.post(f"/s/{survey['public_id']}", data=form)
    assert step.status_code == 200 and "哪里出了问题？" in step.text  # detractor branch
    rid = step.text.split('name="response_id" value="')[1].split('"')[0]
    evil = "<img src=x onerror=alert(1)>"
    for qid, value in (("wrong", evil), ("plan", "pro"), ("csat", "5")):
        form = {**form, "response_id": rid, "question_id": qid, "answer": value}
        step = server.client.post(f"/s/{survey['public_id']}", data=form)
        assert step.status_code == 200, step.text
    assert evil not in step.text and "&lt;img src=x onerror=alert(1)&gt;" in step.text  # answers summary, escaped
    assert "专业版" in step.text
    stored = server.client.get(
        f"/api/projects/{server.project.project.id}/surveys/{survey['id']}/results",
        headers={"Authorization": f"Bearer {server.project.api_key}"},
    ).json()
    assert stored["completed"] == 1 and stored["questions"][1]["open_text"][0]["text"] == evil
    # Opened with a distinct id: counted as shown to web-1, who answered -> response rate 1.
    assert (stored["shown"], stored["response_rate"]) == (1, 1.0)
    # An out-of-range value posted by hand is refused on the page, naming the question.
    bad = server.client.post(
        f"/s/{survey['public_id']}",
        data={**form, "response_id": "", "question_id": "nps", "distinct_id": "web-2", "answer": "11"},
    )
    assert bad.status_code == 400 and "answers.nps" in bad.text
    assert server.client.get("/s/nope").status_code == 404
    admin(server, "POST", f"/{survey['id']}/stop")
    closed = server.client.get(f"/s/{survey['public_id']}")
    assert closed.status_code == 409 and "This survey is closed." in closed.text


def test_widget_script_is_served(live_server: LiveServer) -> None:
    r = live_server.client.get("/static/surveys.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"] and "opsloopSurveys" in r.text


def test_huge_survey_ids_are_not_found(live_server: LiveServer) -> None:
    body = {"token": live_server.project.token, "distinct_id": "a", "answers": {"nps": 1}}
    r = live_server.client.post(f"/api/surveys/{2**40}/responses", json=body)
    assert r.status_code == 404
    r = admin(live_server, "GET", f"/{2**40}/results")
    assert r.status_code == 404
