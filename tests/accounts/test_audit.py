"""Audit log: administrative actions are recorded with actor, project, time and details."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsloop.accounts.administration import ProjectAdministration
from opsloop.accounts.audit import AuditAction
from opsloop.accounts.roles import Role
from opsloop.accounts.signin import Accounts
from opsloop.accounts.users import AccountError
from opsloop.projects import ProjectError, ProjectInfo, ProjectService, list_api_keys


def test_entries_are_per_project_newest_first(accounts: Accounts, make_project: Callable[..., ProjectInfo]) -> None:
    shop, blog = make_project("shop"), make_project("blog")
    ana = accounts.users.create("ana@example.com", "correct horse battery")
    accounts.audit.record(AuditAction.api_key_created, actor=ana, project_id=shop.id, details={"name": "a"})
    accounts.audit.record(AuditAction.api_key_revoked, actor="cli", project_id=shop.id, details={"name": "a"})
    accounts.audit.record(AuditAction.token_created, actor=ana, project_id=blog.id)
    entries = accounts.audit.entries(shop.id)
    assert [(e.action, e.actor) for e in entries] == [("api_key_revoked", "cli"), ("api_key_created", ana.email)]
    assert entries[1].details == {"name": "a"} and entries[1].at.tzinfo is not None
    assert accounts.audit.count(blog.id) == 1


def test_administration_is_audited(accounts: Accounts, make_project: Callable[..., ProjectInfo]) -> None:
    shop = make_project("shop")
    projects = ProjectService(accounts.users.metadata)
    ana = accounts.users.create("ana@example.com", "correct horse battery")
    accounts.users.set_role(shop.id, ana.id, Role.admin)
    admin = ProjectAdministration(accounts, projects, actor=ana, project_id=shop.id)

    key = admin.create_api_key("reporting")
    assert projects.project_for_api_key(key) == shop.id
    created = next(k for k in list_api_keys(projects, shop.id) if k.name == "reporting")
    admin.revoke_api_key(created.id)
    assert projects.project_for_api_key(key) is None
    added = admin.add_member("bo@example.com", Role.viewer)
    assert added.password and accounts.users.authenticate("bo@example.com", added.password) == added.user
    admin.change_role(added.user.id, Role.operator)
    admin.update_settings(timezone="Asia/Shanghai", week_start="sunday")
    admin.remove_member(added.user.id)

    actions = [e.action for e in reversed(accounts.audit.entries(shop.id))]
    assert actions == [
        "api_key_created",
        "api_key_revoked",
        "user_created",
        "member_added",
        "member_role_changed",
        "project_settings_changed",
        "member_removed",
    ]
    settings_entry = accounts.audit.entries(shop.id)[1]
    assert settings_entry.details == {"timezone": "UTC -> Asia/Shanghai", "week_start": "monday -> sunday"}


def test_administration_stays_inside_its_project(accounts: Accounts, make_project: Callable[..., ProjectInfo]) -> None:
    shop, blog = make_project("shop"), make_project("blog")
    projects = ProjectService(accounts.users.metadata)
    blog_key = next(k for k in list_api_keys(projects, blog.id))
    admin = ProjectAdministration(accounts, projects, actor="cli", project_id=shop.id)
    with pytest.raises(ProjectError, match="not found in project"):
        admin.revoke_api_key(blog_key.id)  # another project's key id is 'not found', and stays valid
    assert list_api_keys(projects, blog.id)[0].revoked_at is None
    with pytest.raises(ProjectError, match="timezone"):
        admin.update_settings(timezone="Mars/Olympus", week_start="monday")
    with pytest.raises(AccountError, match="not a member"):
        admin.change_role(accounts.users.create("cy@example.com", "correct horse battery").id, Role.admin)
    assert accounts.audit.count(blog.id) == 0
