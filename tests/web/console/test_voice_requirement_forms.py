"""Requirements from the console over HTTP: new / edit forms, linking feedback (requirement page and inbox),
votes, the public roadmap switch; roles, CSRF, project isolation, escaping, validation next to the form."""

from __future__ import annotations

import re
from typing import Any

from opsloop.accounts.roles import Role
from opsloop.requirements.schemas import RequirementCreate, RoadmapConfig
from tests.web.console.conftest import ConsoleHarness
from tests.web.console.voice_data import seed_voice

EVIL = "<img src=x onerror=alert(1)>"


def _form(token: str, **extra: str) -> dict[str, Any]:
    form = {
        "csrf_token": token,
        "title": "Faster checkout",
        "description": "Checkout is slow.",
        "status": "planned",
        "impact": "2",
        "confidence": "50",
        "effort": "4",
        "metric_window_days": "14",
    }
    form.update(extra)
    return form


def _reach(html: str) -> int:
    match = re.search(r'id="reach-value">(\d+)<', html)
    assert match, "no reach on the page"
    return int(match.group(1))


def test_operator_creates_edits_and_links_feedback(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/requirements"
    assert f'href="{base}/new"' in client.get(base).text
    token = console.csrf(client, f"{base}/new")
    created = client.post(f"{base}/new", data=_form(token, title=EVIL))
    assert created.status_code == 303, created.text
    rid = int(created.headers["location"].split("/")[-1].split("?")[0])
    stored = console.runtime.requirements.get(console.pid, rid)
    assert (stored.title, stored.status, stored.impact, stored.confidence, stored.effort) == (EVIL, "planned", 2, 50, 4)
    page = client.get(created.headers["location"])
    assert "Requirement saved." in page.text and EVIL not in page.text and "&lt;img src=x" in page.text
    assert _reach(page.text) == 0

    # Search the inbox from the requirement's page and link two items sent by two known persons.
    found = client.get(f"{base}/{rid}", params={"fq": "checkout"})
    assert (
        "Checkout fails when I pay with my credit card" in found.text
        and 'action="' + f"{base}/{rid}/link" in found.text
    )
    linked = client.post(
        f"{base}/{rid}/link", data={"csrf_token": token, "item_id": [str(data.item_ids[0]), str(data.item_ids[1])]}
    )
    assert linked.status_code == 303
    after = client.get(linked.headers["location"])
    # Items 0 and 1 come from user-0 and user-1, two persons: reach 2; score 2 x 2 x 50% / 4 = 0.5.
    assert _reach(after.text) == 2 and "Feedback linked" in after.text
    assert console.runtime.requirements.get(console.pid, rid).score == 0.5
    assert console.runtime.feedback.get(console.pid, data.item_ids[0]).status == "linked"  # type: ignore[union-attr]
    unlinked = client.post(f"{base}/{rid}/unlink", data={"csrf_token": token, "item_id": str(data.item_ids[1])})
    assert unlinked.status_code == 303 and _reach(client.get(unlinked.headers["location"]).text) == 1
    missing = client.post(f"{base}/{rid}/unlink", data={"csrf_token": token, "item_id": "999999"})
    assert missing.status_code == 404 and "is not linked" in missing.text

    # Edit: the form shows the current values and computed reach; an empty target metric stays empty.
    form = client.get(f"{base}/{rid}/edit")
    assert form.status_code == 200 and 'id="r-reach" class="stat-value">1<' in form.text
    metric = '{"kind": "trends", "series": [{"event": "$pageview"}]}'
    saved = client.post(f"{base}/{rid}/edit", data=_form(token, title="Faster checkout", target_metric=metric))
    assert saved.status_code == 303
    stored = console.runtime.requirements.get(console.pid, rid)
    assert stored.title == "Faster checkout" and stored.target_metric == {
        "kind": "trends",
        "series": [{"event": "$pageview"}],
    }
    cleared = client.post(f"{base}/{rid}/edit", data=_form(token, target_metric=""))
    assert cleared.status_code == 303 and console.runtime.requirements.get(console.pid, rid).target_metric is None


def test_form_errors_are_shown_next_to_the_form(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/requirements"
    token = console.csrf(client, f"{base}/new")
    cases = [
        ({"title": " "}, "title"),
        ({"impact": "7"}, "impact must be one of"),
        ({"confidence": "150"}, "confidence"),
        ({"effort": "0"}, "effort"),
        ({"effort": "lots"}, "effort"),
        ({"target_metric": "{not json"}, "target_metric: not valid JSON"),
        ({"target_metric": '{"kind": "retention"}'}, "target_metric"),
        ({"status": "done"}, "status"),
    ]
    for change, message in cases:
        response = client.post(f"{base}/new", data=_form(token, **change))
        assert response.status_code == 400, (change, response.text[:200])
        assert message in response.text and 'id="form-error"' in response.text, change
    assert console.runtime.requirements.list(console.pid).total == 0


def test_inbox_links_an_item_and_votes_count(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    client = console.signed_in("op@example.com", Role.operator)
    pid = console.pid
    inbox = client.get(f"/projects/{pid}/feedback")
    assert f'action="/projects/{pid}/feedback/{data.evil_item}/link"' in inbox.text
    token = console.csrf(client, f"/projects/{pid}/feedback")
    before = console.runtime.requirements.get(pid, data.requirement_id)
    linked = client.post(
        f"/projects/{pid}/feedback/{data.item_ids[5]}/link",
        data={"csrf_token": token, "requirement_id": str(data.requirement_id), "next": f"/projects/{pid}/feedback"},
    )
    assert linked.status_code == 303 and linked.headers["location"].startswith(f"/projects/{pid}/feedback?done=linked")
    assert "Feedback linked to the requirement." in client.get(linked.headers["location"]).text
    # Item 5 comes from user-5, who sent no event: reach counts persons only, so it stays 4; the link is stored.
    after = console.runtime.requirements.get(pid, data.requirement_id)
    assert after.feedback_count == before.feedback_count + 1
    bad = client.post(
        f"/projects/{pid}/feedback/{data.item_ids[5]}/link", data={"csrf_token": token, "requirement_id": "x"}
    )
    assert bad.status_code == 400
    gone = client.post(
        f"/projects/{pid}/feedback/{data.item_ids[5]}/link", data={"csrf_token": token, "requirement_id": "999999"}
    )
    assert gone.status_code == 404

    base = f"/projects/{pid}/requirements/{data.requirement_id}"
    voted = client.post(f"{base}/votes", data={"csrf_token": token, "voter": "user-0", "action": "add"})
    assert voted.status_code == 303 and console.runtime.requirements.get(pid, data.requirement_id).votes == 1
    again = client.post(f"{base}/votes", data={"csrf_token": token, "voter": "user-0", "action": "add"})
    assert again.status_code == 409 and "already voted" in again.text
    empty = client.post(f"{base}/votes", data={"csrf_token": token, "voter": "", "action": "add"})
    assert empty.status_code == 400 and "voter" in empty.text
    withdrawn = client.post(f"{base}/votes", data={"csrf_token": token, "voter": "user-0", "action": "remove"})
    assert withdrawn.status_code == 303 and console.runtime.requirements.get(pid, data.requirement_id).votes == 0


def test_roadmap_settings_on_the_board(console: ConsoleHarness) -> None:
    seed_voice(console.runtime, console.pid, themes=False)
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/requirements"
    token = console.csrf(client, base)
    saved = client.post(
        f"{base}/roadmap", data={"csrf_token": token, "enabled": "1", "slug": "my-shop", "language": "zh"}
    )
    assert saved.status_code == 303
    board = client.get(saved.headers["location"])
    assert 'href="/roadmap/my-shop"' in board.text and "Public roadmap settings saved." in board.text
    assert client.get("/roadmap/my-shop").status_code == 200
    bad = client.post(f"{base}/roadmap", data={"csrf_token": token, "enabled": "1", "slug": "No Spaces!"})
    assert bad.status_code == 400 and "slug" in bad.text
    other = console.runtime.projects.create("Other shop")
    console.runtime.roadmaps.configure(
        other.project.id,
        RoadmapConfig(enabled=True, slug="taken-slug"),
    )
    taken = client.post(f"{base}/roadmap", data={"csrf_token": token, "enabled": "1", "slug": "taken-slug"})
    assert taken.status_code == 409 and "taken" in taken.text
    off = client.post(f"{base}/roadmap", data={"csrf_token": token})
    assert off.status_code == 303 and client.get("/roadmap/my-shop").status_code == 404


def test_viewers_csrf_and_other_projects(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    pid = console.pid
    base = f"/projects/{pid}/requirements"
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    board = viewer.get(base).text
    assert f'href="{base}/new"' not in board and f'action="{base}/roadmap"' not in board
    page = viewer.get(f"{base}/{data.requirement_id}").text
    assert "/edit" not in page and "/link" not in page and "/votes" not in page
    assert "Link to requirement" not in viewer.get(f"/projects/{pid}/feedback").text
    assert viewer.get(f"{base}/new").status_code == 403
    assert viewer.get(f"{base}/{data.requirement_id}/edit").status_code == 403
    token = console.csrf(viewer, base)
    posts = [
        (f"{base}/new", _form(token)),
        (f"{base}/{data.requirement_id}/edit", _form(token)),
        (f"{base}/{data.requirement_id}/link", {"item_id": str(data.evil_item)}),
        (f"{base}/{data.requirement_id}/unlink", {"item_id": str(data.item_ids[0])}),
        (f"{base}/{data.requirement_id}/votes", {"voter": "v"}),
        (f"{base}/roadmap", {"enabled": "1"}),
        (f"/projects/{pid}/feedback/{data.evil_item}/link", {"requirement_id": str(data.requirement_id)}),
    ]
    for path, form in posts:
        assert viewer.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    operator = console.signed_in("op@example.com", Role.operator)
    for path, form in posts:
        assert operator.post(path, data={**form, "csrf_token": "forged"}).status_code == 403, path

    # Another project's admin: this project's requirement and items are "not found" through their project.
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    opid = other.project.id
    theirs = console.runtime.requirements.create(opid, RequirementCreate(title="Theirs"))
    token = console.csrf(outsider, f"/projects/{opid}/requirements")
    assert outsider.get(f"/projects/{opid}/requirements/{data.requirement_id}/edit").status_code == 404
    assert (
        outsider.post(f"/projects/{opid}/requirements/{data.requirement_id}/edit", data=_form(token)).status_code == 404
    )
    assert (
        outsider.post(
            f"/projects/{opid}/requirements/{data.requirement_id}/votes", data={"csrf_token": token, "voter": "x"}
        ).status_code
        == 404
    )
    # Linking this project's feedback item to their own requirement: the item is not found in their project.
    stolen = outsider.post(
        f"/projects/{opid}/requirements/{theirs.id}/link", data={"csrf_token": token, "item_id": str(data.evil_item)}
    )
    assert stolen.status_code == 404
    assert (
        outsider.post(
            f"/projects/{opid}/feedback/{data.evil_item}/link",
            data={"csrf_token": token, "requirement_id": str(theirs.id)},
        ).status_code
        == 404
    )
    assert outsider.get(f"/projects/{pid}/requirements/new").status_code == 404
    assert console.runtime.requirements.get(opid, theirs.id).feedback_count == 0
    assert console.runtime.requirements.get(pid, data.requirement_id).title.startswith("Fix card payments")


def test_operators_delete_requirements_and_their_items_go_back_to_triaged(console: ConsoleHarness) -> None:
    data = seed_voice(console.runtime, console.pid, themes=False)
    pid = console.pid
    base = f"/projects/{pid}/requirements"
    board = console.runtime.requirements
    board.link(pid, data.requirement_id, [data.item_ids[0]])
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    assert f"{base}/{data.requirement_id}/delete" not in viewer.get(f"{base}/{data.requirement_id}").text
    viewer_token = console.csrf(viewer, base)
    assert viewer.post(f"{base}/{data.requirement_id}/delete", data={"csrf_token": viewer_token}).status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    token = console.csrf(operator, base)
    other = console.runtime.projects.create("Other shop")
    theirs = board.create(other.project.id, RequirementCreate(title="Theirs"))
    assert operator.post(f"{base}/{theirs.id}/delete", data={"csrf_token": token}).status_code == 404
    assert operator.post(f"{base}/{data.requirement_id}/delete").status_code == 403  # no CSRF token
    deleted = operator.post(f"{base}/{data.requirement_id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and deleted.headers["location"] == f"{base}?done=deleted"
    assert "Requirement deleted." in operator.get(deleted.headers["location"]).text
    assert data.requirement_id not in [r.id for r in board.list(pid).items]
    assert [r.id for r in board.list(other.project.id).items] == [theirs.id]
    assert console.runtime.feedback.get(pid, data.item_ids[0]).status == "triaged"
