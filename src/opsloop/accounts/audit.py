"""Audit log of administrative actions: who did what, in which project, when, with details."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select

from opsloop.accounts.tables import AuditEntry
from opsloop.accounts.users import UserInfo
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow


class AuditAction(StrEnum):
    """Actions recorded in the audit log."""

    user_created = "user_created"
    member_added = "member_added"
    member_role_changed = "member_role_changed"
    member_removed = "member_removed"
    api_key_created = "api_key_created"
    api_key_revoked = "api_key_revoked"
    token_created = "token_created"
    token_revoked = "token_revoked"
    project_settings_changed = "project_settings_changed"
    password_changed = "password_changed"
    project_created = "project_created"
    rfm_settings_changed = "rfm_settings_changed"


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the audit log."""

    id: int
    at: dt.datetime
    actor: str
    project_id: int | None
    action: str
    details: dict[str, str] = field(default_factory=dict)


class AuditLog:
    """Append to and read the audit log."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def record(
        self,
        action: AuditAction,
        *,
        actor: UserInfo | str,
        project_id: int | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        """Append an entry; `actor` is the user, or a label such as `cli` for actions outside the console."""
        entry = AuditEntry(
            at=utcnow(),
            actor_user_id=actor.id if isinstance(actor, UserInfo) else None,
            actor=actor.email if isinstance(actor, UserInfo) else actor,
            project_id=project_id,
            action=action.value,
            details={k: str(v) for k, v in (details or {}).items()},
        )
        with self.metadata.session() as session, session.begin():
            session.add(entry)

    def entries(self, project_id: int, *, limit: int = 100, offset: int = 0) -> list[AuditRecord]:
        """The project's entries, newest first."""
        with self.metadata.session() as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.project_id == project_id)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [
                AuditRecord(
                    r.id,
                    r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
                    r.actor,
                    r.project_id,
                    r.action,
                    dict(r.details),
                )
                for r in rows
            ]

    def count(self, project_id: int) -> int:
        """Number of entries of the project."""
        with self.metadata.session() as session:
            return int(session.scalar(select(func.count()).where(AuditEntry.project_id == project_id)) or 0)
