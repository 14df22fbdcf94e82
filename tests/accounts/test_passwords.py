"""Password hashing: argon2id, salted, verified in constant work, weak passwords refused."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from opsloop.accounts import passwords
from opsloop.accounts.passwords import WeakPassword, check_new_password, hash_password, needs_rehash, verify_password


def test_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert "correct horse" not in first
    assert verify_password(first, "correct horse battery") and verify_password(second, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not verify_password("not-a-hash", "correct horse battery")


def test_unknown_user_is_checked_against_a_dummy_hash() -> None:
    # None stands for "no such user": the password is still hashed (same cost) and the answer is always no.
    assert not verify_password(None, "opsloop-timing-equaliser")
    assert not verify_password(None, "anything at all")


def test_weaker_parameters_need_a_rehash(monkeypatch: pytest.MonkeyPatch) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1).hash("correct horse battery")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("correct horse battery"))


def test_new_passwords_need_ten_characters() -> None:
    with pytest.raises(WeakPassword, match="at least 10"):
        check_new_password("short")
    with pytest.raises(WeakPassword, match="at most"):
        check_new_password("x" * (passwords.MAX_PASSWORD_LENGTH + 1))
    check_new_password("ten chars!")
