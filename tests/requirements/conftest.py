"""Requirements fixtures: a runtime on real stores (SQLite metadata, DuckDB or chdb events) whose events go
through the real ingest writer, so persons and identity merges are what production would make."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opsloop.config import Settings
from opsloop.feedback.schemas import FeedbackItemOut
from opsloop.ingest.capture import parse_posthog
from opsloop.runtime import Runtime


@dataclass
class Shop:
    """A runtime, a project in it and helpers to write events and feedback into that project."""

    runtime: Runtime
    project: int
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, distinct_id: str, event: str, at: str, **properties: Any) -> Shop:
        """Queue an event (UTC ISO time); `set` in properties becomes the person's `$set`."""
        person_set = properties.pop("set", None)
        body: dict[str, Any] = {"event": event, "distinct_id": distinct_id, "timestamp": at + "+00:00"}
        body["properties"] = properties
        if person_set:
            body["$set"] = person_set
        self.events.append(body)
        return self

    def identify(self, anonymous: str, user: str, at: str) -> Shop:
        """Queue `$identify`: `anonymous` becomes the same person as `user`."""
        return self.event(user, "$identify", at, **{"$anon_distinct_id": anonymous})

    def write(self) -> None:
        """Write the queued events through the ingest writer (identity, persons, replicas)."""
        batch = parse_posthog(
            {"batch": self.events},
            self.project,
            dt.datetime.now(dt.UTC),
            max_events=10_000,
            max_event_bytes=1 << 20,
            body_bytes=0,
        )
        assert batch.errors == []
        self.runtime.writer.write_log([batch.record])
        self.events = []

    def feedback(self, text: str, distinct_id: str | None = None, **fields: Any) -> FeedbackItemOut:
        """Store a feedback item."""
        inbox = self.runtime.feedback
        return inbox.create(self.project, inbox.validate({"text": text, "distinct_id": distinct_id, **fields}))


@pytest.fixture
def make_shop(
    make_settings: Callable[..., Settings], tmp_path: Path, metadata_url: str
) -> Iterator[Callable[..., Shop]]:
    """Open a runtime (`engine`: duckdb or chdb events; SQLite, or PostgreSQL when configured, metadata) and
    create a project in it (UTC unless told)."""
    opened: list[Runtime] = []

    def make(engine: str = "duckdb", timezone: str = "UTC") -> Shop:
        overrides: dict[str, object] = {"database_url": metadata_url}
        if engine == "chdb":
            overrides["events_url"] = f"chdb://{tmp_path / 'chdb'}"
        runtime = opened[0] if opened else Runtime(make_settings(**overrides))
        if not opened:
            opened.append(runtime)
        project = runtime.projects.create("shop", timezone=timezone).project.id
        return Shop(runtime, project)

    yield make
    for runtime in opened:
        runtime.close()
