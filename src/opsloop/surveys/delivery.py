"""Delivery: the surveys a person should see now, impressions (shown / dismissed), and responses."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Person, PersonDistinctId
from opsloop.surveys.definitions import Answer, SurveyDefinition, SurveyInvalid, check_answers
from opsloop.surveys.language import LocalSurvey, localise, pick_language
from opsloop.surveys.tables import Survey, SurveyImpression, SurveyResponse, SurveySettings
from opsloop.surveys.targeting import (
    Audience,
    Candidate,
    NoSegments,
    PersonHistory,
    SegmentChecker,
    why_hidden,
)

ImpressionKind = Literal["shown", "dismissed"]
#: Longest distinct id accepted (as capture).
MAX_DISTINCT_ID = 400


class SurveyNotFound(LookupError):
    """No such survey in this project."""


class SurveyClosed(Exception):
    """The survey does not take answers now (draft, stopped, not started, ended, already answered)."""


@dataclass(frozen=True)
class SurveyEvent:
    """An event to capture for a survey interaction (`survey shown`, `survey dismissed`, `survey sent`)."""

    event: str
    distinct_id: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class SavedResponse:
    """A stored (possibly partial) response and the events it produced."""

    response_id: str
    completed: bool
    answers: dict[str, Answer]
    events: list[SurveyEvent]


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as aware UTC (SQLite reads back naive times)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_distinct_id(distinct_id: str | None) -> str:
    """A usable distinct id, or `SurveyInvalid` naming the field."""
    if not distinct_id or not distinct_id.strip():
        raise SurveyInvalid("distinct_id: required")
    if len(distinct_id) > MAX_DISTINCT_ID:
        raise SurveyInvalid(f"distinct_id: longer than {MAX_DISTINCT_ID} characters")
    return distinct_id


def find_audience(session: Session, project_id: int, distinct_id: str) -> Audience:
    """The person behind a distinct id (properties from the persons table), or an anonymous audience."""
    person_id = session.scalar(
        select(PersonDistinctId.person_id).where(
            PersonDistinctId.project_id == project_id, PersonDistinctId.distinct_id == distinct_id
        )
    )
    person = session.get(Person, person_id) if person_id else None
    if person is None or person.project_id != project_id:
        return Audience(key="d:" + distinct_id, person_id=None, properties={}, keys=("d:" + distinct_id,))
    ids = session.scalars(
        select(PersonDistinctId.distinct_id).where(
            PersonDistinctId.project_id == project_id, PersonDistinctId.person_id == person.id
        )
    )
    keys = (person.id, *("d:" + d for d in ids))
    return Audience(key=person.id, person_id=person.id, properties=dict(person.properties or {}), keys=keys)


def load_history(session: Session, project_id: int, person_keys: tuple[str, ...]) -> PersonHistory:
    """The person's last shown / dismissed / completed time per survey (under any of their keys)."""
    shown: dict[int, dt.datetime] = {}
    dismissed: dict[int, dt.datetime] = {}
    completed: dict[int, dt.datetime] = {}
    rows = session.execute(
        select(SurveyImpression.survey_id, SurveyImpression.kind, SurveyImpression.created_at).where(
            SurveyImpression.project_id == project_id, SurveyImpression.person_key.in_(person_keys)
        )
    )
    for survey_id, kind, at in rows:
        target = shown if kind == "shown" else dismissed
        target[survey_id] = max(target.get(survey_id, as_utc(at)), as_utc(at))
    done = session.execute(
        select(SurveyResponse.survey_id, SurveyResponse.updated_at).where(
            SurveyResponse.project_id == project_id,
            SurveyResponse.person_key.in_(person_keys),
            SurveyResponse.completed.is_(True),
        )
    )
    for survey_id, at in done:
        completed[survey_id] = max(completed.get(survey_id, as_utc(at)), as_utc(at))
    return PersonHistory(shown=shown, dismissed=dismissed, completed=completed)


def cooldown_days(session: Session, project_id: int) -> int:
    """The project's cooldown between two surveys shown to one person (0: none)."""
    row = session.get(SurveySettings, project_id)
    return row.cooldown_days if row else 0


def closed_reason(survey: Survey, definition: SurveyDefinition, now: dt.datetime) -> str | None:
    """Why the survey takes no answers now, or None."""
    if survey.status != "active":
        return f"survey {survey.id} is {survey.status}, not active"
    if definition.starts_at and now < as_utc(definition.starts_at):
        return f"survey {survey.id} starts at {as_utc(definition.starts_at).isoformat()}"
    if definition.ends_at and now >= as_utc(definition.ends_at):
        return f"survey {survey.id} closed at {as_utc(definition.ends_at).isoformat()}"
    return None


class SurveyDelivery:
    """The respondent side of surveys, for the widget, the hosted page and SDKs (token-authenticated)."""

    def __init__(self, metadata: MetadataStore, segments: SegmentChecker | None = None) -> None:
        self.metadata = metadata
        self.segments = segments or NoSegments()

    def active(
        self,
        project_id: int,
        distinct_id: str,
        *,
        now: dt.datetime,
        event: str | None = None,
        lang: str | None = None,
        accept_language: str | None = None,
    ) -> list[LocalSurvey]:
        """Surveys this person should see now, in their language (one at most when a cooldown is set)."""
        distinct_id = check_distinct_id(distinct_id)
        with self.metadata.session() as session:
            audience = find_audience(session, project_id, distinct_id)
            history = load_history(session, project_id, audience.keys)
            cooldown = cooldown_days(session, project_id)
            rows = session.scalars(
                select(Survey).where(Survey.project_id == project_id, Survey.status == "active").order_by(Survey.id)
            ).all()
            found: list[LocalSurvey] = []
            for row in rows:
                definition = SurveyDefinition.model_validate(row.definition)
                candidate = Candidate(row.id, row.public_id, definition)
                hidden = why_hidden(
                    candidate,
                    project_id=project_id,
                    audience=audience,
                    history=history,
                    event=event,
                    now=now,
                    cooldown_days=cooldown,
                    segments=self.segments,
                )
                if hidden is None:
                    language = pick_language(definition.languages, lang, accept_language, definition.default_language)
                    found.append(localise(row.id, row.public_id, definition, language))
            return found[:1] if cooldown else found

    def survey(self, project_id: int | None, survey_id: int | None = None, public_id: str | None = None) -> Survey:
        """A survey by id within a project, or by public id; `SurveyNotFound` otherwise."""
        with self.metadata.session() as session:
            if public_id is not None:
                row = session.scalar(select(Survey).where(Survey.public_id == public_id))
            else:
                # Ids beyond the INTEGER range are simply not found (PostgreSQL refuses to look them up).
                row = session.get(Survey, survey_id) if survey_id is not None and 0 < survey_id < 2**31 else None
            if row is None or (project_id is not None and row.project_id != project_id):
                raise SurveyNotFound(f"no survey {public_id or survey_id} in this project")
            session.expunge(row)
            return row

    def record(
        self, project_id: int, survey_id: int, distinct_id: str, kind: ImpressionKind, *, now: dt.datetime
    ) -> SurveyEvent:
        """Store that the survey was shown to / dismissed by the person; returns the event to capture."""
        distinct_id = check_distinct_id(distinct_id)
        survey = self.survey(project_id, survey_id)
        definition = SurveyDefinition.model_validate(survey.definition)
        reason = closed_reason(survey, definition, now)
        if reason:
            raise SurveyClosed(reason)
        with self.metadata.session() as session, session.begin():
            audience = find_audience(session, project_id, distinct_id)
            session.add(
                SurveyImpression(
                    project_id=project_id,
                    survey_id=survey_id,
                    person_key=audience.key,
                    distinct_id=distinct_id,
                    kind=kind,
                    created_at=now,
                )
            )
        props = {"survey_id": survey.id, "survey_name": survey.name, "survey_public_id": survey.public_id}
        return SurveyEvent(f"survey {kind}", distinct_id, props)

    def respond(
        self,
        project_id: int,
        survey_id: int,
        distinct_id: str,
        answers: dict[str, object],
        *,
        now: dt.datetime,
        response_id: str | None = None,
        lang: str | None = None,
    ) -> SavedResponse:
        """Store answers (new response, or more answers to `response_id`); validated against the branching."""
        distinct_id = check_distinct_id(distinct_id)
        if not answers:
            raise SurveyInvalid("answers: give at least one answer")
        survey = self.survey(project_id, survey_id)
        definition = SurveyDefinition.model_validate(survey.definition)
        reason = closed_reason(survey, definition, now)
        if reason:
            raise SurveyClosed(reason)
        language = lang if lang in definition.languages else definition.default_language
        with self.metadata.session() as session, session.begin():
            audience = find_audience(session, project_id, distinct_id)
            if response_id is not None:
                row = session.get(SurveyResponse, response_id)
                if row is None or row.survey_id != survey_id or row.person_key not in audience.keys:
                    raise SurveyNotFound(f"response_id: no response {response_id!r} of this person to this survey")
                if row.completed:
                    raise SurveyClosed(f"response {response_id} is already complete")
                merged = {**row.answers, **answers}
            else:
                history = load_history(session, project_id, audience.keys)
                done = history.completed.get(survey_id)
                if done is not None and (
                    definition.recurrence_days is None or now - done < dt.timedelta(days=definition.recurrence_days)
                ):
                    raise SurveyClosed(f"this person already answered survey {survey_id}")
                row = SurveyResponse(
                    id=str(uuid.uuid4()),
                    project_id=project_id,
                    survey_id=survey_id,
                    person_key=audience.key,
                    distinct_id=distinct_id,
                    language=language,
                    answers={},
                    completed=False,
                    created_at=now,
                )
                session.add(row)
                merged = dict(answers)
            clean, complete = check_answers(definition, merged)
            row.answers = clean
            row.completed = complete
            row.updated_at = now
            saved_id = row.id
        events: list[SurveyEvent] = []
        if complete:
            props: dict[str, Any] = {
                "survey_id": survey.id,
                "survey_name": survey.name,
                "survey_public_id": survey.public_id,
                "survey_response_id": saved_id,
                "survey_language": language,
            }
            props.update({f"survey_answer_{qid}": value for qid, value in clean.items()})
            events.append(SurveyEvent("survey sent", distinct_id, props))
        return SavedResponse(saved_id, complete, clean, events)
