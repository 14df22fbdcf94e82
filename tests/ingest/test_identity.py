"""Identity registry: the id-map cache stays within its bound and still resolves every id."""

from __future__ import annotations

import pytest

import opsloop.ingest.identity as identity
from opsloop.ingest.identity import Seen
from opsloop.runtime import Runtime


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
