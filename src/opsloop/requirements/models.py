"""Metadata tables of the requirements board: requirements, their status history, feedback links, votes,
and each project's public roadmap switch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsloop.store.models import Base, utcnow


class Requirement(Base):
    """A requirement: what to build, why (linked feedback), its RICE inputs, status and target metric."""

    __tablename__ = "requirements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="under_review")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    public_summary: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[float] = mapped_column(Float, default=1.0)
    confidence: Mapped[float] = mapped_column(Float, default=80.0)
    effort: Mapped[float] = mapped_column(Float, default=1.0)
    reach_includes_voters: Mapped[bool] = mapped_column(Boolean, default=False)
    target_metric: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    metric_window_days: Mapped[int] = mapped_column(Integer, default=14)
    success_criteria: Mapped[str] = mapped_column(Text, default="")
    success_target: Mapped[float | None] = mapped_column(Float, default=None)
    shipped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RequirementStatusChange(Base):
    """One status change of a requirement and when it happened (the first row is its creation)."""

    __tablename__ = "requirement_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RequirementFeedback(Base):
    """A feedback item linked to a requirement (many-to-many)."""

    __tablename__ = "requirement_feedback"
    __table_args__ = (Index("ix_requirement_feedback_item", "item_id"),)

    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RequirementVote(Base):
    """One vote: by a person (`voter` is a distinct id) or by a user of opsloop (`voter` is a name/email)."""

    __tablename__ = "requirement_votes"
    __table_args__ = (UniqueConstraint("requirement_id", "voter_kind", "voter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirements.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    voter_kind: Mapped[str] = mapped_column(String(8))
    voter: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoadmapSettings(Base):
    """Whether a project's public roadmap page is on (off by default) and the slug of its address."""

    __tablename__ = "roadmap_settings"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
