"""Users and memberships: creation rules, authentication, password change, roles per project."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from opsloop.accounts.roles import Role, parse_role
from opsloop.accounts.signin import Accounts
from opsloop.accounts.tables import User
from opsloop.accounts.users import AccountError
from opsloop.projects import ProjectInfo


def test_create_normalises_email_and_refuses_duplicates(accounts: Accounts) -> None:
    user = accounts.users.create("  Ana@Example.COM ", "correct horse battery", display_name="Ana")
    assert user.email == "ana@example.com" and user.label == "Ana"
    with pytest.raises(AccountError, match="already exists"):
        accounts.users.create("ana@example.com", "another password 1")
    with pytest.raises(AccountError, match="email"):
        accounts.users.create("not-an-email", "correct horse battery")
    with pytest.raises(AccountError, match="at least 10"):
        accounts.users.create("bo@example.com", "short")
    with accounts.users.metadata.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.email == "ana@example.com"))
    assert stored is not None and stored.startswith("$argon2id$") and "horse" not in stored


def test_authenticate_and_change_password(accounts: Accounts) -> None:
    user = accounts.users.create("ana@example.com", "correct horse battery")
    assert accounts.users.authenticate("ANA@example.com", "correct horse battery") == user
    assert accounts.users.authenticate("ana@example.com", "wrong password!!") is None
    assert accounts.users.authenticate("nobody@example.com", "correct horse battery") is None
    with pytest.raises(AccountError, match="current password"):
        accounts.users.change_password(user.id, "wrong password!!", "new long password")
    accounts.users.change_password(user.id, "correct horse battery", "new long password")
    assert accounts.users.authenticate("ana@example.com", "correct horse battery") is None
    assert accounts.users.authenticate("ana@example.com", "new long password") == user


def test_roles_rank() -> None:
    assert Role.admin.allows(Role.operator) and Role.operator.allows(Role.viewer)
    assert not Role.viewer.allows(Role.operator) and not Role.operator.allows(Role.admin)
    assert parse_role(" Admin ") is Role.admin
    with pytest.raises(ValueError, match="admin, operator, viewer"):
        parse_role("owner")


def test_memberships_per_project(accounts: Accounts, make_project: Callable[..., ProjectInfo]) -> None:
    shop, blog = make_project("shop"), make_project("blog")
    ana = accounts.users.create("ana@example.com", "correct horse battery")
    bo = accounts.users.create("bo@example.com", "correct horse battery")
    assert accounts.users.set_role(shop.id, ana.id, Role.admin) is None
    accounts.users.set_role(shop.id, bo.id, Role.viewer)
    accounts.users.set_role(blog.id, bo.id, Role.operator)
    assert accounts.users.role_in(ana.id, shop.id) is Role.admin
    assert accounts.users.role_in(ana.id, blog.id) is None  # not a member of blog
    assert [(p.project_name, p.role) for p in accounts.users.projects_of(bo.id)] == [
        ("shop", Role.viewer),
        ("blog", Role.operator),
    ]
    assert [(m.user.email, m.role) for m in accounts.users.members(shop.id)] == [
        ("ana@example.com", Role.admin),
        ("bo@example.com", Role.viewer),
    ]
    assert accounts.users.set_role(shop.id, bo.id, Role.operator) is Role.viewer


def test_a_project_keeps_an_admin(accounts: Accounts, make_project: Callable[..., ProjectInfo]) -> None:
    shop = make_project()
    ana = accounts.users.create("ana@example.com", "correct horse battery")
    bo = accounts.users.create("bo@example.com", "correct horse battery")
    accounts.users.set_role(shop.id, ana.id, Role.admin)
    with pytest.raises(AccountError, match="at least one admin"):
        accounts.users.set_role(shop.id, ana.id, Role.viewer)
    with pytest.raises(AccountError, match="at least one admin"):
        accounts.users.remove_member(shop.id, ana.id)
    accounts.users.set_role(shop.id, bo.id, Role.admin)
    accounts.users.set_role(shop.id, ana.id, Role.viewer)  # bo is admin now, so ana may step down
    assert accounts.users.remove_member(shop.id, ana.id) is Role.viewer
    assert accounts.users.role_in(ana.id, shop.id) is None
