"""Metadata-store tables (SQLAlchemy 2): projects, their keys, persons and the distinct-id map."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Current time in UTC (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every metadata table."""

    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Project(Base):
    """A product being operated; every piece of data belongs to exactly one project."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    week_start: Mapped[str] = mapped_column(String(8), default="monday")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProjectToken(Base):
    """Public, write-only token that SDKs send with captured events."""

    __tablename__ = "project_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """Secret key for querying and administering a project; only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Person(Base):
    """A person: one human behind any number of distinct ids."""

    __tablename__ = "persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_identified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class PersonDistinctId(Base):
    """Which person a distinct id belongs to (many ids per person after identify / alias)."""

    __tablename__ = "person_distinct_ids"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    distinct_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Group(Base):
    """A group (company, team...) and its properties, set by `$groupidentify`."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("project_id", "group_type", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    group_type: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(400))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImportRun(Base):
    """One bulk import of a file, so that a re-run of the same file is recognised."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_stored: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


# Domain modules that own tables register them on `Base` here, so Alembic and `Base.metadata` see every table.
from opsloop.accounts import tables as _accounts_tables  # noqa: E402, F401
from opsloop.annotations import models as _annotation_models  # noqa: E402, F401
from opsloop.dashboards import tables as _dashboard_tables  # noqa: E402, F401
from opsloop.feedback import models as _feedback_models  # noqa: E402, F401
from opsloop.requirements import models as _requirement_models  # noqa: E402, F401
from opsloop.surveys import tables as _survey_tables  # noqa: E402, F401
from opsloop.users import tables as _users_tables  # noqa: E402, F401
