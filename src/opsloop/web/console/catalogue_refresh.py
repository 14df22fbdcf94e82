"""Catalogue refreshes in background threads: the statistics read every event (about a minute for two million),
so the console starts them and shows their progress instead of holding a request open."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from fastapi import Request

from opsloop.runtime import Runtime
from opsloop.web.console.access import runtime_of

log = logging.getLogger(__name__)


@dataclass
class RefreshState:
    """A project's catalogue refresh: running, or how the last one ended."""

    running: bool = False
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    entries: int | None = None
    error: str | None = None


class CatalogueRefreshes:
    """Catalogue refreshes running in background threads, at most one per project (kept on the app)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._states: dict[int, RefreshState] = {}
        self._threads: dict[int, threading.Thread] = {}

    def state(self, project_id: int) -> RefreshState:
        """The project's refresh state (a copy)."""
        with self._lock:
            return RefreshState(**vars(self._states.get(project_id, RefreshState())))

    def start(self, project_id: int) -> bool:
        """Start a refresh unless one is running; True when this call started it."""
        with self._lock:
            if self._states.get(project_id, RefreshState()).running:
                return False
            self._states[project_id] = RefreshState(running=True, started_at=dt.datetime.now(dt.UTC))
            thread = threading.Thread(
                target=self._run, args=(project_id,), name=f"opsloop-catalogue-{project_id}", daemon=True
            )
            self._threads[project_id] = thread
        thread.start()
        return True

    def wait(self, project_id: int, timeout: float = 60) -> None:
        """Wait for the project's refresh thread to end (tests and shutdown)."""
        thread = self._threads.get(project_id)
        if thread is not None:
            thread.join(timeout)

    def _run(self, project_id: int) -> None:
        entries, error = None, None
        try:
            entries = self.runtime.catalogue.refresh(project_id)
        except Exception as exc:  # noqa: BLE001 - the page shows why; the thread must not die silently
            log.exception("catalogue refresh of project %d failed", project_id)
            error = str(exc) or type(exc).__name__
        with self._lock:
            state = self._states[project_id]
            state.running, state.finished_at, state.entries, state.error = (
                False,
                dt.datetime.now(dt.UTC),
                entries,
                error,
            )


def refreshes(request: Request) -> CatalogueRefreshes:
    """The app's catalogue refreshes (made on first use)."""
    state = request.app.state
    with _CREATE_LOCK:
        if getattr(state, "catalogue_refreshes", None) is None:
            state.catalogue_refreshes = CatalogueRefreshes(runtime_of(request))
    found: CatalogueRefreshes = state.catalogue_refreshes
    return found


_CREATE_LOCK = threading.Lock()
