"""The demo loader: credentials file with the project's keys and a console admin who can sign in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from opsloop.accounts.roles import Role
from opsloop.config import Settings
from opsloop.demo.generator import DemoSpec
from opsloop.demo.loader import load_demo
from opsloop.runtime import Runtime

TINY = DemoSpec(persons=30, days=3, seed=1, end_date=dt.date(2026, 11, 1))


def test_demo_creates_a_console_admin_and_keeps_its_password(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    runtime = Runtime(settings)
    try:
        first = load_demo(runtime, TINY)
        saved = json.loads(first.credentials_path.read_text())
        assert saved["console_email"] == "demo@example.com" and len(saved["console_password"]) >= 10
        user = runtime.accounts.users.authenticate(saved["console_email"], saved["console_password"])
        assert user is not None and runtime.accounts.users.role_in(user.id, first.project.id) is Role.admin
        # Re-running reuses the project and the password that still works.
        again = load_demo(runtime, TINY)
        assert again.project.id == first.project.id
        assert json.loads(again.credentials_path.read_text())["console_password"] == saved["console_password"]
        # A password changed since (so the file's no longer works) is replaced by a new one that does.
        runtime.accounts.users.set_password(user.id, "changed in the console")
        third = load_demo(runtime, TINY)
        password = json.loads(third.credentials_path.read_text())["console_password"]
        assert password != saved["console_password"]
        assert runtime.accounts.users.authenticate("demo@example.com", password) is not None
    finally:
        runtime.close()
