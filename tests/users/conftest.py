"""The users suite runs segment SQL on both engines with the analytics harness (`engine`, `EventLog`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.definitions import Group
from opsloop.users.segment_library import SegmentLibrary, SegmentSpec
from opsloop.users.segment_sql import definition_members, member_ids
from tests.analytics.conftest import Engine, EventLog, engine, person_uuid

__all__ = ["engine", "members"]


def members(
    engine: Engine,
    log: EventLog,
    definition: Group | dict[str, object],
    *,
    saved: Mapping[int, SegmentSpec] | None = None,
    today: dt.date = dt.date(2024, 6, 30),
    timezone: str = "UTC",
    tags: Mapping[str, Mapping[str, str]] | None = None,
) -> set[str]:
    """Load a log into a fresh project and return the names (distinct ids) of a definition's members
    (`tags`: tag -> distinct id -> value, the persons' tags)."""
    group = definition if isinstance(definition, Group) else Group.model_validate(definition)
    project = engine.load(log)
    held = {tag: {person_uuid(d): v for d, v in values.items()} for tag, values in (tags or {}).items()}
    ctx = ProjectContext(project, timezone, "monday", today, SegmentLibrary.of(saved or {}, held))
    builder = QueryBuilder(engine.store.dialect, ctx)
    rows = Fetch(engine.store, builder, 60).rows(member_ids(definition_members(group, builder), builder))
    names = {person_uuid(d.distinct_id): d.distinct_id for d in log.events}
    names |= {person_uuid(d): d for d in [*log.person_properties, *log.merged.values()]}
    return {names.get(str(r["person_id"]), str(r["person_id"])) for r in rows}
