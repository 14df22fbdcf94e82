"""Managing surveys (API-key side): create, list, update, delete, activate, stop, and project settings."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from opsloop.store.metadata import MetadataStore
from opsloop.surveys.definitions import SurveyDefinition, SurveyInvalid, SurveyStatus, parse_definition
from opsloop.surveys.delivery import SurveyNotFound, as_utc
from opsloop.surveys.tables import Survey, SurveySettings


class SurveyView(BaseModel):
    """A survey as the management API shows it."""

    id: int
    public_id: str
    name: str
    status: SurveyStatus
    definition: dict[str, Any]
    hosted_path: str
    created_at: dt.datetime
    updated_at: dt.datetime
    activated_at: dt.datetime | None
    stopped_at: dt.datetime | None


class SurveySettingsView(BaseModel):
    """A project's survey settings."""

    cooldown_days: int = Field(0, ge=0, le=3650, description="days between any two surveys shown to one person")


def _view(row: Survey) -> SurveyView:
    return SurveyView(
        id=row.id,
        public_id=row.public_id,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        definition=row.definition,
        hosted_path=f"/s/{row.public_id}",
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        activated_at=as_utc(row.activated_at) if row.activated_at else None,
        stopped_at=as_utc(row.stopped_at) if row.stopped_at else None,
    )


def _stored(definition: SurveyDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", exclude_none=True)


class SurveyManager:
    """CRUD and status changes of one project's surveys."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def create(self, project_id: int, data: object, *, now: dt.datetime) -> SurveyView:
        """A new draft survey from a definition (`SurveyInvalid` names the bad field)."""
        definition = parse_definition(data)
        with self.metadata.session() as session, session.begin():
            row = Survey(
                project_id=project_id,
                public_id=secrets.token_urlsafe(12),
                name=definition.name,
                status="draft",
                definition=_stored(definition),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _view(row)

    def list(self, project_id: int) -> list[SurveyView]:
        """The project's surveys, oldest first."""
        with self.metadata.session() as session:
            rows = session.scalars(select(Survey).where(Survey.project_id == project_id).order_by(Survey.id))
            return [_view(r) for r in rows]

    def get(self, project_id: int, survey_id: int) -> SurveyView:
        """One survey of the project."""
        with self.metadata.session() as session:
            return _view(self._row(session, project_id, survey_id))

    def _row(self, session: Any, project_id: int, survey_id: int) -> Survey:
        row = session.get(Survey, survey_id) if 0 < survey_id < 2**31 else None
        if row is None or row.project_id != project_id:
            raise SurveyNotFound(f"no survey {survey_id} in project {project_id}")
        return row  # type: ignore[no-any-return]

    def update(self, project_id: int, survey_id: int, data: object, *, now: dt.datetime) -> SurveyView:
        """Replace the definition (answers already stored keep their question ids)."""
        definition = parse_definition(data)
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, survey_id)
            row.definition = _stored(definition)
            row.name = definition.name
            row.updated_at = now
            return _view(row)

    def delete(self, project_id: int, survey_id: int) -> None:
        """Delete a survey with its impressions and responses."""
        with self.metadata.session() as session, session.begin():
            session.delete(self._row(session, project_id, survey_id))

    def set_status(self, project_id: int, survey_id: int, status: SurveyStatus, *, now: dt.datetime) -> SurveyView:
        """Activate or stop a survey (a stopped survey can be activated again)."""
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, survey_id)
            if status == "draft" and row.status != "draft":
                raise SurveyInvalid("status: a survey that ran cannot go back to draft")
            row.status = status
            row.updated_at = now
            if status == "active":
                row.activated_at = now
            elif status == "stopped":
                row.stopped_at = now
            return _view(row)

    def settings(self, project_id: int) -> SurveySettingsView:
        """The project's survey settings."""
        with self.metadata.session() as session:
            row = session.get(SurveySettings, project_id)
            return SurveySettingsView(cooldown_days=row.cooldown_days if row else 0)

    def save_settings(self, project_id: int, settings: SurveySettingsView) -> SurveySettingsView:
        """Store the project's survey settings."""
        with self.metadata.session() as session, session.begin():
            row = session.get(SurveySettings, project_id)
            if row is None:
                session.add(SurveySettings(project_id=project_id, cooldown_days=settings.cooldown_days))
            else:
                row.cooldown_days = settings.cooldown_days
        return settings
