"""Who is behind requirements: the persons of linked feedback and of votes, resolved through identity merges.

A feedback item or a vote names a distinct id; the identity map (`person_distinct_ids`) says which person it
belongs to now, so two ids of one person (before and after log-in) count once, and an item sent before an
`identify` counts for the person it was merged into.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsloop.feedback.models import FeedbackItem
from opsloop.requirements.models import RequirementFeedback, RequirementVote
from opsloop.store.models import PersonDistinctId


@dataclass
class Audience:
    """One requirement's people: persons behind linked feedback, voting persons and users, item count."""

    persons: set[str] = field(default_factory=set)
    voter_persons: set[str] = field(default_factory=set)
    voter_users: set[str] = field(default_factory=set)
    #: Votes by a distinct id the identity map does not know yet (each counts as its own voter).
    voter_unknown: set[str] = field(default_factory=set)
    feedback_count: int = 0

    @property
    def votes(self) -> int:
        """Distinct voters."""
        return len(self.voter_persons) + len(self.voter_unknown) + len(self.voter_users)

    def reach(self, include_voters: bool) -> int:
        """Distinct persons behind the feedback, plus the voting persons not among them when asked."""
        if not include_voters:
            return len(self.persons)
        return len(self.persons | self.voter_persons) + len(self.voter_unknown)


def person_map(session: Session, project_id: int, distinct_ids: Iterable[str]) -> dict[str, str]:
    """The person each distinct id belongs to now (ids the map does not know are left out)."""
    wanted = sorted(set(distinct_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
                PersonDistinctId.project_id == project_id, PersonDistinctId.distinct_id.in_(wanted[start : start + 500])
            )
        )
        found.update({distinct_id: person_id for distinct_id, person_id in rows})
    return found


def audiences(session: Session, project_id: int, requirement_ids: Sequence[int]) -> dict[int, Audience]:
    """Each requirement's audience (one query for links, one for votes, one for the identity map)."""
    result = {rid: Audience() for rid in requirement_ids}
    if not requirement_ids:
        return result
    links = session.execute(
        select(RequirementFeedback.requirement_id, FeedbackItem.distinct_id)
        .join(FeedbackItem, FeedbackItem.id == RequirementFeedback.item_id)
        .where(RequirementFeedback.project_id == project_id, RequirementFeedback.requirement_id.in_(requirement_ids))
    ).all()
    votes = session.execute(
        select(RequirementVote.requirement_id, RequirementVote.voter_kind, RequirementVote.voter).where(
            RequirementVote.project_id == project_id, RequirementVote.requirement_id.in_(requirement_ids)
        )
    ).all()
    ids = {d for _, d in links if d} | {v for _, kind, v in votes if kind == "person"}
    persons = person_map(session, project_id, ids)
    for rid, distinct_id in links:
        audience = result[rid]
        audience.feedback_count += 1
        if distinct_id and distinct_id in persons:
            audience.persons.add(persons[distinct_id])
    for rid, kind, voter in votes:
        audience = result[rid]
        if kind == "user":
            audience.voter_users.add(voter)
        elif voter in persons:
            audience.voter_persons.add(persons[voter])
        else:
            audience.voter_unknown.add(voter)
    return result
