"""Query pieces every analysis shares: date range, property filters, breakdowns and their validation."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The event name that matches every event.
ANY_EVENT = "$any"
#: Longest date range a query may cover, in days (ten years).
MAX_RANGE_DAYS = 3660
#: A breakdown value standing for every value outside the top N.
OTHER_VALUE = "$other"

Interval = Literal["hour", "day", "week", "month"]
Period = Literal["day", "week", "month"]
PropertyType = Literal["event", "person"]
#: What a filter or breakdown reads: an event property, a person property, membership of saved segments, or
#: (`tag`) the value of a person tag (docs/segments.md, "Tags").
FilterType = Literal["event", "person", "segment", "tag"]
FilterOp = Literal["eq", "neq", "in", "gt", "gte", "lt", "lte", "contains", "is_set", "is_not_set"]
Scalar = str | int | float | bool

_NUMERIC_OPS = ("gt", "gte", "lt", "lte")


def check_name(value: str, what: str) -> str:
    """An event or property name: 1 to 200 characters, no control characters (any other text is fine)."""
    if not value or len(value) > 200:
        raise ValueError(f"{what} must be 1 to 200 characters")
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


class Model(BaseModel):
    """Base of every query piece: immutable, and unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PropertyFilter(Model):
    """One condition on an event property, on the (current) property of the event's person, or (type
    `segment`) on whether the event's person is a member of a saved segment."""

    property: str = Field("", description="property name, as sent (e.g. `$browser`, `plan`)")
    type: FilterType = Field(
        "event", description="`event`: the event's property; `person`: the person's; `segment`: segment membership"
    )
    op: FilterOp = Field("eq", description="comparison; `gt`..`lte` compare numbers")
    value: Scalar | list[Scalar] | None = Field(None, description="a value; a list for `in`; none for `is_set`")
    segment_id: int | None = Field(
        None, ge=1, description="type `segment`: the segment (`op` `eq`: member, `neq`: not a member)"
    )

    @field_validator("property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "property")

    @model_validator(mode="after")
    def _value_fits_op(self) -> PropertyFilter:
        if self.type == "segment":
            return self._segment_rule()
        if not self.property:
            raise ValueError("`property` is required")
        if self.segment_id is not None:
            raise ValueError("`segment_id` is only for filters of type `segment`")
        if self.op in ("is_set", "is_not_set"):
            if self.value is not None:
                raise ValueError(f"`{self.op}` takes no value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not self.value or len(self.value) > 1000:
                raise ValueError("`in` needs a list of 1 to 1000 values")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"`{self.op}` needs one value")
        elif self.op in _NUMERIC_OPS and (isinstance(self.value, bool) or not isinstance(self.value, int | float)):
            raise ValueError(f"`{self.op}` compares numbers: give a number")
        elif self.op == "contains" and not isinstance(self.value, str):
            raise ValueError("`contains` needs a text value")
        return self

    def _segment_rule(self) -> PropertyFilter:
        if self.segment_id is None:
            raise ValueError("a filter of type `segment` needs a `segment_id`")
        if self.property or self.value is not None:
            raise ValueError("a filter of type `segment` takes `segment_id` and `op` (`eq` or `neq`) only")
        if self.op not in ("eq", "neq"):
            raise ValueError("a filter of type `segment` takes `op` `eq` (member) or `neq` (not a member)")
        return self


class Breakdown(Model):
    """Split results by the value of a property (the top `limit` values, the rest as `$other`), or (type
    `segment`) by the first of `segment_ids` the event's person is a member of."""

    property: str = Field("", description="property name")
    type: FilterType = Field("event", description="`event` or `person` property, or `segment` membership")
    limit: int = Field(10, ge=1, le=100, description="how many values to keep before grouping the rest")
    segment_ids: list[int] = Field(
        default_factory=list, max_length=20, description="type `segment`: the segments, in order of precedence"
    )

    @field_validator("property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "breakdown property")

    @model_validator(mode="after")
    def _fits_type(self) -> Breakdown:
        if self.type == "segment":
            if not self.segment_ids or self.property:
                raise ValueError("a breakdown of type `segment` takes 1 to 20 `segment_ids` and no `property`")
            if len(set(self.segment_ids)) != len(self.segment_ids) or min(self.segment_ids) < 1:
                raise ValueError("`segment_ids` must be distinct segment ids")
        elif not self.property:
            raise ValueError("`property` is required")
        elif self.segment_ids:
            raise ValueError("`segment_ids` is only for breakdowns of type `segment`")
        return self


class EventName(Model):
    """Base of a query part that names an event."""

    event: str = Field(description=f"event name, or `{ANY_EVENT}` for any event")

    @field_validator("event")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "event")


class RangeQuery(Model):
    """Fields of every analysis: the inclusive local date range and the filters on every event read."""

    date_from: dt.date | None = Field(None, description="first day, in the project's timezone (default: 29 days ago)")
    date_to: dt.date | None = Field(None, description="last day, inclusive (default: today)")
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="all must hold")

    @model_validator(mode="after")
    def _range_is_ordered(self) -> RangeQuery:
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise ValueError(f"date_to ({self.date_to}) is before date_from ({self.date_from})")
            if (self.date_to - self.date_from).days >= MAX_RANGE_DAYS:
                raise ValueError(f"the date range may cover at most {MAX_RANGE_DAYS} days")
        return self


def uses_segments(value: object) -> bool:
    """Whether a query (or any part of it) has a filter or breakdown of type `segment` or `tag`."""
    if isinstance(value, PropertyFilter | Breakdown):
        return value.type in ("segment", "tag")
    if isinstance(value, BaseModel):
        return any(uses_segments(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, list | tuple):
        return any(uses_segments(item) for item in value)
    return False
