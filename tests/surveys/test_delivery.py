"""Delivery on a real SQLite metadata store: who sees which survey, cooldowns, partial responses, closed surveys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsloop.projects import ProjectService
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Person, PersonDistinctId
from opsloop.surveys.definitions import SurveyInvalid
from opsloop.surveys.delivery import SurveyClosed, SurveyDelivery, SurveyNotFound
from opsloop.surveys.management import SurveyManager, SurveySettingsView
from opsloop.surveys.targeting import in_rollout
from tests.surveys.factories import nps_survey

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


class World:
    """A project with persons, a survey manager and the delivery service."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata
        self.project = ProjectService(metadata).create("surveys").project.id
        self.manager = SurveyManager(metadata)
        self.delivery = SurveyDelivery(metadata)

    def person(self, distinct_id: str, **properties: Any) -> None:
        with self.metadata.session() as s, s.begin():
            s.add(Person(id=f"p-{distinct_id}", project_id=self.project, properties=properties))
            s.flush()
            s.add(PersonDistinctId(project_id=self.project, distinct_id=distinct_id, person_id=f"p-{distinct_id}"))

    def survey(self, **extra: Any) -> int:
        view = self.manager.create(self.project, nps_survey(**extra), now=NOW)
        self.manager.set_status(self.project, view.id, "active", now=NOW)
        return view.id

    def sees(self, distinct_id: str, at: dt.datetime = NOW, **kwargs: Any) -> list[int]:
        return [s.id for s in self.delivery.active(self.project, distinct_id, now=at, **kwargs)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    metadata = MetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    yield World(metadata)
    metadata.close()


def test_person_property_targeting(world: World) -> None:
    world.person("ann", plan="pro", country="CN", orders=5)
    world.person("bob", plan="free", country="CN", orders=1)
    sid = world.survey(
        targeting={
            "properties": [
                {"property": "plan", "type": "person", "value": "pro"},
                {"property": "orders", "type": "person", "op": "gte", "value": 3},
            ]
        }
    )
    assert world.sees("ann") == [sid]
    assert world.sees("bob") == []  # free plan, 1 order
    assert world.sees("stranger") == []  # unknown person: no properties, so no match


def test_trigger_event(world: World) -> None:
    sid = world.survey(targeting={"trigger_events": ["checkout completed"]})
    assert world.sees("ann") == []
    assert world.sees("ann", event="pageview") == []
    assert world.sees("ann", event="checkout completed") == [sid]


def test_rollout_is_deterministic_and_close_to_the_share(world: World) -> None:
    sid = world.survey(targeting={"rollout_percent": 30})
    public_id = world.manager.get(world.project, sid).public_id
    shown = [f"u{i}" for i in range(400) if world.sees(f"u{i}")]
    # Each anonymous id is in or out by its hash: the same call agrees, and about 30% are in.
    assert all(in_rollout(public_id, f"d:{u}", 30) for u in shown)
    assert 90 <= len(shown) <= 150, len(shown)
    assert [u for u in (f"u{i}" for i in range(400)) if world.sees(u)] == shown


def test_segment_hook_hides_without_segments(world: World) -> None:
    world.survey(targeting={"segment_id": 7})
    assert world.sees("ann") == []

    class OnlyAnn:
        def is_member(self, project_id: int, segment_id: int, person_id: str | None) -> bool:
            return segment_id == 7 and person_id == "p-ann"

    world.person("ann")
    world.person("bob")
    world.delivery = SurveyDelivery(world.metadata, OnlyAnn())
    assert len(world.sees("ann")) == 1 and world.sees("bob") == []


def test_dismissal_and_recurrence(world: World) -> None:
    sid = world.survey(hide_after_dismiss_days=7, recurrence_days=90)
    world.delivery.record(world.project, sid, "ann", "shown", now=NOW)
    assert world.sees("ann") == [sid]  # shown but not acted on: still offered
    world.delivery.record(world.project, sid, "ann", "dismissed", now=NOW)
    assert world.sees("ann", NOW + dt.timedelta(days=6)) == []
    assert world.sees("ann", NOW + dt.timedelta(days=7)) == [sid]
    later = NOW + dt.timedelta(days=8)
    world.delivery.respond(world.project, sid, "ann", {"nps": 10, "plan": "pro", "csat": 5}, now=later)
    assert world.sees("ann", later + dt.timedelta(days=89)) == []
    assert world.sees("ann", later + dt.timedelta(days=90)) == [sid]  # NPS every 90 days


def test_dismissed_without_recurrence_is_never_shown_again(world: World) -> None:
    sid = world.survey()
    world.delivery.record(world.project, sid, "ann", "dismissed", now=NOW)
    assert world.sees("ann", NOW + dt.timedelta(days=3650)) == []


def test_project_cooldown_between_surveys(world: World) -> None:
    world.manager.save_settings(world.project, SurveySettingsView(cooldown_days=14))
    first = world.survey(name="first")
    second = world.survey(name="second")
    assert world.sees("ann") == [first]  # with a cooldown, one survey at a time
    world.delivery.record(world.project, first, "ann", "shown", now=NOW)
    world.delivery.record(world.project, first, "ann", "dismissed", now=NOW)
    assert world.sees("ann", NOW + dt.timedelta(days=13)) == []
    assert world.sees("ann", NOW + dt.timedelta(days=14)) == [second]


def test_dates_and_status(world: World) -> None:
    sid = world.survey(starts_at="2026-12-01T00:00:00Z", ends_at="2026-12-31T00:00:00Z")
    assert world.sees("ann") == []
    assert world.sees("ann", dt.datetime(2026, 12, 5, tzinfo=dt.UTC)) == [sid]
    assert world.sees("ann", dt.datetime(2026, 12, 31, tzinfo=dt.UTC)) == []
    with pytest.raises(SurveyClosed, match=f"survey {sid} closed at 2026-12-31"):
        world.delivery.respond(world.project, sid, "ann", {"nps": 5}, now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    world.manager.set_status(world.project, sid, "stopped", now=NOW)
    with pytest.raises(SurveyClosed, match=f"survey {sid} is stopped, not active"):
        world.delivery.respond(world.project, sid, "ann", {"nps": 5}, now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC))


def test_partial_responses_are_kept_and_completed(world: World) -> None:
    sid = world.survey()
    first = world.delivery.respond(world.project, sid, "ann", {"nps": 4}, now=NOW)
    assert not first.completed and first.events == []
    second = world.delivery.respond(
        world.project, sid, "ann", {"wrong": "too slow"}, now=NOW, response_id=first.response_id
    )
    assert second.response_id == first.response_id and second.answers == {"nps": 4, "wrong": "too slow"}
    with pytest.raises(SurveyInvalid, match=r"answers\.like: this question is skipped"):
        world.delivery.respond(world.project, sid, "ann", {"like": "x"}, now=NOW, response_id=first.response_id)
    done = world.delivery.respond(
        world.project, sid, "ann", {"plan": "free", "csat": 2}, now=NOW, response_id=first.response_id
    )
    assert done.completed
    [event] = done.events
    assert event.event == "survey sent"
    assert event.properties["survey_id"] == sid and event.properties["survey_answer_nps"] == 4
    with pytest.raises(SurveyClosed, match="already complete"):
        world.delivery.respond(world.project, sid, "ann", {"csat": 3}, now=NOW, response_id=first.response_id)
    with pytest.raises(SurveyClosed, match="already answered"):
        world.delivery.respond(world.project, sid, "ann", {"nps": 3}, now=NOW)
    with pytest.raises(SurveyNotFound, match="response_id"):
        world.delivery.respond(world.project, sid, "bob", {"csat": 3}, now=NOW, response_id=first.response_id)


def test_other_projects_surveys_are_invisible(world: World) -> None:
    sid = world.survey()
    other = ProjectService(world.metadata).create("other").project.id
    assert world.delivery.active(other, "ann", now=NOW) == []
    with pytest.raises(SurveyNotFound):
        world.delivery.respond(other, sid, "ann", {"nps": 3}, now=NOW)


def test_history_survives_the_person_being_created(world: World) -> None:
    # zed dismisses before ingest has created a person for "zed" (stored under "d:zed"); once the person
    # exists, the dismissal still counts.
    sid = world.survey()
    world.delivery.record(world.project, sid, "zed", "dismissed", now=NOW)
    world.person("zed", plan="pro")
    assert world.sees("zed") == []
