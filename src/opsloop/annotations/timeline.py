"""Annotations of a project's charts: place one (from any feature, in that feature's transaction), list a
date range so charts can draw them, remove those a feature placed."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opsloop.annotations.models import Annotation
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Project

#: Longest date range one listing covers, in days.
MAX_RANGE_DAYS = 3660


class AnnotationInvalid(ValueError):
    """An annotation request that cannot be carried out; `field` names the culprit."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.status = status


class AnnotationIn(BaseModel):
    """A note an operator places by hand."""

    model_config = ConfigDict(extra="forbid")
    date: dt.date
    text: str = Field(min_length=1, max_length=1000)
    link: str | None = Field(None, max_length=1000)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        return value.strip()


class AnnotationOut(BaseModel):
    """An annotation as charts read it."""

    id: int
    date: dt.date
    text: str
    link: str | None
    source: str
    source_id: int | None


def place(
    session: Session,
    project_id: int,
    day: dt.date,
    text: str,
    *,
    link: str | None = None,
    source: str = "manual",
    source_id: int | None = None,
) -> Annotation:
    """Add an annotation inside the caller's transaction."""
    row = Annotation(project_id=project_id, date=day, text=text[:1000], link=link, source=source, source_id=source_id)
    session.add(row)
    session.flush()
    return row


def remove(session: Session, project_id: int, source: str, source_id: int) -> None:
    """Remove the annotations one feature placed for one of its objects (inside the caller's transaction)."""
    session.execute(
        delete(Annotation).where(
            Annotation.project_id == project_id, Annotation.source == source, Annotation.source_id == source_id
        )
    )


def _out(row: Annotation) -> AnnotationOut:
    return AnnotationOut(
        id=row.id, date=row.date, text=row.text, link=row.link, source=row.source, source_id=row.source_id
    )


class AnnotationService:
    """Annotations of the projects of one metadata store."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def add(self, project_id: int, note: AnnotationIn) -> AnnotationOut:
        """Place an annotation by hand."""
        with self.metadata.session() as session, session.begin():
            if session.get(Project, project_id) is None:
                raise AnnotationInvalid("project_id", f"project {project_id} does not exist", 404)
            return _out(place(session, project_id, note.date, note.text, link=note.link))

    def list(self, project_id: int, date_from: dt.date, date_to: dt.date) -> list[AnnotationOut]:
        """Annotations dated from `date_from` to `date_to` (inclusive), oldest first."""
        if date_to < date_from:
            raise AnnotationInvalid("date_to", f"{date_to} is before date_from ({date_from})")
        if (date_to - date_from).days >= MAX_RANGE_DAYS:
            raise AnnotationInvalid("date_to", f"the range may cover at most {MAX_RANGE_DAYS} days")
        with self.metadata.session() as session:
            rows = session.scalars(
                select(Annotation)
                .where(Annotation.project_id == project_id, Annotation.date >= date_from, Annotation.date <= date_to)
                .order_by(Annotation.date, Annotation.id)
            ).all()
            return [_out(r) for r in rows]

    def delete(self, project_id: int, annotation_id: int) -> None:
        """Delete one annotation of the project (404 if there is none)."""
        with self.metadata.session() as session, session.begin():
            # An id beyond the INTEGER range is simply not found (PostgreSQL would refuse the lookup).
            row = session.get(Annotation, annotation_id) if 0 < annotation_id <= 2**31 - 1 else None
            if row is None or row.project_id != project_id:
                raise AnnotationInvalid("annotation_id", f"no annotation {annotation_id} in project {project_id}", 404)
            session.delete(row)
