"""Identity registry: the id-map cache stays within its bound and still resolves every id."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from sqlalchemy import select

import opsloop.ingest.identity as identity
from opsloop.ingest.identity import Link, Seen
from opsloop.runtime import Runtime
from opsloop.store.models import Person, PersonDistinctId


def test_a_map_larger_than_the_cache_is_looked_up_not_loaded(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    project = runtime.projects.create("big").project.id
    registry = runtime.writer.persons
    ops = [Seen(f"u{i}", 1_763_700_000_000_000) for i in range(6_000)]
    first = registry.apply(project, ops)
    registry._cache.clear()
    registry._complete.clear()
    monkeypatch.setattr(identity, "_CACHE_LIMIT", 1_000)  # 6,000 stored ids: too many to load whole
    again = registry.apply(project, ops)
    assert again == first, "every id resolves to the person it already had"
    assert project not in registry._complete
    assert runtime.store.query("select count(*) from persons where not is_deleted").rows == [[6_000]]


def test_ids_seen_in_bulk_get_one_new_person_each_and_keep_stored_ones(runtime: Runtime) -> None:
    project = runtime.projects.create("bulk").project.id
    registry = runtime.writer.persons
    before = registry.apply(project, [Seen("b", 1_763_700_000_000_000)])
    names = pa.array(["c", "b", "a"])
    # Microseconds since the epoch: c first seen at 2025-11-21 04:40:00.000001, a one second later.
    first_seen = pa.array([1_763_700_000_000_001, 1, 1_763_700_001_000_000], pa.timestamp("us", tz="UTC"))
    persons, replicas = registry.add_seen(project, names, first_seen)
    found = [str(p) for p in persons.to_pylist()]
    assert found[1] == before["b"], "an id with a person keeps it"
    assert len(set(found)) == 3
    assert replicas is not None
    replicas.write(runtime.store)
    assert registry.add_seen(project, names, first_seen)[0].equals(persons), "seen again: nothing changes"
    with runtime.metadata.session() as session:
        stored = dict(session.execute(select(PersonDistinctId.distinct_id, PersonDistinctId.person_id)).all())
        created = {p.id: p.created_at.replace(tzinfo=dt.UTC) for p in session.scalars(select(Person))}
    assert stored == dict(zip(["c", "b", "a"], found, strict=True))
    assert created[found[0]] == dt.datetime(2025, 11, 21, 4, 40, 0, 1, tzinfo=dt.UTC)
    assert created[found[2]] == dt.datetime(2025, 11, 21, 4, 40, 1, tzinfo=dt.UTC)
    replica = runtime.store.query(
        "select m.distinct_id, cast(p.id as varchar), p.created_at, p.properties from person_distinct_ids m "
        "join persons p on p.id = m.person_id where m.project_id = ? order by 1",
        [project],
    ).rows
    assert [(r[0], r[1]) for r in replica] == [("a", found[2]), ("b", found[1]), ("c", found[0])]
    assert [str(r[3]) for r in replica] == ["{}", "{}", "{}"]


def test_merges_record_where_each_merged_person_went(runtime: Runtime) -> None:
    project = runtime.projects.create("merges").project.id
    registry = runtime.writer.persons
    t = 1_763_700_000_000_000
    first = registry.apply(project, [Seen("anon", t), Seen("u1", t), Seen("u3", t)])
    registry.apply(project, [Link("identify", "u1", "anon", t + 1)])  # anon's person goes into u1's

    def overrides() -> dict[str, str]:
        rows = runtime.store.query(
            "select cast(old_person_id as varchar), cast(person_id as varchar) from person_overrides "
            "where project_id = ?",
            [project],
        ).rows
        return dict((a, b) for a, b in rows)

    assert overrides() == {first["anon"]: first["u1"]}
    # u1's person (anon's events too) goes into u3's, and a new id joins u3 in the same batch.
    registry.apply(project, [Link("alias", "u3", "u1", t + 2), Link("alias", "u3", "u4", t + 2)])
    assert overrides() == {first["anon"]: first["u3"], first["u1"]: first["u3"]}
    # Every stored person resolves to the person its distinct ids belong to now.
    now = dict(
        runtime.store.query(
            "select distinct_id, cast(person_id as varchar) from person_distinct_ids where project_id = ?", [project]
        ).rows
    )
    for did in ("anon", "u1", "u3"):
        assert overrides().get(first[did], first[did]) == now[did]
