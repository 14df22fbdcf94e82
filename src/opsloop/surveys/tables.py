"""Metadata tables of the surveys domain: surveys, what each person was shown, responses, project settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsloop.store.models import Base, utcnow


class Survey(Base):
    """A survey: its definition as JSON, status and public id (for the hosted page)."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SurveyImpression(Base):
    """A survey shown to, or dismissed by, a person (`kind`: shown / dismissed)."""

    __tablename__ = "survey_impressions"
    __table_args__ = (Index("ix_survey_impressions_person", "project_id", "person_key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(String(440))
    distinct_id: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """One person's answers to one survey; kept from the first answer on (partial until `completed`)."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_person", "project_id", "person_key", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    person_key: Mapped[str] = mapped_column(String(440))
    distinct_id: Mapped[str] = mapped_column(String(400))
    language: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column()
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SurveySettings(Base):
    """A project's survey settings: the cooldown between any two surveys shown to one person."""

    __tablename__ = "survey_settings"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    cooldown_days: Mapped[int] = mapped_column(Integer, default=0)
