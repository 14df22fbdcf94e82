"""The analytics suite's harness: one real store per engine, and event logs written into fresh projects.

Every analytics test takes the `engine` fixture and so runs on DuckDB and on ClickHouse (chdb) from the same
code. A test writes an `EventLog` into a new project of that store (`engine.load(log)`), so hypothesis
examples share one store without seeing each other's events.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from opsloop.analytics.runner import Analysis, run_analysis
from opsloop.analytics.timeframe import ProjectContext, WeekStart
from opsloop.query.registry import ANALYSES, parse_query
from opsloop.store.events import EventStore, open_event_store
from opsloop.store.schema import DISTINCT_IDS_SCHEMA, EVENTS_SCHEMA, OVERRIDES_SCHEMA, PERSONS_SCHEMA

UTC = dt.UTC
_NAMESPACE = uuid.UUID("6f1c0d1e-8d2b-4c1a-9d0e-0a11c0ffee00")


def person_uuid(distinct_id: str) -> str:
    """The person a distinct id starts out as (deterministic, so tests can name it)."""
    return str(uuid.uuid5(_NAMESPACE, distinct_id))


@dataclass(frozen=True)
class LoggedEvent:
    """One event of a test log."""

    distinct_id: str
    event: str
    timestamp: dt.datetime
    properties: dict[str, Any]


@dataclass
class EventLog:
    """Events, person properties and identity merges, written by hand in a test."""

    events: list[LoggedEvent] = field(default_factory=list)
    person_properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: distinct id -> the distinct id whose person it was merged into.
    merged: dict[str, str] = field(default_factory=dict)

    def add(self, distinct_id: str, event: str, at: dt.datetime | str, **properties: Any) -> EventLog:
        """Add an event; `at` is an aware datetime or an ISO text (UTC when it has no offset)."""
        when = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self.events.append(LoggedEvent(distinct_id, event, when.astimezone(UTC), properties))
        return self

    def person(self, distinct_id: str, **properties: Any) -> EventLog:
        """Set properties of the person a distinct id belongs to."""
        self.person_properties.setdefault(self.person_of(distinct_id), {}).update(properties)
        return self

    def merge(self, distinct_id: str, into: str) -> EventLog:
        """`identify`: the person of `distinct_id` becomes the person of `into`."""
        self.merged[distinct_id] = into
        return self

    def person_of(self, distinct_id: str) -> str:
        """The distinct id naming the person `distinct_id` belongs to now (after merges)."""
        seen = set()
        while distinct_id in self.merged and distinct_id not in seen:
            seen.add(distinct_id)
            distinct_id = self.merged[distinct_id]
        return distinct_id

    def resolved(self) -> list[tuple[str, str, dt.datetime, dict[str, Any]]]:
        """`(person, event, timestamp, properties)` per event, persons resolved through merges."""
        return [(self.person_of(e.distinct_id), e.event, e.timestamp, e.properties) for e in self.events]


@dataclass
class Engine:
    """A real events store of one engine and a counter of projects handed out."""

    name: str
    store: EventStore
    projects: Iterator[int]

    def load(self, log: EventLog) -> int:
        """Write a log into a fresh project; returns the project id."""
        project = next(self.projects)
        now = dt.datetime(2020, 1, 1, tzinfo=UTC)
        rows = [
            {
                "uuid": str(uuid.uuid4()),
                "project_id": project,
                "event": e.event,
                "distinct_id": e.distinct_id,
                "person_id": person_uuid(e.distinct_id),
                "timestamp": e.timestamp,
                "properties": json.dumps(e.properties),
                "session_id": None,
                "inserted_at": now,
            }
            for e in log.events
        ]
        if rows:
            self.store.insert_events(pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA), dt.timedelta(hours=1))
        if project % 2:
            # Odd projects' events are counted into the stores' derived tables (DuckDB's hourly rollup);
            # even ones are read from the events its reads add (see `DuckDBDialect.hour_rows_source`).
            while self.store.maintain(now=True):
                pass
        ids = {e.distinct_id for e in log.events} | set(log.merged) | set(log.person_properties)
        self.store.upsert_distinct_ids(
            pa.Table.from_pylist(
                [
                    {
                        "project_id": project,
                        "distinct_id": did,
                        "person_id": person_uuid(log.person_of(did)),
                        "is_deleted": False,
                        "version": 1,
                    }
                    for did in sorted(ids)
                ],
                schema=DISTINCT_IDS_SCHEMA,
            )
        )
        merged = [did for did in sorted(ids) if log.person_of(did) != did]
        self.store.record_merges(
            pa.Table.from_pylist(
                [
                    {
                        "project_id": project,
                        "old_person_id": person_uuid(did),
                        "person_id": person_uuid(log.person_of(did)),
                        "version": 1,
                    }
                    for did in merged
                ],
                schema=OVERRIDES_SCHEMA,
            )
        )
        self.store.upsert_persons(
            pa.Table.from_pylist(
                [
                    {
                        "project_id": project,
                        "id": person_uuid(did),
                        "created_at": now,
                        "properties": json.dumps(log.person_properties.get(did, {})),
                        "is_identified": False,
                        "is_deleted": log.person_of(did) != did,
                        "version": 1,
                    }
                    for did in sorted(ids)
                ],
                schema=PERSONS_SCHEMA,
            )
        )
        return project

    def run(
        self,
        log: EventLog,
        query: dict[str, Any],
        *,
        timezone: str = "UTC",
        week_start: WeekStart = "monday",
        today: dt.date | None = None,
    ) -> Any:
        """Load a log into a new project and run one query object (as the API receives it) on it."""
        project = self.load(log)
        model = parse_query(query)
        analysis: Analysis[Any, Any] = ANALYSES[model.kind]  # type: ignore[attr-defined]
        ctx = ProjectContext(project, timezone, week_start, today or dt.date(2024, 12, 31))
        return run_analysis(analysis, self.store, ctx, model, timeout=60)


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One store per engine per test module (chdb allows one open directory per process: it is closed
    before the next module opens its own)."""
    folder: Path = tmp_path_factory.mktemp(f"analytics-{request.param}")
    url = {"duckdb": f"duckdb://{folder / 'events.duckdb'}", "chdb": f"chdb://{folder / 'chdb'}"}[request.param]
    store = open_event_store(url)
    yield Engine(store.dialect.name, store, itertools.count(1))
    store.close()


@pytest.fixture(params=["rows", "lists"])
def distinct_values(engine: Engine, request: pytest.FixtureRequest) -> Iterator[str]:
    """Run either way whatever the engine prefers (`Dialect.collects_distinct_cheaply`): each person's
    distinct values (active days, buckets) as distinct (person, value) rows or as one list per person;
    trends' distinct persons counted from rows grouped per stored person, or from the raw events."""
    dialect = engine.store.dialect
    setattr(dialect, "collects_distinct_cheaply", request.param == "lists")  # noqa: B010 (a class flag, shadowed)
    try:
        yield request.param
    finally:
        delattr(dialect, "collects_distinct_cheaply")


@contextmanager
def rollup(engine: Engine, on: bool) -> Iterator[None]:
    """Within the block, analyses may read the hourly rollup (`QueryBuilder.hour_rows`) only when `on`."""
    dialect = engine.store.dialect
    kept = dialect.hour_rollup
    dialect.hour_rollup = kept and on
    try:
        yield
    finally:
        dialect.hour_rollup = kept


@pytest.fixture(params=["events", "hours"])
def hour_rollup(engine: Engine, request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test both ways: analyses read the events, or the hourly rollup where they may."""
    # Every store keeps the rollup once opened (`ensure_schema`).
    assert engine.store.dialect.hour_rollup
    with rollup(engine, request.param == "hours"):
        yield request.param
