"""Console test harness: the real app over HTTP (TestClient), users with roles, and a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from opsloop.accounts import passwords
from opsloop.accounts.roles import Role
from opsloop.accounts.users import UserInfo
from opsloop.config import Settings
from opsloop.demo.generator import DemoSpec
from opsloop.demo.loader import write_events_file
from opsloop.ingest.bulk import import_file
from opsloop.projects import NewProject
from opsloop.runtime import Runtime
from opsloop.store.models import Base
from opsloop.web.app import create_app
from tests.conftest import free_port, start_server

PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with the smallest parameters: the same code path, a thousandth of the time."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@dataclass
class ConsoleHarness:
    """The app, its runtime, a project, and helpers to make users and sign them in."""

    runtime: Runtime
    app: Any
    project: NewProject
    base_url: str = "http://testserver"
    clients: list[TestClient] = field(default_factory=list)

    def browser(self, **kwargs: Any) -> TestClient:
        """A new browser (own cookie jar); redirects are not followed so tests can see them."""
        client = TestClient(self.app, base_url=kwargs.pop("base_url", self.base_url), follow_redirects=False, **kwargs)
        self.clients.append(client)
        return client

    def user(self, email: str, role: Role | None = Role.admin, project: NewProject | None = None) -> UserInfo:
        """A user with `role` in `project` (the harness's project by default)."""
        user = self.runtime.accounts.users.create(email, PASSWORD)
        if role is not None:
            self.runtime.accounts.users.set_role((project or self.project).project.id, user.id, role)
        return user

    def csrf(self, client: TestClient, path: str = "/login") -> str:
        """The CSRF token a page gives this browser."""
        response = client.get(path)
        assert response.status_code == 200, response.text
        match = _CSRF_META.search(response.text)
        assert match, "the page carries no CSRF token"
        return match.group(1)

    def sign_in(self, client: TestClient, email: str, password: str = PASSWORD) -> Any:
        """Submit the sign-in form as a browser would."""
        token = self.csrf(client, "/login")
        return client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def signed_in(self, email: str, role: Role | None = Role.admin, project: NewProject | None = None) -> TestClient:
        """A browser signed in as a new user with `role`."""
        self.user(email, role, project)
        client = self.browser()
        response = self.sign_in(client, email)
        assert response.status_code == 303, response.text
        return client

    @property
    def pid(self) -> int:
        """The harness project's id."""
        return self.project.project.id


@pytest.fixture
def console(make_settings: Callable[..., Settings], metadata_url: str) -> Iterator[ConsoleHarness]:
    """The app with a running lifespan, on a DuckDB events file and SQLite (and PostgreSQL when configured)."""
    runtime = Runtime(make_settings(database_url=metadata_url))
    app = create_app(runtime=runtime)
    with TestClient(app):
        harness = ConsoleHarness(runtime, app, runtime.projects.create("Shop"))
        yield harness
        for client in harness.clients:
            client.close()
        if runtime.metadata.engine.dialect.name == "postgresql":
            # The PostgreSQL database outlives the test: empty it so that the next test's users are new.
            with runtime.metadata.engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())


@dataclass
class LiveConsole:
    """A real server on loopback, for the browser, with one admin of one project."""

    url: str
    runtime: Runtime
    project: NewProject
    email: str


@pytest.fixture
def live_console(make_settings: Callable[..., Settings]) -> Iterator[LiveConsole]:
    """An opsloop server in a thread, with a signed-up admin."""
    server, thread, runtime = start_server(make_settings(port=free_port()))
    project = runtime.projects.create("Demo shop", timezone="Asia/Shanghai")
    user = runtime.accounts.users.create("ana@example.com", PASSWORD, display_name="Ana García")
    runtime.accounts.users.set_role(project.project.id, user.id, Role.admin)
    yield LiveConsole(f"http://127.0.0.1:{runtime.settings.port}", runtime, project, user.email)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def demo_console(live_console: LiveConsole, tmp_path: Path) -> LiveConsole:
    """The live console's project with a small demo product: 300 persons over 45 days ending today (~20k events)."""
    today = dt.datetime.now(dt.UTC).date()
    path = tmp_path / "demo-events.parquet"
    write_events_file(DemoSpec(persons=300, days=45, seed=3, end_date=today), path)
    import_file(live_console.runtime.writer, path, live_console.project.project.id)
    return live_console


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context and page (own cookies), laptop-sized."""
    context = chromium.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def sign_in_with_browser(page: Any, url: str, email: str, password: str = PASSWORD) -> None:
    """Fill and submit the sign-in form in the browser."""
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")
