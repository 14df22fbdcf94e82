"""Server-side console sessions: random tokens in the cookie, their SHA-256 hashes in the metadata store."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from opsloop.accounts.tables import ConsoleSession, User
from opsloop.accounts.users import UserInfo
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow

# `last_seen_at` is written at most this often, so that page views do not all write to the metadata store.
_TOUCH_EVERY = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class NewSession:
    """A started session: the cookie value (shown only now) and the session's CSRF token."""

    token: str
    csrf_token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class ActiveSession:
    """A valid session and its user."""

    id: int
    user: UserInfo
    csrf_token: str
    expires_at: dt.datetime


def hash_session_token(token: str) -> str:
    """SHA-256 of a session token: 256-bit random tokens need no slow hash to be unrecoverable."""
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives back naive date-times; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class SessionService:
    """Start, resolve and end console sessions."""

    def __init__(self, metadata: MetadataStore, *, lifetime: dt.timedelta) -> None:
        self.metadata = metadata
        self.lifetime = lifetime

    def start(self, user_id: int, *, ip: str = "", user_agent: str = "", replacing: str | None = None) -> NewSession:
        """A new session with fresh token and CSRF token; the session it replaces (if any) ends.

        Signing in always starts a new session, so a token planted in the browser before sign-in
        (session fixation) never becomes a signed-in session.
        """
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + self.lifetime
        with self.metadata.session() as session, session.begin():
            if replacing:
                session.execute(
                    delete(ConsoleSession).where(ConsoleSession.token_hash == hash_session_token(replacing))
                )
            session.add(
                ConsoleSession(
                    token_hash=hash_session_token(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                    last_seen_at=now,
                    ip=ip[:64],
                    user_agent=user_agent[:300],
                )
            )
        return NewSession(token, csrf, expires)

    def resolve(self, token: str, *, now: dt.datetime | None = None) -> ActiveSession | None:
        """The session behind a cookie value, unless unknown, expired, or its user is disabled."""
        if not token or len(token) > 100:
            return None
        now = now or utcnow()
        with self.metadata.session() as session, session.begin():
            row = session.execute(
                select(ConsoleSession, User)
                .join(User, User.id == ConsoleSession.user_id)
                .where(ConsoleSession.token_hash == hash_session_token(token))
            ).first()
            if row is None:
                return None
            record, user = row
            if _aware(record.expires_at) <= now or user.disabled_at is not None:
                session.delete(record)
                return None
            if now - _aware(record.last_seen_at) > _TOUCH_EVERY:
                record.last_seen_at = now
            info = UserInfo(user.id, user.email, user.display_name, user.language)
            return ActiveSession(record.id, info, record.csrf_token, _aware(record.expires_at))

    def end(self, token: str) -> None:
        """End the session behind this cookie value (sign out)."""
        with self.metadata.session() as session, session.begin():
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == hash_session_token(token)))

    def end_others(self, user_id: int, *, keep_session_id: int | None = None) -> int:
        """End every session of the user except one (after a password change); returns how many ended."""
        with self.metadata.session() as session, session.begin():
            query = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
            if keep_session_id is not None:
                query = query.where(ConsoleSession.id != keep_session_id)
            return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]

    def purge_expired(self, *, now: dt.datetime | None = None) -> int:
        """Delete expired sessions; returns how many."""
        with self.metadata.session() as session, session.begin():
            result = session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= (now or utcnow())))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
