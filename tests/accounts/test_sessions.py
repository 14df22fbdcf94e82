"""Sessions: random tokens stored hashed, expiry, replacement at sign-in, ending other sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from opsloop.accounts.sessions import hash_session_token
from opsloop.accounts.signin import Accounts
from opsloop.accounts.tables import ConsoleSession


def test_session_lifecycle(accounts: Accounts) -> None:
    user = accounts.users.create("ana@example.com", "correct horse battery")
    new = accounts.sessions.start(user.id, ip="10.0.0.1", user_agent="pytest")
    assert len(new.token) >= 43 and len(new.csrf_token) >= 43 and new.token != new.csrf_token
    active = accounts.sessions.resolve(new.token)
    assert active is not None and active.user == user and active.csrf_token == new.csrf_token
    with accounts.users.metadata.session() as session:
        stored = session.scalars(select(ConsoleSession.token_hash)).all()
    assert stored == [hash_session_token(new.token)]  # only the hash is stored, never the token
    assert accounts.sessions.resolve("made-up-token") is None
    accounts.sessions.end(new.token)
    assert accounts.sessions.resolve(new.token) is None


def test_sessions_expire(accounts: Accounts) -> None:
    user = accounts.users.create("ana@example.com", "correct horse battery")
    new = accounts.sessions.start(user.id)
    # The default lifetime is 12 hours (OPSLOOP_SESSION_HOURS).
    assert accounts.sessions.resolve(new.token, now=new.expires_at - dt.timedelta(seconds=1)) is not None
    assert accounts.sessions.resolve(new.token, now=new.expires_at) is None
    assert accounts.sessions.resolve(new.token) is None  # an expired session is deleted when seen


def test_signing_in_replaces_the_browsers_session(accounts: Accounts) -> None:
    user = accounts.users.create("ana@example.com", "correct horse battery")
    planted = accounts.sessions.start(user.id)
    fresh = accounts.sessions.start(user.id, replacing=planted.token)
    assert fresh.token != planted.token
    assert accounts.sessions.resolve(planted.token) is None and accounts.sessions.resolve(fresh.token) is not None


def test_end_others_keeps_the_current_session(accounts: Accounts) -> None:
    user = accounts.users.create("ana@example.com", "correct horse battery")
    here, elsewhere, third = (accounts.sessions.start(user.id) for _ in range(3))
    current = accounts.sessions.resolve(here.token)
    assert current is not None
    assert accounts.sessions.end_others(user.id, keep_session_id=current.id) == 2
    assert accounts.sessions.resolve(here.token) is not None
    assert accounts.sessions.resolve(elsewhere.token) is None and accounts.sessions.resolve(third.token) is None
