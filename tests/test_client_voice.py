"""The SDK's voice-of-the-user calls against a real server on loopback: feedback, active surveys, impressions
and answers (partial, then completed), and the server's refusals raised as APIError with its reason."""

from __future__ import annotations

import pytest

from opsloop.client import APIError, Client
from tests.conftest import LiveServer
from tests.surveys.factories import nps_survey


def test_feedback_is_stored_linked_and_refusals_say_why(live_server: LiveServer) -> None:
    project = live_server.project
    pid = project.project.id
    with Client(live_server.url, project.token) as client:
        item = client.send_feedback(pid, "Checkout is <b>slow</b>", distinct_id="ann", tags=["ios"], language="en")
        assert item["text"] == "Checkout is <b>slow</b>" and item["distinct_id"] == "ann" and item["tags"] == ["ios"]
        with pytest.raises(APIError) as empty:
            client.send_feedback(pid, "ok", tags="not a list")
        assert empty.value.status == 400 and "tags" in empty.value.message
        other = live_server.new_project()
        with pytest.raises(APIError) as elsewhere:
            client.send_feedback(other.project.id, "wrong project")
        assert elsewhere.value.status == 403 and f"project {other.project.id}" in elsewhere.value.message
        with pytest.raises(ValueError, match="text must be a non-empty string"):
            client.send_feedback(pid, "  ")
    with Client(live_server.url, "phc_unknown") as stranger, pytest.raises(APIError) as unknown:
        stranger.send_feedback(pid, "hello")
    assert unknown.value.status == 401
    stored = live_server.client.get(
        f"/api/projects/{pid}/feedback", headers={"Authorization": f"Bearer {project.api_key}"}
    ).json()
    assert [i["text"] for i in stored["items"]] == ["Checkout is <b>slow</b>"]


def test_a_survey_is_offered_shown_answered_in_two_parts_and_then_refused_when_stopped(
    live_server: LiveServer,
) -> None:
    project = live_server.project
    headers = {"Authorization": f"Bearer {project.api_key}"}
    base = f"/api/projects/{project.project.id}/surveys"
    sid = live_server.client.post(base, json=nps_survey(), headers=headers).json()["id"]
    assert live_server.client.post(f"{base}/{sid}/activate", headers=headers).status_code == 200
    with Client(live_server.url, project.token) as client:
        [offered] = client.active_surveys("ann", lang="es")
        assert offered["id"] == sid and offered["questions"][0]["text"] == "¿Qué probabilidad hay de que nos recomiendes?"
        client.survey_shown(sid, "ann")
        first = client.answer_survey(sid, "ann", {"nps": 3})  # a detractor: the branch asks what went wrong
        assert first["completed"] is False and first["answers"] == {"nps": 3}
        done = client.answer_survey(
            sid, "ann", {"wrong": "Slow", "plan": "pro", "csat": 4}, response_id=first["response_id"]
        )
        assert done["response_id"] == first["response_id"] and done["completed"] is True
        assert client.active_surveys("ann") == []  # answered: not offered again
        with pytest.raises(APIError) as out_of_range:
            client.answer_survey(sid, "bob", {"nps": 11})
        assert out_of_range.value.status == 400 and "nps" in out_of_range.value.message
        assert live_server.client.post(f"{base}/{sid}/stop", headers=headers).status_code == 200
        with pytest.raises(APIError) as closed:
            client.answer_survey(sid, "cat", {"nps": 9})
        assert closed.value.status == 409
    # The impression and both parts of the answer are events too.
    live_server.flush()
    rows = live_server.sql("select event, count(*) from events group by event order by event")
    assert ["survey shown", 1] in rows and ["survey sent", 1] in rows
