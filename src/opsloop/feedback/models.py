"""Metadata tables of the feedback inbox: items, their tags, near-duplicate index bands and themes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opsloop.store.models import Base, utcnow


class FeedbackTheme(Base):
    """A theme found by analysis (or made by an operator): label, keywords and the centroid new items meet."""

    __tablename__ = "feedback_themes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    custom_label: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    centroid: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    example_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackThemeSpace(Base):
    """The feature space of a project's last theme analysis, so new items are vectorised the same way."""

    __tablename__ = "feedback_theme_spaces"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    space: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    built_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackItem(Base):
    """One piece of feedback: its text as received, where it came from, and what triage made of it."""

    __tablename__ = "feedback_items"
    __table_args__ = (Index("ix_feedback_items_project_created", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="api")
    language: Mapped[str] = mapped_column(String(8), default="und")
    distinct_id: Mapped[str | None] = mapped_column(String(400), default=None)
    status: Mapped[str] = mapped_column(String(16), default="new")
    assignee: Mapped[str | None] = mapped_column(String(200), default=None)
    sentiment: Mapped[str] = mapped_column(String(16), default="neutral")
    sentiment_score: Mapped[float] = mapped_column(Float, default=0.0)
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_themes.id", ondelete="SET NULL"), default=None, index=True
    )
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="SET NULL"), default=None, index=True
    )
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeedbackTag(Base):
    """A tag on a feedback item (a row per tag, so filtering by tag is a plain indexed lookup)."""

    __tablename__ = "feedback_tags"
    __table_args__ = (Index("ix_feedback_tags_project_tag", "project_id", "tag"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))


class FeedbackBand(Base):
    """One locality-sensitive-hashing band of an item's MinHash signature (near-duplicate candidates)."""

    __tablename__ = "feedback_bands"
    __table_args__ = (Index("ix_feedback_bands_lookup", "project_id", "band", "band_hash"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    band_hash: Mapped[int] = mapped_column(BigInteger)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
