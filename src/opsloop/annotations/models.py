"""The annotations table: one dated note on a project's charts, from any feature."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from opsloop.store.models import Base, utcnow


class Annotation(Base):
    """A dated note (project-local day) with an optional link, and which feature placed it (`source`)."""

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_project_date", "project_id", "date"),
        Index("ix_annotations_source", "project_id", "source", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(String(1000))
    link: Mapped[str | None] = mapped_column(String(1000), default=None)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    source_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
