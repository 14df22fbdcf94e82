"""Login throttling: failed sign-ins per email and per IP lock that key out, for longer after each failure.

The counters live in the metadata store, so a restart does not give an attacker a fresh set of guesses.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from opsloop.accounts.tables import LoginThrottle
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures a key may have before lock-out, and how long lock-outs last."""

    max_failures_per_email: int = 5
    max_failures_per_ip: int = 20
    lockout: dt.timedelta = dt.timedelta(minutes=1)
    max_lockout: dt.timedelta = dt.timedelta(hours=1)

    def lockout_after(self, failures: int, allowed: int) -> dt.timedelta | None:
        """Lock-out after the `failures`-th failure: none up to `allowed`, then doubling from `lockout`."""
        if failures < allowed:
            return None
        # The allowed-th failure locks for `lockout`, each further one doubles it, up to `max_lockout`.
        exponent = min(failures - allowed, 30)
        return min(self.lockout * (2**exponent), self.max_lockout)


def email_key(email: str) -> str:
    """Throttle key of an email address."""
    return "email:" + email.strip().lower()[:320]


def ip_key(ip: str) -> str:
    """Throttle key of a client address."""
    return "ip:" + ip[:64]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class LoginThrottleService:
    """Count failures, report lock-outs, forget failures after a success."""

    def __init__(self, metadata: MetadataStore, policy: ThrottlePolicy) -> None:
        self.metadata = metadata
        self.policy = policy

    def _allowed(self, key: str) -> int:
        return self.policy.max_failures_per_ip if key.startswith("ip:") else self.policy.max_failures_per_email

    def retry_after(self, keys: list[str], *, now: dt.datetime | None = None) -> int:
        """Seconds until none of `keys` is locked out (0: sign-in may be tried now)."""
        now = now or utcnow()
        with self.metadata.session() as session:
            rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
        waits = [(_aware(r.locked_until) - now).total_seconds() for r in rows if r.locked_until is not None]
        return max([0, *(math.ceil(w) for w in waits)])

    def record_failure(self, keys: list[str], *, now: dt.datetime | None = None) -> int:
        """Count a failed sign-in against every key; returns the resulting lock-out in seconds (0: none)."""
        now = now or utcnow()
        try:
            return self._record_failure(keys, now)
        except IntegrityError:
            # Another request inserted the same key's first failure at the same moment: count on its row.
            return self._record_failure(keys, now)

    def _record_failure(self, keys: list[str], now: dt.datetime) -> int:
        longest = 0
        with self.metadata.session() as session, session.begin():
            for key in keys:
                row = session.get(LoginThrottle, key, with_for_update=True)
                if row is None:
                    row = LoginThrottle(key=key, failures=0, last_failure_at=now)
                    session.add(row)
                elif now - _aware(row.last_failure_at) > self.policy.max_lockout:
                    row.failures = 0  # an old streak of failures is forgotten after the longest lock-out
                row.failures += 1
                row.last_failure_at = now
                lockout = self.policy.lockout_after(row.failures, self._allowed(key))
                row.locked_until = now + lockout if lockout else None
                if lockout:
                    longest = max(longest, math.ceil(lockout.total_seconds()))
        return longest

    def clear(self, key: str) -> None:
        """Forget the failures of a key (after a successful sign-in)."""
        with self.metadata.session() as session, session.begin():
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    def failures(self, key: str) -> int:
        """Failures counted against a key."""
        with self.metadata.session() as session:
            row = session.get(LoginThrottle, key)
            return row.failures if row is not None else 0
