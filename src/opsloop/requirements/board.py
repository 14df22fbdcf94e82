"""The requirements board: create, change, link feedback, vote, and list requirements sorted by RICE.

Reach, votes and score are computed whenever a requirement is read (from its links and votes through the
identity map), so a change anywhere (a link, a vote, an `identify` that merges two voters) shows at once.
Moving a requirement to `shipped` places an annotation on the project's charts in the same transaction.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsloop.annotations.timeline import place, remove
from opsloop.feedback.models import FeedbackItem
from opsloop.query.registry import QueryInvalid, parse_query
from opsloop.requirements.audience import Audience, audiences, person_map
from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.models import Requirement, RequirementFeedback, RequirementStatusChange, RequirementVote
from opsloop.requirements.rice import Rice
from opsloop.requirements.schemas import (
    RequirementCreate,
    RequirementFields,
    RequirementOut,
    RequirementPage,
    RequirementUpdate,
    SortKey,
    StatusChangeOut,
    VoteIn,
)
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Project, utcnow

#: Query kinds a target metric may be: each gives one number per window (see `impact.metric_value`).
METRIC_KINDS = ("trends", "funnel")
#: Where an annotation placed by a requirement points (console pages read the same id).
ANNOTATION_SOURCE = "requirement"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_target_metric(body: dict[str, Any]) -> dict[str, Any]:
    """A target metric query object, validated by the query registry; `RequirementInvalid` naming it."""
    try:
        model = parse_query(body)
    except QueryInvalid as exc:
        raise RequirementInvalid("target_metric", str(exc)) from None
    if model.kind not in METRIC_KINDS:  # type: ignore[attr-defined]
        raise RequirementInvalid("target_metric", f"kind must be one of {', '.join(METRIC_KINDS)}")
    return body


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    """The project-local day of an instant."""
    return _aware(moment).astimezone(ZoneInfo(timezone)).date()


class RequirementBoard:
    """Requirements of the projects of one metadata store."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    # -- reading ------------------------------------------------------------------------------------------

    def _row(self, session: Session, project_id: int, requirement_id: int) -> Requirement:
        row = session.get(Requirement, requirement_id) if requirement_id <= 2**31 - 1 else None
        if row is None or row.project_id != project_id:
            raise RequirementInvalid(
                "requirement_id", f"no requirement {requirement_id} in project {project_id}", status=404
            )
        return row

    @staticmethod
    def _out(row: Requirement, audience: Audience) -> RequirementOut:
        reach = audience.reach(row.reach_includes_voters)
        rice = Rice(reach=reach, impact=row.impact, confidence=row.confidence, effort=row.effort)
        return RequirementOut(
            id=row.id,
            project_id=row.project_id,
            title=row.title,
            description=row.description,
            status=row.status,
            public=row.public,
            public_summary=row.public_summary,
            reach=reach,
            persons=len(audience.persons),
            votes=audience.votes,
            feedback_count=audience.feedback_count,
            impact=row.impact,
            confidence=row.confidence,
            effort=row.effort,
            score=rice.score,
            reach_includes_voters=row.reach_includes_voters,
            target_metric=row.target_metric,
            metric_window_days=row.metric_window_days,
            success_criteria=row.success_criteria,
            success_target=row.success_target,
            shipped_at=_aware(row.shipped_at) if row.shipped_at else None,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )

    def _output(self, session: Session, row: Requirement) -> RequirementOut:
        return self._out(row, audiences(session, row.project_id, [row.id])[row.id])

    def get(self, project_id: int, requirement_id: int) -> RequirementOut:
        """One requirement with its reach, votes and score (404 if it is not the project's)."""
        with self.metadata.session() as session:
            return self._output(session, self._row(session, project_id, requirement_id))

    def list(
        self,
        project_id: int,
        *,
        status: str | None = None,
        sort: SortKey = "score",
        descending: bool = True,
        public_only: bool = False,
    ) -> RequirementPage:
        """The board: every requirement (of one status, if given), sorted; ties by id."""
        with self.metadata.session() as session:
            query = select(Requirement).where(Requirement.project_id == project_id)
            if status is not None:
                query = query.where(Requirement.status == status)
            if public_only:
                query = query.where(Requirement.public.is_(True))
            rows = session.scalars(query.order_by(Requirement.id)).all()
            found = audiences(session, project_id, [r.id for r in rows])
            items = [self._out(r, found[r.id]) for r in rows]
        items.sort(key=lambda r: r.id)
        items.sort(key=lambda r: getattr(r, sort), reverse=descending)
        return RequirementPage(total=len(items), items=items)

    def history(self, project_id: int, requirement_id: int) -> builtins.list[StatusChangeOut]:
        """The requirement's status changes, oldest first (the first is its creation)."""
        with self.metadata.session() as session:
            self._row(session, project_id, requirement_id)
            rows = session.scalars(
                select(RequirementStatusChange)
                .where(RequirementStatusChange.requirement_id == requirement_id)
                .order_by(RequirementStatusChange.id)
            ).all()
            return [
                StatusChangeOut(from_status=r.from_status, to_status=r.to_status, changed_at=_aware(r.changed_at))
                for r in rows
            ]

    def linked_items(self, project_id: int, requirement_id: int) -> builtins.list[FeedbackItem]:
        """The linked feedback items (detached rows), oldest first."""
        with self.metadata.session() as session:
            self._row(session, project_id, requirement_id)
            rows = session.scalars(
                select(FeedbackItem)
                .join(RequirementFeedback, RequirementFeedback.item_id == FeedbackItem.id)
                .where(RequirementFeedback.requirement_id == requirement_id)
                .order_by(FeedbackItem.created_at, FeedbackItem.id)
            ).all()
            session.expunge_all()
            return builtins.list(rows)

    def persons(self, project_id: int, requirement_id: int) -> builtins.list[str]:
        """The distinct persons behind the linked feedback (identity merges resolved), sorted."""
        with self.metadata.session() as session:
            self._row(session, project_id, requirement_id)
            return sorted(audiences(session, project_id, [requirement_id])[requirement_id].persons)

    # -- changing -----------------------------------------------------------------------------------------

    def create(self, project_id: int, new: RequirementCreate, *, now: dt.datetime | None = None) -> RequirementOut:
        """Add a requirement (status `under_review` unless given), linking `feedback_ids` at once."""
        now = now or utcnow()
        with self.metadata.session() as session, session.begin():
            project = session.get(Project, project_id)
            if project is None:
                raise RequirementInvalid("project_id", f"project {project_id} does not exist", status=404)
            row = Requirement(project_id=project_id, title=new.title, created_at=now, updated_at=now)
            session.add(row)
            self._apply(session, row, new, project.timezone, now, initial=True)
            session.flush()
            session.add(RequirementStatusChange(requirement_id=row.id, to_status=row.status, changed_at=now))
            if row.status == "shipped":
                self._annotate(session, row, project.timezone)
            self._link(session, row, new.feedback_ids)
            session.flush()
            return self._output(session, row)

    def update(
        self, project_id: int, requirement_id: int, change: RequirementUpdate, *, now: dt.datetime | None = None
    ) -> RequirementOut:
        """Change fields; a status change is recorded with its time, and shipping places an annotation."""
        now = now or utcnow()
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, requirement_id)
            project = session.get(Project, project_id)
            assert project is not None
            if change.title is not None:
                if not change.title.strip():
                    raise RequirementInvalid("title", "the title is empty")
                row.title = change.title.strip()
            if change.clear_target_metric:
                row.target_metric = None
            self._apply(session, row, change, project.timezone, now, initial=False)
            row.updated_at = now
            session.flush()
            return self._output(session, row)

    def _apply(
        self,
        session: Session,
        row: Requirement,
        change: RequirementFields,
        timezone: str,
        now: dt.datetime,
        *,
        initial: bool,
    ) -> None:
        for name in ("description", "public", "public_summary", "impact", "confidence", "effort"):
            value = getattr(change, name)
            if value is not None:
                setattr(row, name, value)
        for name in ("reach_includes_voters", "metric_window_days", "success_criteria", "success_target"):
            value = getattr(change, name)
            if value is not None:
                setattr(row, name, value)
        if change.target_metric is not None:
            row.target_metric = check_target_metric(change.target_metric)
        shipped_at = getattr(change, "shipped_at", None)
        if shipped_at is not None and change.status != "shipped":
            raise RequirementInvalid("shipped_at", "give `shipped_at` together with `status: shipped`")
        if shipped_at is not None and _aware(shipped_at) > now:
            raise RequirementInvalid("shipped_at", "the ship time is in the future")
        if initial:
            row.status = change.status or "under_review"
            row.shipped_at = (_aware(shipped_at) if shipped_at else now) if row.status == "shipped" else None
            return
        if change.status == row.status == "shipped" and shipped_at is not None:
            # A correction of the ship time: the annotation moves with it.
            row.shipped_at = _aware(shipped_at)
            remove(session, row.project_id, ANNOTATION_SOURCE, row.id)
            self._annotate(session, row, timezone)
            return
        if change.status is None or change.status == row.status:
            return
        before, row.status = row.status, change.status
        session.add(
            RequirementStatusChange(requirement_id=row.id, from_status=before, to_status=row.status, changed_at=now)
        )
        if before == "shipped":
            row.shipped_at = None
            remove(session, row.project_id, ANNOTATION_SOURCE, row.id)
        if row.status == "shipped":
            row.shipped_at = _aware(shipped_at) if shipped_at else now
            self._annotate(session, row, timezone)

    @staticmethod
    def _annotate(session: Session, row: Requirement, timezone: str) -> None:
        assert row.shipped_at is not None
        session.flush()
        place(
            session,
            row.project_id,
            local_date(row.shipped_at, timezone),
            f"Shipped: {row.title}",
            link=f"/api/projects/{row.project_id}/requirements/{row.id}",
            source=ANNOTATION_SOURCE,
            source_id=row.id,
        )

    def delete(self, project_id: int, requirement_id: int) -> None:
        """Delete a requirement, its links, votes and ship annotation (linked items go back to `triaged`)."""
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, requirement_id)
            items = session.scalars(
                select(RequirementFeedback.item_id).where(RequirementFeedback.requirement_id == row.id)
            ).all()
            remove(session, project_id, ANNOTATION_SOURCE, row.id)
            session.execute(delete(RequirementFeedback).where(RequirementFeedback.requirement_id == row.id))
            session.execute(delete(RequirementVote).where(RequirementVote.requirement_id == row.id))
            session.execute(delete(RequirementStatusChange).where(RequirementStatusChange.requirement_id == row.id))
            session.delete(row)
            session.flush()
            _release(session, items)

    # -- feedback links -----------------------------------------------------------------------------------

    def link(self, project_id: int, requirement_id: int, item_ids: Sequence[int]) -> RequirementOut:
        """Link feedback items (their status becomes `linked`); linking one twice changes nothing."""
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, requirement_id)
            self._link(session, row, item_ids)
            row.updated_at = utcnow()
            session.flush()
            return self._output(session, row)

    @staticmethod
    def _link(session: Session, row: Requirement, item_ids: Sequence[int]) -> None:
        if not item_ids:
            return
        wanted = sorted({i for i in item_ids if 0 < i <= 2**31 - 1})
        items = {
            item.id: item
            for item in session.scalars(
                select(FeedbackItem).where(FeedbackItem.id.in_(wanted), FeedbackItem.project_id == row.project_id)
            )
        }
        missing = [i for i in item_ids if i not in items]
        if missing:
            raise RequirementInvalid(
                "item_ids", f"no feedback item {missing[0]} in project {row.project_id}", status=404
            )
        linked = set(
            session.scalars(
                select(RequirementFeedback.item_id).where(
                    RequirementFeedback.requirement_id == row.id, RequirementFeedback.item_id.in_(wanted)
                )
            )
        )
        for item_id in wanted:
            items[item_id].status = "linked"
            if item_id not in linked:
                session.add(RequirementFeedback(requirement_id=row.id, item_id=item_id, project_id=row.project_id))

    def unlink(self, project_id: int, requirement_id: int, item_id: int) -> RequirementOut:
        """Unlink one item; an item linked to no other requirement goes back to `triaged`."""
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, requirement_id)
            link = session.get(RequirementFeedback, (row.id, item_id)) if item_id <= 2**31 - 1 else None
            if link is None:
                raise RequirementInvalid(
                    "item_id", f"feedback item {item_id} is not linked to requirement {row.id}", status=404
                )
            session.delete(link)
            session.flush()
            _release(session, [item_id])
            row.updated_at = utcnow()
            session.flush()
            return self._output(session, row)

    # -- votes --------------------------------------------------------------------------------------------

    def vote(self, project_id: int, requirement_id: int, vote: VoteIn) -> RequirementOut:
        """Add one vote; a voter who already voted (a person: under any of their distinct ids) gets a 409."""
        voter = vote.voter.strip()
        if not voter:
            raise RequirementInvalid("voter", "the voter is empty")
        try:
            with self.metadata.session() as session, session.begin():
                row = self._row(session, project_id, requirement_id)
                if vote.voter_kind == "person":
                    self._check_person_vote(session, row, voter)
                session.add(
                    RequirementVote(
                        requirement_id=row.id, project_id=project_id, voter_kind=vote.voter_kind, voter=voter
                    )
                )
                session.flush()
                return self._output(session, row)
        except IntegrityError:
            raise RequirementInvalid("voter", f"{voter!r} has already voted", status=409) from None

    @staticmethod
    def _check_person_vote(session: Session, row: Requirement, voter: str) -> None:
        earlier = session.scalars(
            select(RequirementVote.voter).where(
                RequirementVote.requirement_id == row.id, RequirementVote.voter_kind == "person"
            )
        ).all()
        persons = person_map(session, row.project_id, [voter, *earlier])
        mine = persons.get(voter)
        for other in earlier:
            if other == voter or (mine is not None and persons.get(other) == mine):
                raise RequirementInvalid("voter", f"the person of {voter!r} has already voted", status=409)

    def unvote(self, project_id: int, requirement_id: int, vote: VoteIn) -> RequirementOut:
        """Withdraw a vote (404 if there is none)."""
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, requirement_id)
            found = session.scalar(
                select(RequirementVote).where(
                    RequirementVote.requirement_id == row.id,
                    RequirementVote.voter_kind == vote.voter_kind,
                    RequirementVote.voter == vote.voter.strip(),
                )
            )
            if found is None:
                raise RequirementInvalid("voter", f"{vote.voter!r} has not voted for requirement {row.id}", 404)
            session.delete(found)
            session.flush()
            return self._output(session, row)


def _release(session: Session, item_ids: Sequence[int]) -> None:
    """Items linked to no requirement any more go back from `linked` to `triaged`."""
    for item_id in item_ids:
        still = session.scalar(select(RequirementFeedback.item_id).where(RequirementFeedback.item_id == item_id))
        item = session.get(FeedbackItem, item_id)
        if still is None and item is not None and item.status == "linked":
            item.status = "triaged"
