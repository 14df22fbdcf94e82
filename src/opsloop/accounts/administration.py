"""Project administration by members: settings, credentials and members, each recorded in the audit log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from opsloop.accounts.audit import AuditAction
from opsloop.accounts.roles import Role
from opsloop.accounts.signin import Accounts
from opsloop.accounts.users import AccountError, UserInfo
from opsloop.projects import (
    NewProject,
    ProjectError,
    ProjectInfo,
    ProjectService,
    create_token,
    revoke_api_key,
    revoke_token,
    update_project_settings,
)


@dataclass(frozen=True)
class AddedMember:
    """A member added to a project; `password` is set only when the user was created (shown once)."""

    user: UserInfo
    role: Role
    password: str | None


class ProjectAdministration:
    """Administrative actions on one project, done by `actor`, audited."""

    def __init__(self, accounts: Accounts, projects: ProjectService, *, actor: UserInfo | str, project_id: int) -> None:
        self.accounts = accounts
        self.projects = projects
        self.actor = actor
        self.project_id = project_id

    def _audit(self, action: AuditAction, **details: str) -> None:
        self.accounts.audit.record(action, actor=self.actor, project_id=self.project_id, details=details)

    def update_settings(self, *, timezone: str, week_start: str) -> ProjectInfo:
        """Change timezone and week start."""
        before = self.projects.get(self.project_id)
        info = update_project_settings(self.projects, self.project_id, timezone=timezone, week_start=week_start)
        if before is not None and (before.timezone, before.week_start) != (info.timezone, info.week_start):
            self._audit(
                AuditAction.project_settings_changed,
                timezone=f"{before.timezone} -> {info.timezone}",
                week_start=f"{before.week_start} -> {info.week_start}",
            )
        return info

    def create_api_key(self, name: str) -> str:
        """A new API key; the returned secret is the only copy."""
        name = name.strip()
        if len(name) > 200:
            raise AccountError("name: at most 200 characters")
        key = self.projects.create_api_key(self.project_id, name=name)
        self._audit(AuditAction.api_key_created, name=name, prefix=key[:10])
        return key

    def revoke_api_key(self, key_id: int) -> None:
        """Revoke an API key of this project."""
        info = revoke_api_key(self.projects, self.project_id, key_id)
        self._audit(AuditAction.api_key_revoked, name=info.name, prefix=info.label)

    def create_token(self) -> str:
        """A new capture token."""
        token = create_token(self.projects, self.project_id)
        self._audit(AuditAction.token_created, token=token)
        return token

    def revoke_token(self, token_id: int) -> None:
        """Revoke a capture token of this project."""
        info = revoke_token(self.projects, self.project_id, token_id)
        self._audit(AuditAction.token_revoked, token=info.label)

    def add_member(self, email: str, role: Role) -> AddedMember:
        """Give a user a role here, creating the user with a one-time random password when new."""
        users = self.accounts.users
        user = users.find(email)
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = users.create(email, password)
            self._audit(AuditAction.user_created, email=user.email)
        previous = users.set_role(self.project_id, user.id, role)
        if previous is None:
            self._audit(AuditAction.member_added, email=user.email, role=role.value)
        elif previous != role:
            self._audit(AuditAction.member_role_changed, email=user.email, role=f"{previous.value} -> {role.value}")
        return AddedMember(user, role, password)

    def change_role(self, user_id: int, role: Role) -> None:
        """Change a member's role (a project keeps at least one admin)."""
        user = self.accounts.users.get(user_id)
        if user is None or self.accounts.users.role_in(user_id, self.project_id) is None:
            raise AccountError("this user is not a member of the project")
        previous = self.accounts.users.set_role(self.project_id, user_id, role)
        if previous != role:
            prev = previous.value if previous else "-"
            self._audit(AuditAction.member_role_changed, email=user.email, role=f"{prev} -> {role.value}")

    def remove_member(self, user_id: int) -> None:
        """Take a member out of the project (not the last admin)."""
        user = self.accounts.users.get(user_id)
        role = self.accounts.users.remove_member(self.project_id, user_id)
        self._audit(AuditAction.member_removed, email=user.email if user else str(user_id), role=role.value)


def create_project(
    accounts: Accounts, projects: ProjectService, *, actor: UserInfo, name: str, timezone: str, week_start: str
) -> NewProject:
    """A new project created from the console: the creator must already be an admin of some project (the
    first project comes from `opsloop project create`); they become its admin, and the audit log says so."""
    if not any(p.role == Role.admin for p in accounts.users.projects_of(actor.id)):
        raise AccountError("only an admin of a project can create projects", code="forbidden")
    try:
        created = projects.create(name, timezone=timezone, week_start=week_start)
    except ProjectError as exc:
        raise AccountError(str(exc)) from exc
    accounts.users.set_role(created.project.id, actor.id, Role.admin)
    accounts.audit.record(
        AuditAction.project_created, actor=actor, project_id=created.project.id, details={"name": created.project.name}
    )
    return created
