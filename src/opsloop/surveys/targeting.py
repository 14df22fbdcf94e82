"""Who should see a survey now: person properties, segment, trigger event, rollout, dates, cooldowns (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsloop.analytics.common import PropertyFilter
from opsloop.surveys.definitions import SurveyDefinition


class SegmentChecker(Protocol):
    """Hook to the segments domain: is this person in that segment? (The segments module provides one.)"""

    def is_member(self, project_id: int, segment_id: int, person_id: str | None) -> bool:
        """True when the person (None: not known yet) belongs to the segment."""
        ...


class NoSegments:
    """The checker used until segments exist: nobody is in any segment, so segment-targeted surveys hide."""

    def is_member(self, project_id: int, segment_id: int, person_id: str | None) -> bool:
        """Always False."""
        return False


@dataclass(frozen=True)
class PersonHistory:
    """What a person already did with surveys: per survey id, the last shown / dismissed / completed times."""

    shown: Mapping[int, dt.datetime] = field(default_factory=dict)
    dismissed: Mapping[int, dt.datetime] = field(default_factory=dict)
    completed: Mapping[int, dt.datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Audience:
    """The person asking: key (person id, or `d:` + distinct id before the person exists), every key their
    history may be stored under (impressions recorded before ingest created the person), and properties."""

    key: str
    person_id: str | None
    properties: Mapping[str, Any]
    keys: tuple[str, ...] = ()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        return a == e
    return str(actual) == str(expected)


def property_matches(condition: PropertyFilter, properties: Mapping[str, Any]) -> bool:
    """One person-property condition, as the analyses read it: a missing property fails all but `is_not_set`."""
    present = condition.property in properties and properties[condition.property] is not None
    if condition.op == "is_set":
        return present
    if condition.op == "is_not_set":
        return not present
    if not present:
        return False
    actual = properties[condition.property]
    if condition.op == "eq":
        return _same(actual, condition.value)
    if condition.op == "neq":
        return not _same(actual, condition.value)
    if condition.op == "in":
        return any(_same(actual, v) for v in condition.value or [])  # type: ignore[union-attr]
    if condition.op == "contains":
        return str(condition.value).lower() in str(actual).lower()
    a, e = _number(actual), _number(condition.value)
    if a is None or e is None:
        return False
    return {"gt": a > e, "gte": a >= e, "lt": a < e, "lte": a <= e}[condition.op]


def in_rollout(public_id: str, person_key: str, percent: float) -> bool:
    """Deterministic rollout: the same person is always in or out of the same survey's share."""
    if percent >= 100:
        return True
    digest = hashlib.sha256(f"{public_id}:{person_key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return bucket * 100 < percent


@dataclass(frozen=True)
class Candidate:
    """A survey that could be shown: its row id, public id and definition (status already active)."""

    id: int
    public_id: str
    definition: SurveyDefinition


def why_hidden(
    candidate: Candidate,
    *,
    project_id: int,
    audience: Audience,
    history: PersonHistory,
    event: str | None,
    now: dt.datetime,
    cooldown_days: int,
    segments: SegmentChecker,
) -> str | None:
    """Why this person should not see the survey now (None: show it)."""
    d = candidate.definition
    if d.starts_at and now < _utc(d.starts_at):
        return "not started"
    if d.ends_at and now >= _utc(d.ends_at):
        return "ended"
    done = history.completed.get(candidate.id)
    if done is not None and (d.recurrence_days is None or now - done < dt.timedelta(days=d.recurrence_days)):
        return "answered"
    dismissed = history.dismissed.get(candidate.id)
    if (
        dismissed is not None
        and (done is None or dismissed > done)
        and (d.hide_after_dismiss_days is None or now - dismissed < dt.timedelta(days=d.hide_after_dismiss_days))
    ):
        return "dismissed"
    if cooldown_days:
        others = [t for sid, t in history.shown.items() if sid != candidate.id]
        if others and now - max(others) < dt.timedelta(days=cooldown_days):
            return "cooldown"
    t = d.targeting
    if t.trigger_events and event not in t.trigger_events:
        return "no trigger event"
    if not all(property_matches(f, audience.properties) for f in t.properties):
        return "properties"
    if t.segment_id is not None and not segments.is_member(project_id, t.segment_id, audience.person_id):
        return "segment"
    if not in_rollout(candidate.public_id, audience.key, t.rollout_percent):
        return "rollout"
    return None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
