"""Segment definitions: a tree of AND / OR groups over person, behaviour and membership conditions.

Typed models (a discriminated union on `type`) that the API, the CLI and saved segments share; the SQL they
stand for is built by `users.segment_sql`, and docs/segments.md defines each condition in words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from opsloop.analytics.common import ANY_EVENT, FilterOp, Model, PropertyFilter, Scalar, check_name
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.lifecycle import LifecycleThresholds, Stage
from opsloop.users.rfm import RfmQuery

#: Most conditions (groups included) in one definition, and deepest nesting of groups.
MAX_CONDITIONS = 100
MAX_DEPTH = 5
#: The first instant "all time" windows start at.
HISTORY_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

PersonOp = FilterOp | Literal["between"]


class Window(Model):
    """A time window: the last `within_days` local days (today included), or `date_from` .. `date_to`
    (inclusive local dates; either may be left open); neither: all time up to the end of today."""

    within_days: int | None = Field(None, ge=1, le=3660, description="the last N local days, today included")
    date_from: dt.date | None = Field(None, description="first local day of the window")
    date_to: dt.date | None = Field(None, description="last local day of the window (inclusive)")

    @model_validator(mode="after")
    def _one_kind(self) -> Window:
        if self.within_days is not None and (self.date_from or self.date_to):
            raise ValueError("give `within_days` or `date_from` / `date_to`, not both")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError(f"date_to ({self.date_to}) is before date_from ({self.date_from})")
        return self

    def bounds(self, ctx: ProjectContext) -> tuple[dt.datetime, dt.datetime]:
        """The window as UTC instants `[start, end)` for the project's timezone and today."""
        today = ctx.local_today()
        end = ctx.local_midnight(today + dt.timedelta(days=1))
        if self.within_days is not None:
            return ctx.local_midnight(today - dt.timedelta(days=self.within_days - 1)), end
        start = ctx.local_midnight(self.date_from) if self.date_from else HISTORY_START
        if self.date_to:
            end = ctx.local_midnight(self.date_to + dt.timedelta(days=1))
        return start, end


class PersonCondition(Model):
    """A person property compared with a value (the operators of analytics filters, and `between`)."""

    type: Literal["person"]
    property: str = Field(description="person property name")
    op: PersonOp = Field("eq", description="`eq` `neq` `in` `gt` `gte` `lt` `lte` `between` `contains` `is_set` ...")
    value: Scalar | list[Scalar] | None = Field(None, description="a value; a list for `in`; [low, high] for `between`")

    @field_validator("property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "property")

    @model_validator(mode="after")
    def _value_fits_op(self) -> PersonCondition:
        if self.op == "between":
            low_high = self.value if isinstance(self.value, list) else []
            if len(low_high) != 2 or any(isinstance(v, bool) or not isinstance(v, int | float) for v in low_high):
                raise ValueError("`between` needs [low, high]: two numbers")
            if low_high[0] > low_high[1]:  # type: ignore[operator]
                raise ValueError("`between`: low is above high")
        else:
            self.as_filter()
        return self

    def as_filter(self) -> PropertyFilter:
        """The condition as an analytics person filter (not for `between`)."""
        op: Any = self.op
        return PropertyFilter(property=self.property, type="person", op=op, value=self.value, segment_id=None)


class AgeCondition(Model):
    """An age band, inclusive, from a birth-year property (age = this year - birth year) or an age property."""

    type: Literal["age"]
    property: str = Field("birth_year", description="the person property holding the birth year or the age")
    source: Literal["birth_year", "age"] = Field("birth_year", description="what the property holds")
    min: int | None = Field(None, ge=0, le=200, description="youngest age in the band")
    max: int | None = Field(None, ge=0, le=200, description="oldest age in the band")

    @field_validator("property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "property")

    @model_validator(mode="after")
    def _band(self) -> AgeCondition:
        if self.min is None and self.max is None:
            raise ValueError("an age band needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("age band: `min` is above `max`")
        return self


class EventCondition(Window):
    """Behaviour: the person did the event (with the filters) at least / at most / exactly `count` times in
    the window; `did: false` means not at all."""

    type: Literal["event"]
    event: str = Field(description=f"event name, or `{ANY_EVENT}` for any event")
    did: bool = Field(True, description="`false`: the person did not do it in the window")
    count_op: Literal["gte", "lte", "eq"] = Field("gte", description="at least / at most / exactly `count` times")
    count: int = Field(1, ge=0, le=1_000_000, description="number of times")
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20, description="event properties only")

    @field_validator("event")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "event")

    @model_validator(mode="after")
    def _counts(self) -> EventCondition:
        if not self.did and (self.count_op != "gte" or self.count != 1):
            raise ValueError("`did: false` takes no `count_op` or `count` (it means: not once)")
        if any(f.type != "event" for f in self.filters):
            raise ValueError("the filters of an event condition are on event properties (`type` `event`)")
        return self

    def holds(self, times: int) -> bool:
        """Whether `times` matching events satisfy the condition."""
        if not self.did:
            return times == 0
        if self.count_op == "gte":
            return times >= self.count
        if self.count_op == "lte":
            return times <= self.count
        return times == self.count


class SeenCondition(Window):
    """The person's first (or last) event ever falls in the window."""

    type: Literal["first_seen", "last_seen"]


class SegmentCondition(Model):
    """Membership (or, `member: false`, non-membership) of another saved segment."""

    type: Literal["segment"]
    segment_id: int = Field(ge=1, description="the other segment")
    member: bool = Field(True, description="`false`: the person is not a member")


class TagCondition(Model):
    """A person tag's value: equal to a value, one of values, set or not set."""

    type: Literal["tag"]
    tag: str = Field(description="tag name")
    op: Literal["eq", "neq", "in", "is_set", "is_not_set"] = Field("eq", description="`eq` `neq` `in` `is_set` ...")
    value: str | list[str] | None = Field(None, description="a value; a list for `in`; none for `is_set`")

    @field_validator("tag")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "tag")

    @model_validator(mode="after")
    def _value_fits_op(self) -> TagCondition:
        self.as_filter()
        return self

    def as_filter(self) -> PropertyFilter:
        """The condition as an analytics filter of type `tag`."""
        value: Any = self.value
        return PropertyFilter(property=self.tag, type="tag", op=self.op, value=value, segment_id=None)


class LifecycleCondition(Model):
    """The person's lifecycle stage today is one of `stages` (thresholds: the project's unless given)."""

    type: Literal["lifecycle_stage"]
    stages: list[Stage] = Field(min_length=1, max_length=5, description="`new` `active` `resurrected` ...")
    thresholds: LifecycleThresholds | None = Field(None, description="day thresholds (default: the project's)")


class RfmSegmentCondition(Model):
    """The person's RFM segment (by `rfm`: value event, amount, look-back, map) is one of `segments`, or their
    (R, F) cell is one of `cells`."""

    type: Literal["rfm_segment"]
    rfm: RfmQuery = Field(description="how RFM is computed (as in the RFM query)")
    segments: list[str] = Field(default_factory=list, max_length=25, description="segment names of the map")
    cells: list[tuple[int, int]] = Field(default_factory=list, max_length=25, description="(R, F) cells")

    @model_validator(mode="after")
    def _something(self) -> RfmSegmentCondition:
        if not self.segments and not self.cells:
            raise ValueError("an `rfm_segment` condition needs `segments` or `cells`")
        known = {rule.name for rule in self.rfm.segment_map} | {"Other"}
        for name in self.segments:
            if name not in known:
                raise ValueError(f"segments: {name!r} is not a segment of the map ({', '.join(sorted(known))})")
        for r, f in self.cells:
            if not (1 <= r <= 5 and 1 <= f <= 5):
                raise ValueError("cells: scores are 1 to 5")
        return self


class Group(Model):
    """Conditions joined by AND (all hold) or OR (any holds); `negate` turns the result around."""

    type: Literal["group"] = "group"
    operator: Literal["and", "or"] = Field("and", description="`and`: all conditions hold; `or`: any")
    negate: bool = Field(False, description="the group holds when its conditions do not")
    conditions: list[Condition] = Field(min_length=1, max_length=50, description="the conditions")

    @model_validator(mode="after")
    def _size(self) -> Group:
        if _depth(self) > MAX_DEPTH:
            raise ValueError(f"groups may be nested at most {MAX_DEPTH} deep")
        if sum(1 for _ in walk(self)) > MAX_CONDITIONS:
            raise ValueError(f"a definition may hold at most {MAX_CONDITIONS} conditions")
        return self


Condition = Annotated[
    PersonCondition
    | AgeCondition
    | EventCondition
    | SeenCondition
    | SegmentCondition
    | TagCondition
    | LifecycleCondition
    | RfmSegmentCondition
    | Group,
    Field(discriminator="type"),
]
Group.model_rebuild()


def _depth(group: Group) -> int:
    return 1 + max((_depth(c) for c in group.conditions if isinstance(c, Group)), default=0)


def walk(group: Group) -> Iterator[Condition]:
    """Every condition under a group, depth first, in order (groups before their conditions)."""
    for condition in group.conditions:
        yield condition
        if isinstance(condition, Group):
            yield from walk(condition)


def referenced_segments(group: Group) -> set[int]:
    """The ids of the segments a definition refers to directly."""
    return {c.segment_id for c in walk(group) if isinstance(c, SegmentCondition)}
