"""Metadata tables of user operations: the property catalogue, segments, their members and size history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opsloop.store.models import Base, utcnow


class CatalogueEntry(Base):
    """One event name, event property or person property a project has received: computed statistics
    (refreshed from the events store) and what people wrote about it (kept across refreshes)."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (UniqueConstraint("project_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(400))
    type: Mapped[str | None] = mapped_column(String(16), default=None)
    first_seen: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_seen: Mapped[dt.datetime | None] = mapped_column(default=None)
    volume: Mapped[int] = mapped_column(BigInteger, default=0)
    top_values: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Segment(Base):
    """A saved segment: a definition (dynamic) or an uploaded list of ids (static)."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="dynamic")
    definition: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SegmentListId(Base):
    """One id of a static segment's list: a distinct id or a person id, as uploaded."""

    __tablename__ = "segment_list_ids"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    id_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(400), primary_key=True)


class SegmentMember(Base):
    """A person in a segment's materialised membership (as of its last refresh)."""

    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class SegmentSize(Base):
    """A segment's size at one refresh: its size history."""

    __tablename__ = "segment_sizes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    size: Mapped[int] = mapped_column(BigInteger)


class PersonTag(Base):
    """A person's value of one tag: set by hand (`manual`) or computed by the tag's rule (`rule`)."""

    __tablename__ = "person_tags"
    __table_args__ = (UniqueConstraint("project_id", "tag", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[str] = mapped_column(String(36))
    value: Mapped[str] = mapped_column(String(400), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TagRuleRow(Base):
    """A rule tag: the rule that computes its values from behaviour, and when it last ran."""

    __tablename__ = "tag_rules"
    __table_args__ = (UniqueConstraint("project_id", "tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(200))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    persons: Mapped[int | None] = mapped_column(BigInteger, default=None)
    computed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class UserOpsSettings(Base):
    """A project's user-operations settings: lifecycle thresholds (days) and RFM settings (none: the defaults)."""

    __tablename__ = "user_ops_settings"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    lifecycle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rfm: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
