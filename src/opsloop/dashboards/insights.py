"""Saved insights: a named query object of a project, validated with the query registry when saved."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsloop.dashboards.sharing import encode_query
from opsloop.dashboards.tables import Insight
from opsloop.query.registry import QueryInvalid, parse_query
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow

T = TypeVar("T")
MAX_NAME = 200
MAX_DESCRIPTION = 5000
#: Largest id the metadata tables hold (PostgreSQL's INTEGER); a larger one names nothing.
MAX_ID = 2**31 - 1


class NotFound(LookupError):
    """An insight, dashboard or tile that does not exist in the project (another project's counts as absent)."""


class InvalidInput(ValueError):
    """A value that cannot be saved; the message starts with the field at fault (`name: ...`)."""


class View(BaseModel):
    """Base of the read models the services return (immutable)."""

    model_config = ConfigDict(frozen=True)


class InsightView(View):
    """A saved insight as the console and the API show it; `share_code` is its query's shareable code (null if
    the saved query no longer validates, e.g. after an upgrade changed its kind: running it then says why)."""

    id: int
    project_id: int
    name: str
    description: str
    kind: str
    query: dict[str, Any]
    share_code: str | None
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


def find(session: Session, table: type[T], row_id: int) -> T | None:
    """A row by id; None for an id out of the column's range too (PostgreSQL would refuse the lookup)."""
    if not 1 <= row_id <= MAX_ID:
        return None
    return session.get(table, row_id)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def clean_name(value: Any, field: str = "name") -> str:
    """A name: text of 1 to 200 characters after trimming, without control characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: must be text")
    text: str = value.strip()
    if not text or len(text) > MAX_NAME:
        raise InvalidInput(f"{field}: must be 1 to {MAX_NAME} characters")
    if any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{field}: must not contain control characters")
    return text


def _clean_description(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput("description: must be text")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(f"description: at most {MAX_DESCRIPTION} characters")
    return value.strip()


def clean_query(value: Any) -> dict[str, Any]:
    """A query object validated by the registry, stored as its normalised JSON."""
    try:
        model = parse_query(value)
    except QueryInvalid as exc:
        raise InvalidInput(f"query: {exc}") from None
    return {"kind": model.kind, **model.model_dump(mode="json")}  # type: ignore[attr-defined]


def with_range(query: dict[str, Any], date_from: dt.date | None, date_to: dt.date | None) -> BaseModel:
    """A saved query with its date range replaced (a dashboard's date picker), validated again."""
    if date_from is None and date_to is None:
        return parse_query(query)
    model = parse_query(query)
    if "date_from" not in type(model).model_fields:
        raise InvalidInput(f"date_from: a `{query.get('kind')}` query has no date range")
    changed = {**query, "date_from": date_from.isoformat() if date_from else None}
    changed["date_to"] = date_to.isoformat() if date_to else None
    try:
        return parse_query(changed)
    except QueryInvalid as exc:
        raise InvalidInput(str(exc)) from None


def insight_view(row: Insight) -> InsightView:
    """The read model of an insight row."""
    try:
        code: str | None = encode_query(row.query)
    except QueryInvalid:
        code = None
    return InsightView(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        kind=str(row.query.get("kind", "")),
        query=row.query,
        share_code=code,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class InsightService:
    """Create, list, change and delete a project's saved insights."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def list(self, project_id: int) -> list[InsightView]:
        """The project's insights, most recently changed first."""
        with self.metadata.session() as session:
            rows = session.scalars(
                select(Insight)
                .where(Insight.project_id == project_id)
                .order_by(Insight.updated_at.desc(), Insight.id.desc())
            )
            return [insight_view(r) for r in rows]

    def get(self, project_id: int, insight_id: int) -> InsightView:
        """One insight of the project; `NotFound` otherwise."""
        with self.metadata.session() as session:
            return insight_view(self._row(session, project_id, insight_id))

    def create(
        self,
        project_id: int,
        name: str,
        query: Any,
        *,
        description: str = "",
        created_by: int | None = None,
    ) -> InsightView:
        """Save a query under a name; the query is validated first (`InvalidInput` naming the field)."""
        row = Insight(
            project_id=project_id,
            name=clean_name(name),
            description=_clean_description(description),
            query=clean_query(query),
            created_by=created_by,
        )
        with self.metadata.session() as session, session.begin():
            session.add(row)
            session.flush()
            return insight_view(row)

    def update(
        self,
        project_id: int,
        insight_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        query: Any = None,
    ) -> InsightView:
        """Rename an insight, change its description or its query (only what is given changes)."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = clean_name(name)
        if description is not None:
            changes["description"] = _clean_description(description)
        if query is not None:
            changes["query"] = clean_query(query)
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, insight_id)
            for key, value in changes.items():
                setattr(row, key, value)
            if changes:
                row.updated_at = utcnow()
            session.flush()
            return insight_view(row)

    def rename(self, project_id: int, insight_id: int, name: str) -> InsightView:
        """Give an insight a new name."""
        return self.update(project_id, insight_id, name=name)

    def delete(self, project_id: int, insight_id: int) -> None:
        """Delete an insight; its tiles leave every dashboard with it."""
        with self.metadata.session() as session, session.begin():
            session.delete(self._row(session, project_id, insight_id))

    @staticmethod
    def _row(session: Session, project_id: int, insight_id: int) -> Insight:
        row = find(session, Insight, insight_id)
        if row is None or row.project_id != project_id:
            raise NotFound(f"no insight {insight_id} in project {project_id}")
        return row
