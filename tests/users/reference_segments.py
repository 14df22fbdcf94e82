"""A plain-Python evaluation of segment definitions (the words of docs/segments.md), for the engine tests."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from typing import Any

from opsloop.analytics.common import ANY_EVENT, PropertyFilter
from opsloop.users.definitions import (
    AgeCondition,
    EventCondition,
    Group,
    LifecycleCondition,
    PersonCondition,
    RfmSegmentCondition,
    SeenCondition,
    SegmentCondition,
    TagCondition,
)
from opsloop.users.lifecycle import LifecycleThresholds
from opsloop.users.rfm import RfmQuery, segment_of
from opsloop.users.segment_library import SegmentSpec
from tests.analytics.conftest import EventLog, person_uuid

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def text_of(value: Any) -> str | None:
    """A JSON value as the engines read it as text: strings as they are, the rest as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def number_of(text: str | None) -> float | None:
    """Text read as a number (None when it is not one)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def matches(op: str, value: Any, text: str | None) -> bool:
    """The analytics filter operators (docs/metrics.md, "Filters") on a property's text."""

    def equals(v: Any) -> bool:
        if text is None:
            return False
        if isinstance(v, bool):
            return text == ("true" if v else "false")
        if isinstance(v, int | float):
            return number_of(text) == float(v)
        return text == v

    if op == "is_set":
        return text is not None
    if op == "is_not_set":
        return text is None
    if op == "eq":
        return equals(value)
    if op == "neq":
        return not equals(value)
    if op == "in":
        return any(equals(v) for v in value)
    if op == "contains":
        return text is not None and str(value).lower() in text.lower()
    number = number_of(text)
    if number is None:
        return False
    return {"gt": number > value, "gte": number >= value, "lt": number < value, "lte": number <= value}[op]


class Reference:
    """The members of definitions over one event log, as of `today` in `timezone`."""

    def __init__(
        self,
        log: EventLog,
        today: dt.date,
        timezone: str,
        saved: Mapping[int, SegmentSpec],
        tags: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.tags = tags or {}
        self.log = log
        self.today = today
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.saved = saved
        ids = {e.distinct_id for e in log.events} | set(log.merged) | set(log.person_properties)
        self.persons = {d for d in ids if log.person_of(d) == d}
        self.ids_of = {p: {d for d in ids if log.person_of(d) == p} for p in self.persons}
        self.events = log.resolved()

    def midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)

    def window(self, c: EventCondition | SeenCondition) -> tuple[dt.datetime, dt.datetime]:
        end = self.midnight(self.today + dt.timedelta(days=1))
        if c.within_days is not None:
            return self.midnight(self.today - dt.timedelta(days=c.within_days - 1)), end
        start = self.midnight(c.date_from) if c.date_from else EPOCH
        if c.date_to:
            end = self.midnight(c.date_to + dt.timedelta(days=1))
        return start, end

    def members(self, definition: Group) -> set[str]:
        return {p for p in self.persons if self.holds(definition, p)}

    def saved_members(self, segment_id: int) -> set[str]:
        spec = self.saved[segment_id]
        if spec.definition is not None:
            return self.members(spec.definition)
        return {p for p in self.persons if self.ids_of[p] & set(spec.distinct_ids)}

    def holds(self, c: Any, person: str) -> bool:
        props = self.log.person_properties.get(person, {})
        if isinstance(c, Group):
            parts = [self.holds(x, person) for x in c.conditions]
            result = all(parts) if c.operator == "and" else any(parts)
            return not result if c.negate else result
        if isinstance(c, PersonCondition):
            text = text_of(props.get(c.property))
            if c.op == "between":
                number = number_of(text)
                return number is not None and c.value[0] <= number <= c.value[1]  # type: ignore[index]
            return matches(c.op, c.value, text)
        if isinstance(c, AgeCondition):
            number = number_of(text_of(props.get(c.property)))
            if number is None:
                return False
            age = number if c.source == "age" else self.today.year - number
            return (c.min is None or age >= c.min) and (c.max is None or age <= c.max)
        if isinstance(c, EventCondition):
            low, high = self.window(c)
            times = sum(
                1
                for who, event, at, properties in self.events
                if who == person
                and (c.event == ANY_EVENT or event == c.event)
                and low <= at < high
                and all(self.event_filter(f, properties) for f in c.filters)
            )
            return c.holds(times)
        if isinstance(c, SeenCondition):
            end = self.midnight(self.today + dt.timedelta(days=1))
            times = [at for who, _, at, _ in self.events if who == person and at < end]
            if not times:
                return False
            moment = min(times) if c.type == "first_seen" else max(times)
            low, high = self.window(c)
            return low <= moment < high
        if isinstance(c, TagCondition):
            return matches(c.op, c.value, self.tags.get(c.tag, {}).get(person))
        if isinstance(c, LifecycleCondition):
            return self.stage(c.thresholds or LifecycleThresholds(), person) in c.stages
        if isinstance(c, RfmSegmentCondition):
            found = self.rfm(c.rfm).get(person)
            return found is not None and (found[2] in c.segments or found[:2] in c.cells)
        assert isinstance(c, SegmentCondition)
        inside = person in self.saved_members(c.segment_id)
        return inside if c.member else not inside

    def stage(self, t: LifecycleThresholds, person: str) -> str | None:
        """The lifecycle stage in the words of docs/segments.md ("Lifecycle stages")."""
        end = self.midnight(self.today + dt.timedelta(days=1))
        times = [at for who, _, at, _ in self.events if who == person and at < end]
        if not times:
            return None

        def since(days: int) -> dt.datetime:
            return self.midnight(self.today - dt.timedelta(days=days - 1))

        first, last = min(times), max(times)
        before = any(since(2 * t.active_days) <= at < since(t.active_days) for at in times)
        if first >= since(t.new_days):
            return "new"
        if last >= since(t.active_days):
            return "active" if before or first >= since(2 * t.active_days) else "resurrected"
        return "dormant" if last >= since(t.churn_days) else "churned"

    def rfm(self, query: RfmQuery) -> dict[str, tuple[int, int, str]]:
        """Buyer -> (R, F, segment): places 1..n score floor(5 (place - 1) / n) + 1; R ranks the last
        purchase (ties share the lowest place), F the frequency, then the last purchase, then the person id."""
        low = self.midnight(self.today - dt.timedelta(days=query.lookback_days - 1))
        high = self.midnight(self.today + dt.timedelta(days=1))
        bought: dict[str, list[dt.datetime]] = {}
        for who, event, at, _ in self.events:
            if event == query.value_event and low <= at < high:
                bought.setdefault(who, []).append(at)
        n = len(bought)
        last = {p: max(ts) for p, ts in bought.items()}
        by_f = sorted(bought, key=lambda p: (len(bought[p]), last[p], person_uuid(p)))
        scores: dict[str, tuple[int, int, str]] = {}
        for p in bought:
            r_place = 1 + sum(1 for q in bought if last[q] < last[p])
            r, f = 5 * (r_place - 1) // n + 1, 5 * by_f.index(p) // n + 1
            scores[p] = (r, f, segment_of(query.segment_map, r, f))
        return scores

    @staticmethod
    def event_filter(rule: PropertyFilter, properties: dict[str, Any]) -> bool:
        return matches(rule.op, rule.value, text_of(properties.get(rule.property)))
