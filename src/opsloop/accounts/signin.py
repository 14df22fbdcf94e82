"""Accounts as one service: users, sessions, throttling and audit, and the sign-in flow that ties them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opsloop.accounts.audit import AuditAction, AuditLog
from opsloop.accounts.sessions import NewSession, SessionService
from opsloop.accounts.throttle import LoginThrottleService, ThrottlePolicy, email_key, ip_key
from opsloop.accounts.users import AccountError, UserInfo, UserService
from opsloop.config import Settings
from opsloop.store.metadata import MetadataStore


class SignInRefused(Exception):
    """Sign-in did not succeed: wrong email or password, or too many failures (`retry_after` seconds)."""

    def __init__(self, *, throttled: bool, retry_after: int = 0) -> None:
        super().__init__("too many failed sign-ins" if throttled else "wrong email or password")
        self.throttled = throttled
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the user and the new session."""

    user: UserInfo
    session: NewSession


class Accounts:
    """Every account service over one metadata store, configured from the settings."""

    def __init__(self, metadata: MetadataStore, settings: Settings) -> None:
        self.users = UserService(metadata)
        self.sessions = SessionService(metadata, lifetime=dt.timedelta(hours=settings.session_hours))
        self.throttle = LoginThrottleService(
            metadata,
            ThrottlePolicy(
                max_failures_per_email=settings.login_max_failures_per_email,
                max_failures_per_ip=settings.login_max_failures_per_ip,
                lockout=dt.timedelta(seconds=settings.login_lockout_seconds),
                max_lockout=dt.timedelta(seconds=settings.login_max_lockout_seconds),
            ),
        )
        self.audit = AuditLog(metadata)

    def sign_in(
        self, email: str, password: str, *, ip: str, user_agent: str = "", replacing: str | None = None
    ) -> SignedIn:
        """Check throttling, then the password; on success start a new session (the old one, if any, ends)."""
        keys = [email_key(email), ip_key(ip)]
        wait = self.throttle.retry_after(keys)
        if wait:
            # Locked out: the password is not even checked, so guesses during a lock-out teach nothing.
            raise SignInRefused(throttled=True, retry_after=wait)
        user = self.users.authenticate(email, password)
        if user is None:
            locked = self.throttle.record_failure(keys)
            raise SignInRefused(throttled=bool(locked), retry_after=locked)
        self.throttle.clear(email_key(email))
        self.sessions.purge_expired()
        session = self.sessions.start(user.id, ip=ip, user_agent=user_agent, replacing=replacing)
        return SignedIn(user, session)

    def change_password(self, user: UserInfo, current: str, new: str, *, keep_session_id: int | None = None) -> None:
        """Change the password (throttled like sign-in), end the user's other sessions, and audit it.

        Throttling here stops someone holding a stolen session from guessing the current password.
        """
        key = f"password:{user.id}"
        wait = self.throttle.retry_after([key])
        if wait:
            raise SignInRefused(throttled=True, retry_after=wait)
        try:
            self.users.change_password(user.id, current, new)
        except AccountError as exc:
            if exc.code == "wrong_password":
                self.throttle.record_failure([key])
            raise
        self.throttle.clear(key)
        self.sessions.end_others(user.id, keep_session_id=keep_session_id)
        self.audit.record(AuditAction.password_changed, actor=user)
