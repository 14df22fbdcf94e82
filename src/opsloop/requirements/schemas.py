"""Typed input and output of the requirements board (the API bodies and what services return)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsloop.requirements.rice import IMPACTS

Status = Literal["under_review", "planned", "in_progress", "shipped", "declined"]
STATUSES: tuple[str, ...] = ("under_review", "planned", "in_progress", "shipped", "declined")
SortKey = Literal["score", "reach", "votes", "created_at", "updated_at", "title"]
VoterKind = Literal["person", "user"]


class _Input(BaseModel):
    """Base of request bodies: unknown fields are refused, so a typo is not lost silently."""

    model_config = ConfigDict(extra="forbid")


def _impact(value: float | None) -> float | None:
    if value is not None and float(value) not in IMPACTS:
        raise ValueError("impact must be one of 0.25, 0.5, 1, 2, 3")
    return value


class RequirementFields(_Input):
    """Fields an operator enters (all optional in an update)."""

    description: str | None = Field(None, max_length=50_000)
    status: Status | None = None
    public: bool | None = Field(None, description="listed on the public roadmap (when the project has it on)")
    public_summary: str | None = Field(None, max_length=1000, description="what the public roadmap says about it")
    impact: float | None = Field(None, description="0.25 minimal, 0.5 low, 1 medium, 2 high, 3 massive")
    confidence: float | None = Field(None, ge=0, le=100, description="percent")
    effort: float | None = Field(None, gt=0, le=1000, description="person-months")
    reach_includes_voters: bool | None = Field(None, description="count voting persons in reach too")
    target_metric: dict[str, Any] | None = Field(None, description="a query object (trends or funnel)")
    metric_window_days: int | None = Field(None, ge=1, le=365)
    success_criteria: str | None = Field(None, max_length=10_000)
    success_target: float | None = None

    @field_validator("impact")
    @classmethod
    def _check_impact(cls, value: float | None) -> float | None:
        return _impact(value)


class RequirementCreate(RequirementFields):
    """A new requirement; `title` is required."""

    title: str = Field(min_length=1, max_length=200)
    feedback_ids: list[int] = Field(default_factory=list, max_length=1000, description="items to link at once")

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the title is empty")
        return value.strip()


class RequirementUpdate(RequirementFields):
    """Changes to a requirement; fields left out stay as they are (`target_metric: null` is left out too;
    send `clear_target_metric: true` to remove it)."""

    title: str | None = Field(None, min_length=1, max_length=200)
    clear_target_metric: bool = False
    shipped_at: dt.datetime | None = Field(
        None, description="with `status: shipped`: when it shipped (default: now); not in the future"
    )


class LinkFeedback(_Input):
    """Feedback items to link to a requirement."""

    item_ids: list[int] = Field(min_length=1, max_length=1000)


class VoteIn(_Input):
    """A vote: a person by distinct id, or a user of opsloop by name or e-mail."""

    voter_kind: VoterKind = "person"
    voter: str = Field(min_length=1, max_length=400)


class StatusChangeOut(BaseModel):
    """One status change."""

    from_status: str | None
    to_status: str
    changed_at: dt.datetime


class RequirementOut(BaseModel):
    """A requirement on the board, with its computed reach, votes and RICE score."""

    id: int
    project_id: int
    title: str
    description: str
    status: str
    public: bool
    public_summary: str
    reach: int = Field(description="distinct persons behind linked feedback (plus voting persons if chosen)")
    persons: int = Field(description="distinct persons behind linked feedback")
    votes: int = Field(description="distinct voters (persons resolved through identity merges, and users)")
    feedback_count: int
    impact: float
    confidence: float
    effort: float
    score: float = Field(description="reach * impact * confidence% / effort")
    reach_includes_voters: bool
    target_metric: dict[str, Any] | None
    metric_window_days: int
    success_criteria: str
    success_target: float | None
    shipped_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class MetricWindow(BaseModel):
    """The target metric over one window of local days."""

    date_from: dt.date
    date_to: dt.date
    value: float | None


class MetricComparison(BaseModel):
    """The target metric over the same number of days before and from the ship day."""

    ship_date: dt.date
    days: int = Field(description="days in each window (fewer than asked while the after-window runs)")
    before: MetricWindow
    after: MetricWindow
    change: float | None
    change_percent: float | None
    complete: bool = Field(description="false while the full after-window has not ended yet")


class LinkedItem(BaseModel):
    """A linked feedback item, as the requirement's page shows it."""

    id: int
    text: str
    language: str
    sentiment: str
    theme_id: int | None
    distinct_id: str | None
    person_id: str | None


class RequirementDetail(BaseModel):
    """A requirement's page: the requirement, its history, evidence, revenue and metric before/after."""

    requirement: RequirementOut
    history: list[StatusChangeOut]
    feedback: list[LinkedItem]
    revenue: float = Field(description="revenue of the linked persons over `revenue_days` days ending today")
    revenue_days: int
    revenue_event: str
    revenue_property: str
    metric: MetricComparison | None


class RequirementPage(BaseModel):
    """A sorted board."""

    total: int
    items: list[RequirementOut]


RoadmapLanguage = Literal["en", "zh", "es"]


class RoadmapConfig(_Input):
    """A project's public roadmap switch, address, title and page language."""

    enabled: bool = False
    slug: str | None = Field(None, min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str | None = Field(None, max_length=200)
    language: RoadmapLanguage | None = Field(None, description="language of the page's own words (en, zh, es)")


class RoadmapState(BaseModel):
    """The stored roadmap settings."""

    enabled: bool
    slug: str
    title: str
    language: str
    path: str
