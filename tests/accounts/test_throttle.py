"""Login throttling: lock-outs per email and per IP, doubling, capped, persistent across restarts."""

from __future__ import annotations

import datetime as dt

import pytest

from opsloop.accounts.signin import Accounts, SignInRefused
from opsloop.accounts.throttle import LoginThrottleService, ThrottlePolicy, email_key, ip_key
from opsloop.store.metadata import MetadataStore

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
POLICY = ThrottlePolicy(
    max_failures_per_email=3,
    max_failures_per_ip=5,
    lockout=dt.timedelta(seconds=60),
    max_lockout=dt.timedelta(seconds=600),
)


def test_lockout_doubles_and_is_capped() -> None:
    # 3 failures allowed: the 3rd locks for 60 s, then 120, 240, 480, and 960 is capped at 600.
    waits = [POLICY.lockout_after(n, 3) for n in range(1, 9)]
    assert [w.total_seconds() if w else 0 for w in waits] == [0, 0, 60, 120, 240, 480, 600, 600]


def test_failures_lock_the_email_and_survive_a_restart(metadata: MetadataStore) -> None:
    throttle = LoginThrottleService(metadata, POLICY)
    keys = [email_key("Ana@example.com"), ip_key("10.0.0.1")]
    assert throttle.record_failure(keys, now=T0) == 0
    assert throttle.record_failure(keys, now=T0) == 0
    assert throttle.record_failure(keys, now=T0) == 60  # the email's third failure
    restarted = LoginThrottleService(metadata, POLICY)  # a new process reads the same counters
    assert restarted.retry_after([email_key("ana@example.com")], now=T0 + dt.timedelta(seconds=15)) == 45
    assert restarted.retry_after([ip_key("10.0.0.1")], now=T0) == 0  # the IP allows 5
    assert restarted.retry_after(keys, now=T0 + dt.timedelta(seconds=60)) == 0
    assert restarted.record_failure(keys, now=T0 + dt.timedelta(seconds=61)) == 120  # 4th: doubled


def test_ip_is_locked_across_emails(metadata: MetadataStore) -> None:
    throttle = LoginThrottleService(metadata, POLICY)
    for n in range(5):  # five different emails from one address: no email reaches 3, the IP reaches 5
        throttle.record_failure([email_key(f"user{n}@example.com"), ip_key("10.0.0.9")], now=T0)
    assert throttle.retry_after([email_key("new@example.com"), ip_key("10.0.0.9")], now=T0) == 60
    assert throttle.retry_after([email_key("new@example.com"), ip_key("10.0.0.10")], now=T0) == 0


def test_old_failures_are_forgotten_and_success_clears(metadata: MetadataStore) -> None:
    throttle = LoginThrottleService(metadata, POLICY)
    key = email_key("ana@example.com")
    throttle.record_failure([key], now=T0)
    throttle.record_failure([key], now=T0)
    # Past max_lockout (600 s) the streak starts again: this is failure 1, not 3.
    assert throttle.record_failure([key], now=T0 + dt.timedelta(seconds=601)) == 0
    assert throttle.failures(key) == 1
    throttle.clear(key)
    assert throttle.failures(key) == 0


def test_sign_in_is_refused_while_locked_even_with_the_right_password(accounts: Accounts) -> None:
    accounts.users.create("ana@example.com", "correct horse battery")
    # Default policy: 5 failures per email.
    for attempt in range(1, 6):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in("ana@example.com", "wrong password!!", ip="10.0.0.1")
        assert refused.value.throttled == (attempt == 5)
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in("ana@example.com", "correct horse battery", ip="10.0.0.1")
    assert refused.value.throttled and 0 < refused.value.retry_after <= 60
