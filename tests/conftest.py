"""Shared fixtures: real stores in a temp folder, and a real opsloop server on loopback."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import settings

from opsloop.config import Settings
from opsloop.projects import NewProject
from opsloop.runtime import Runtime
from opsloop.web.app import create_app

# Property tests check results, never speed: a shared CI machine can make any example slow, so no deadline.
settings.register_profile("opsloop", deadline=None)
settings.load_profile("opsloop")

POSTGRES_URL = os.environ.get("OPSLOOP_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("OPSLOOP_TEST_REQUIRE_POSTGRES") == "1"


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgres"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Metadata store URL: a SQLite file, and a real PostgreSQL server when one is configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("OPSLOOP_TEST_REQUIRE_POSTGRES=1 but OPSLOOP_TEST_POSTGRES_URL is not set")
        pytest.skip("set OPSLOOP_TEST_POSTGRES_URL to run against PostgreSQL")
    return POSTGRES_URL


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in the test's temp folder; keyword arguments override fields."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "flush_interval_ms": 50}
        values.setdefault("segment_refresh_minutes", 0)  # the scheduled refresh runs only where a test asks
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """A runtime on a DuckDB file and a SQLite file, ingest started."""
    rt = Runtime(make_settings())
    rt.start_ingest()
    yield rt
    rt.close()


@dataclass
class LiveServer:
    """A running opsloop server and a project in it."""

    url: str
    runtime: Runtime
    project: NewProject
    client: httpx.Client

    def new_project(self, name: str = "other") -> NewProject:
        """Create another project in the same server."""
        return self.runtime.projects.create(name)

    def flush(self) -> None:
        """Wait until acknowledged events are queryable."""
        assert self.runtime.pipeline.wait_flushed(30), "events were not flushed in 30 s"

    def sql(self, query: str, project: NewProject | None = None) -> list[list[object]]:
        """Run SQL through the HTTP API as the project's API key; returns rows."""
        project = project or self.project
        self.flush()
        response = self.client.post(
            f"/api/projects/{project.project.id}/query",
            json={"kind": "sql", "query": query},
            headers={"Authorization": f"Bearer {project.api_key}"},
        )
        assert response.status_code == 200, response.text
        rows: list[list[object]] = response.json()["rows"]
        return rows


def start_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, Runtime]:
    """Run the app with uvicorn in a thread until it answers."""
    runtime = Runtime(settings)
    config = uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=settings.port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("opsloop server did not start")
        time.sleep(0.02)
    return server, thread, runtime


@pytest.fixture
def live_server(make_settings: Callable[..., Settings], metadata_url: str) -> Iterator[LiveServer]:
    """A real opsloop server on loopback (DuckDB events, SQLite or PostgreSQL metadata)."""
    settings = make_settings(port=free_port(), database_url=metadata_url)
    server, thread, runtime = start_server(settings)
    project = runtime.projects.create("test project")
    url = f"http://127.0.0.1:{settings.port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        yield LiveServer(url, runtime, project, client)
    server.should_exit = True
    thread.join(timeout=30)


#: Debian's Chromium, the browser every console and widget test drives.
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (shared by every browser test of the session)."""
    if not CHROMIUM.exists():
        if os.environ.get("OPSLOOP_TEST_REQUIRE_CHROMIUM"):
            pytest.fail("OPSLOOP_TEST_REQUIRE_CHROMIUM is set but /usr/bin/chromium is missing")
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()
