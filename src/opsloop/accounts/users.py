"""Console users: create, authenticate, change password, language; project memberships and roles."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsloop.accounts.passwords import check_new_password, hash_password, needs_rehash, verify_password
from opsloop.accounts.roles import Role
from opsloop.accounts.tables import Membership, User
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Project, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(ValueError):
    """An account request that cannot be carried out; the message says why, `code` names the case."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UserInfo:
    """A console user as the rest of opsloop sees it (never the password hash)."""

    id: int
    email: str
    display_name: str
    language: str

    @property
    def label(self) -> str:
        """The display name, or the email when there is none."""
        return self.display_name or self.email


@dataclass(frozen=True)
class Member:
    """A user's role in a project."""

    user: UserInfo
    project_id: int
    role: Role


@dataclass(frozen=True)
class ProjectRole:
    """One of a user's projects and the user's role in it."""

    project_id: int
    project_name: str
    timezone: str
    role: Role


def normalise_email(email: str) -> str:
    """Email as stored and compared: trimmed and lower-case."""
    return email.strip().lower()


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.email, user.display_name, user.language)


class UserService:
    """Users and their memberships, over the metadata store."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def create(self, email: str, password: str, *, display_name: str = "", language: str = "") -> UserInfo:
        """Create a user (email unique, password at least the minimum length)."""
        email = normalise_email(email)
        if len(email) > 320 or not _EMAIL.match(email):
            raise AccountError(f"email: {email!r} is not an email address")
        if len(display_name) > 200:
            raise AccountError("display name must be at most 200 characters")
        try:
            check_new_password(password)
        except ValueError as exc:
            raise AccountError(str(exc), code="weak_password") from None
        user = User(
            email=email, password_hash=hash_password(password), display_name=display_name.strip(), language=language
        )
        try:
            with self.metadata.session() as session, session.begin():
                session.add(user)
                session.flush()
                return _info(user)
        except IntegrityError:
            raise AccountError(f"a user with email {email} already exists") from None

    def get(self, user_id: int) -> UserInfo | None:
        """The user with this id, unless unknown or disabled."""
        with self.metadata.session() as session:
            user = session.get(User, user_id)
            return _info(user) if user is not None and user.disabled_at is None else None

    def find(self, email: str) -> UserInfo | None:
        """The user with this email, if any."""
        with self.metadata.session() as session:
            user = session.scalar(select(User).where(User.email == normalise_email(email)))
            return _info(user) if user is not None else None

    def all(self) -> list[UserInfo]:
        """All users, oldest first."""
        with self.metadata.session() as session:
            return [_info(u) for u in session.scalars(select(User).order_by(User.id))]

    def authenticate(self, email: str, password: str) -> UserInfo | None:
        """The user when email and password match (and the user is not disabled); None otherwise."""
        with self.metadata.session() as session, session.begin():
            user = session.scalar(select(User).where(User.email == normalise_email(email)))
            if not verify_password(user.password_hash if user else None, password) or user is None:
                return None
            if user.disabled_at is not None:
                return None
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return _info(user)

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """Replace the password after checking the current one."""
        try:
            check_new_password(new)
        except ValueError as exc:
            raise AccountError(str(exc), code="weak_password") from None
        with self.metadata.session() as session, session.begin():
            user = session.get(User, user_id)
            if user is None or not verify_password(user.password_hash, current):
                raise AccountError("the current password is not correct", code="wrong_password")
            user.password_hash = hash_password(new)
            user.password_changed_at = utcnow()

    def set_password(self, user_id: int, new: str) -> None:
        """Set a password without the current one (administrators and the CLI)."""
        try:
            check_new_password(new)
        except ValueError as exc:
            raise AccountError(str(exc), code="weak_password") from None
        with self.metadata.session() as session, session.begin():
            user = session.get(User, user_id)
            if user is None:
                raise AccountError(f"user {user_id} does not exist")
            user.password_hash = hash_password(new)
            user.password_changed_at = utcnow()

    def set_language(self, user_id: int, language: str) -> None:
        """Remember the user's console language."""
        with self.metadata.session() as session, session.begin():
            user = session.get(User, user_id)
            if user is not None:
                user.language = language

    # Memberships

    def set_role(self, project_id: int, user_id: int, role: Role) -> Role | None:
        """Give the user this role in the project; returns the previous role (None if newly added)."""
        with self.metadata.session() as session, session.begin():
            if session.get(Project, project_id) is None:
                raise AccountError(f"project {project_id} does not exist")
            if session.get(User, user_id) is None:
                raise AccountError(f"user {user_id} does not exist")
            member = _membership(session, project_id, user_id)
            if member is None:
                session.add(Membership(user_id=user_id, project_id=project_id, role=role.value))
                return None
            previous = Role(member.role)
            if previous == Role.admin and role != Role.admin:
                _keep_an_admin(session, project_id)
            member.role = role.value
            return previous

    def remove_member(self, project_id: int, user_id: int) -> Role:
        """Take the user out of the project (the last admin cannot be removed); returns the role they had."""
        with self.metadata.session() as session, session.begin():
            member = _membership(session, project_id, user_id)
            if member is None:
                raise AccountError("this user is not a member of the project")
            if member.role == Role.admin:
                _keep_an_admin(session, project_id)
            session.delete(member)
            return Role(member.role)

    def role_in(self, user_id: int, project_id: int) -> Role | None:
        """The user's role in the project, or None when not a member."""
        with self.metadata.session() as session:
            member = _membership(session, project_id, user_id)
            return Role(member.role) if member is not None else None

    def projects_of(self, user_id: int) -> list[ProjectRole]:
        """The projects the user is a member of, with the role in each, by project id."""
        with self.metadata.session() as session:
            rows = session.execute(
                select(Project.id, Project.name, Project.timezone, Membership.role)
                .join(Membership, Membership.project_id == Project.id)
                .where(Membership.user_id == user_id)
                .order_by(Project.id)
            )
            return [ProjectRole(pid, name, tz, Role(role)) for pid, name, tz, role in rows]

    def members(self, project_id: int) -> list[Member]:
        """The project's members, by email."""
        with self.metadata.session() as session:
            rows = session.execute(
                select(User, Membership.role)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.project_id == project_id)
                .order_by(User.email)
            )
            return [Member(_info(user), project_id, Role(role)) for user, role in rows]


def _membership(session: Session, project_id: int, user_id: int) -> Membership | None:
    return session.scalar(select(Membership).where(Membership.project_id == project_id, Membership.user_id == user_id))


def _keep_an_admin(session: Session, project_id: int) -> None:
    """Refuse a change that would leave the project without an admin."""
    admins = session.scalar(
        select(func.count()).where(Membership.project_id == project_id, Membership.role == Role.admin.value)
    )
    if (admins or 0) <= 1:
        raise AccountError("a project needs at least one admin: make someone else admin first")
