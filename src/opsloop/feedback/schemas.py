"""Typed inputs and outputs of the feedback inbox and themes (the API's JSON, the CLI's and Python's)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsloop.feedback.language import Language
from opsloop.feedback.sentiment import Sentiment

Source = Literal["api", "widget", "survey", "import"]
Status = Literal["new", "triaged", "linked", "closed"]
PropertyValue = str | int | float | bool | None
MAX_TAGS = 20
MAX_TAG_CHARS = 100
MAX_BATCH = 1000


def clean_tags(tags: list[str]) -> list[str]:
    """Tags stripped, de-duplicated in order; each 1-100 characters, at most 20."""
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG_CHARS:
            raise ValueError(f"each tag must be 1 to {MAX_TAG_CHARS} characters")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return out


class FeedbackIn(BaseModel):
    """One feedback item as sent by an app, a support tool, the widget or an import."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(description="The feedback, as written (any length up to the configured limit).")
    source: Source = "api"
    distinct_id: str | None = Field(default=None, max_length=400, description="Who sent it, if known.")
    tags: list[str] = Field(default_factory=list)
    created_at: dt.datetime | None = Field(default=None, description="When it was written (default: now).")
    language: Language | None = Field(default=None, description="Override the detected language.")
    properties: dict[str, PropertyValue] = Field(default_factory=dict, description="Extra context (app version...).")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return clean_tags(value)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        # Stored in UTC: SQLite keeps wall-clock time only, so every stored time must be in one zone.
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class FeedbackItemOut(BaseModel):
    """A stored feedback item; `person_id` is the person its distinct id belongs to now, if known."""

    id: int
    project_id: int
    text: str
    source: str
    language: str
    distinct_id: str | None
    person_id: str | None
    status: str
    assignee: str | None
    tags: list[str]
    sentiment: str
    sentiment_score: float
    theme_id: int | None
    duplicate_of: int | None
    properties: dict[str, PropertyValue]
    created_at: dt.datetime


class FeedbackUpdate(BaseModel):
    """Triage changes: only the fields given change (`assignee: ""` un-assigns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Status | None = None
    assignee: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = None
    theme_id: int | None = Field(default=None, description="Move the item to this theme of the project.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_tags(value)


class FeedbackFilter(BaseModel):
    """Search of the inbox; every given condition must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str | None = Field(default=None, max_length=200, description="Text contains (case-insensitive).")
    status: Status | None = None
    tag: str | None = None
    theme_id: int | None = None
    unthemed: bool = Field(default=False, description="Only items in no theme (new topics).")
    source: Source | None = None
    sentiment: Sentiment | None = None
    date_from: dt.date | None = Field(default=None, description="Created on or after this day (UTC).")
    date_to: dt.date | None = Field(default=None, description="Created on or before this day (UTC).")
    include_duplicates: bool = True
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class FeedbackPage(BaseModel):
    """One page of search results and the number of matching items."""

    total: int
    items: list[FeedbackItemOut]


class ItemError(BaseModel):
    """Why one item of a batch (or one row of a file) was refused."""

    index: int | None = None
    line: int | None = None
    field: str
    reason: str


class BatchResult(BaseModel):
    """Items stored from a batch, and the refused ones with reasons."""

    accepted: int
    items: list[FeedbackItemOut]
    errors: list[ItemError]


class ImportReport(BaseModel):
    """Outcome of a CSV import: rows stored, near-duplicates among them, and refused rows by line number."""

    rows: int
    stored: int
    duplicates: int
    errors: list[ItemError]


class WeekCount(BaseModel):
    """Items created in one week (the project's timezone and week start)."""

    week: dt.date
    count: int


class ThemeExample(BaseModel):
    """A quote that represents a theme."""

    id: int
    text: str
    language: str


class ThemeSummary(BaseModel):
    """A theme with its size, sentiment mix, weekly trend and example quotes."""

    id: int
    label: str
    custom_label: bool
    keywords: list[str]
    size: int
    languages: list[str]
    sentiment: dict[str, int]
    trend: list[WeekCount]
    examples: list[ThemeExample]


class ThemeAnalysis(BaseModel):
    """Outcome of an analysis run: themes and how many items were left unassigned."""

    analysed: int
    unassigned: int
    themes: list[ThemeSummary]
