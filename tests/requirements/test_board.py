"""The board on real stores: reach from real persons (identity merges), votes, RICE, statuses, links,
annotations on ship, sorting and project isolation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.schemas import RequirementCreate, RequirementUpdate, VoteIn
from tests.requirements.conftest import Shop

UTC = dt.UTC


def people(shop: Shop) -> Shop:
    """anon-1 browses, then logs in as alice (one person, two ids); bob and carol are persons of their own."""
    shop.event("anon-1", "pageview", "2024-05-01T10:00").identify("anon-1", "alice", "2024-05-01T10:05")
    shop.event("bob", "pageview", "2024-05-01T11:00").event("carol", "pageview", "2024-05-01T12:00")
    shop.write()
    return shop


def test_reach_counts_real_persons_once_through_an_identity_merge(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    board = shop.runtime.requirements
    items = [
        shop.feedback("Login spins forever", "anon-1"),  # alice, before logging in
        shop.feedback("Still cannot log in", "alice"),  # alice again, other id
        shop.feedback("Login fails for me too", "bob"),
        shop.feedback("Login broken", None),  # nobody known: not a person
        shop.feedback("Login broken again", "never-seen"),  # an id no event ever named: not a person
    ]
    req = board.create(shop.project, RequirementCreate(title="Fix login", feedback_ids=[i.id for i in items]))
    # Five items, but only alice (two ids) and bob are known persons: reach 2.
    assert (req.feedback_count, req.persons, req.reach) == (5, 2, 2)
    assert board.persons(shop.project, req.id) == sorted({items[0].person_id, items[2].person_id})
    assert items[0].person_id == items[1].person_id is not None


def test_rice_score_hand_worked_and_voters_in_reach(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    board = shop.runtime.requirements
    a, b = shop.feedback("Export to CSV please", "alice"), shop.feedback("Need CSV export", "bob")
    req = board.create(
        shop.project,
        RequirementCreate(title="CSV export", feedback_ids=[a.id, b.id], impact=2, confidence=50, effort=0.5),
    )
    # reach 2 (alice, bob) x impact 2 x confidence 0.5 / effort 0.5 = 4.
    assert req.score == pytest.approx(4.0)
    board.vote(shop.project, req.id, VoteIn(voter="carol"))
    board.vote(shop.project, req.id, VoteIn(voter="bob"))  # already in reach through feedback
    req = board.update(shop.project, req.id, RequirementUpdate(reach_includes_voters=True))
    # With voters: alice, bob, carol = 3 persons -> 3 x 2 x 0.5 / 0.5 = 6.
    assert (req.reach, req.score) == (3, pytest.approx(6.0))
    req = board.update(shop.project, req.id, RequirementUpdate(impact=0.25, confidence=80, effort=4))
    # 3 x 0.25 x 0.8 / 4 = 0.15.
    assert req.score == pytest.approx(0.15)


def test_one_vote_per_voter_whatever_the_distinct_id(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    board = shop.runtime.requirements
    req = board.create(shop.project, RequirementCreate(title="Dark mode"))
    assert board.vote(shop.project, req.id, VoteIn(voter="anon-1")).votes == 1
    with pytest.raises(RequirementInvalid) as same_person:
        board.vote(shop.project, req.id, VoteIn(voter="alice"))  # alice is anon-1's person
    assert (same_person.value.status, same_person.value.field) == (409, "voter")
    with pytest.raises(RequirementInvalid) as same_id:
        board.vote(shop.project, req.id, VoteIn(voter="anon-1"))
    assert same_id.value.status == 409
    board.vote(shop.project, req.id, VoteIn(voter="bob"))
    board.vote(shop.project, req.id, VoteIn(voter_kind="user", voter="li@ops"))
    with pytest.raises(RequirementInvalid):
        board.vote(shop.project, req.id, VoteIn(voter_kind="user", voter="li@ops"))
    # anon-1 (alice), bob, and the user li: 3 votes.
    assert board.get(shop.project, req.id).votes == 3
    assert board.unvote(shop.project, req.id, VoteIn(voter="bob")).votes == 2


def test_status_changes_are_recorded_and_links_set_item_status(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    board = shop.runtime.requirements
    item = shop.feedback("Search is slow", "bob")
    t0 = dt.datetime(2024, 6, 1, 9, tzinfo=UTC)
    req = board.create(shop.project, RequirementCreate(title="Faster search"), now=t0)
    board.link(shop.project, req.id, [item.id, item.id])  # twice in one call: linked once
    assert shop.runtime.feedback.get(shop.project, item.id).status == "linked"  # type: ignore[union-attr]
    assert board.get(shop.project, req.id).feedback_count == 1
    board.update(shop.project, req.id, RequirementUpdate(status="planned"), now=t0 + dt.timedelta(days=1))
    board.update(shop.project, req.id, RequirementUpdate(status="planned"), now=t0 + dt.timedelta(days=2))  # no change
    board.update(shop.project, req.id, RequirementUpdate(status="in_progress"), now=t0 + dt.timedelta(days=3))
    history = board.history(shop.project, req.id)
    assert [(h.from_status, h.to_status, h.changed_at.day) for h in history] == [
        (None, "under_review", 1),
        ("under_review", "planned", 2),
        ("planned", "in_progress", 4),
    ]
    board.unlink(shop.project, req.id, item.id)
    assert shop.runtime.feedback.get(shop.project, item.id).status == "triaged"  # type: ignore[union-attr]


def test_shipping_places_an_annotation_on_the_local_day_and_unshipping_removes_it(
    make_shop: Callable[..., Shop],
) -> None:
    shop = make_shop(timezone="Asia/Shanghai")
    board, notes = shop.runtime.requirements, shop.runtime.annotations
    req = board.create(shop.project, RequirementCreate(title="Apple sign-in", status="in_progress"))
    # 20:00 UTC on 05-02 is 04:00 on 05-03 in Shanghai: the annotation is on 05-03.
    shipped = dt.datetime(2024, 5, 2, 20, tzinfo=UTC)
    out = board.update(shop.project, req.id, RequirementUpdate(status="shipped", shipped_at=shipped))
    assert out.shipped_at == shipped
    found = notes.list(shop.project, dt.date(2024, 5, 1), dt.date(2024, 5, 31))
    assert [(a.date, a.text, a.source, a.source_id) for a in found] == [
        (dt.date(2024, 5, 3), "Shipped: Apple sign-in", "requirement", req.id)
    ]
    assert found[0].link == f"/api/projects/{shop.project}/requirements/{req.id}"
    assert notes.list(shop.project, dt.date(2024, 5, 4), dt.date(2024, 5, 31)) == []
    board.update(shop.project, req.id, RequirementUpdate(status="in_progress"))
    assert notes.list(shop.project, dt.date(2024, 5, 1), dt.date(2024, 5, 31)) == []
    assert board.get(shop.project, req.id).shipped_at is None
    with pytest.raises(RequirementInvalid) as future:
        board.update(shop.project, req.id, RequirementUpdate(status="shipped", shipped_at=dt.datetime(2999, 1, 1)))
    assert future.value.field == "shipped_at"


def test_board_sorts_by_score_votes_and_title(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    board = shop.runtime.requirements
    a = shop.feedback("a", "alice")
    b = shop.feedback("b", "bob")
    low = board.create(shop.project, RequirementCreate(title="B low", feedback_ids=[a.id], impact=0.5))
    high = board.create(shop.project, RequirementCreate(title="A high", feedback_ids=[a.id, b.id], impact=3))
    none = board.create(shop.project, RequirementCreate(title="C none"))
    board.vote(shop.project, none.id, VoteIn(voter="carol"))
    # Scores (confidence 80, effort 1): high 2 x 3 x 0.8 = 4.8, low 1 x 0.5 x 0.8 = 0.4, none 0.
    assert [r.id for r in board.list(shop.project).items] == [high.id, low.id, none.id]
    assert [r.id for r in board.list(shop.project, sort="votes").items][0] == none.id
    assert [r.title for r in board.list(shop.project, sort="title", descending=False).items] == [
        "A high",
        "B low",
        "C none",
    ]
    assert [r.id for r in board.list(shop.project, status="planned").items] == []


def test_projects_are_isolated(make_shop: Callable[..., Shop]) -> None:
    shop = people(make_shop())
    other = make_shop()
    board = shop.runtime.requirements
    foreign = other.feedback("Not yours", "alice")
    req = board.create(shop.project, RequirementCreate(title="Mine"))
    with pytest.raises(RequirementInvalid) as linked:
        board.link(shop.project, req.id, [foreign.id])
    assert (linked.value.status, linked.value.field) == (404, "item_ids")
    with pytest.raises(RequirementInvalid) as read:
        board.get(other.project, req.id)
    assert read.value.status == 404
    with pytest.raises(RequirementInvalid):
        board.update(other.project, req.id, RequirementUpdate(title="stolen"))
    assert board.list(other.project).total == 0
    assert other.runtime.feedback.get(other.project, foreign.id).status == "new"  # type: ignore[union-attr]


def test_bad_input_names_the_field(make_shop: Callable[..., Shop]) -> None:
    shop = make_shop()
    board = shop.runtime.requirements
    with pytest.raises(ValidationError, match="impact"):
        RequirementCreate(title="x", impact=0.7)
    with pytest.raises(ValidationError, match="effort"):
        RequirementCreate(title="x", effort=0)
    with pytest.raises(ValidationError, match="title"):
        RequirementCreate(title="   ")
    with pytest.raises(RequirementInvalid) as unknown_kind:
        board.create(shop.project, RequirementCreate(title="x", target_metric={"kind": "nope"}))
    assert unknown_kind.value.field == "target_metric" and "unknown query kind" in unknown_kind.value.reason
    with pytest.raises(RequirementInvalid) as wrong_kind:
        board.create(shop.project, RequirementCreate(title="x", target_metric={"kind": "lifecycle", "event": "a"}))
    assert "trends, funnel" in wrong_kind.value.reason
    with pytest.raises(RequirementInvalid) as bad_series:
        board.create(shop.project, RequirementCreate(title="x", target_metric={"kind": "trends", "series": []}))
    assert "series" in bad_series.value.reason
    assert board.list(shop.project).total == 0, "nothing was stored"
