"""Tags on both engines: rule tags hand-worked (thresholds, quantiles, most frequent value), tag conditions
in segments, and manual tags by API and CSV (malformed rows reported by line, good rows kept)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsloop.analytics.timeframe import ProjectContext
from opsloop.projects import ProjectService
from opsloop.store.metadata import MetadataStore
from opsloop.users.tag_rules import TagRule
from opsloop.users.tags import TagAssignment, TagService, parse_tag_csv
from tests.analytics.conftest import Engine, EventLog, person_uuid
from tests.users.conftest import members

TODAY = dt.date(2024, 6, 30)


def shop() -> EventLog:
    """Today 2024-06-30 (UTC); a 90-day window is 04-02 .. 06-30.

    ann: purchases 06-01 (10), 06-20 (50), 06-29 (5) = 65; views shoes, shoes, books.
    bob: purchase 05-01 (100); views books.
    cat: purchase 2024-01-01 (500, outside the window); `c-anon` (merged into cat) viewed toys, cat viewed books.
    dan: signed up only.
    """
    log = EventLog()
    for day, amount in (("06-01", 10), ("06-20", 50), ("06-29", 5)):
        log.add("ann", "purchase", f"2024-{day}T10:00:00", amount=amount)
    for day, category in (("06-02", "shoes"), ("06-03", "shoes"), ("06-04", "books")):
        log.add("ann", "view", f"2024-{day}T10:00:00", category=category)
    log.add("bob", "purchase", "2024-05-01T10:00:00", amount=100).add("bob", "view", "2024-05-02", category="books")
    log.add("cat", "purchase", "2024-01-01T10:00:00", amount=500).add("cat", "view", "2024-06-10", category="books")
    log.add("c-anon", "view", "2024-06-09T10:00:00", category="toys").merge("c-anon", "cat")
    return log.add("dan", "signup", "2024-06-30T09:00:00")


def rule_tags(engine: Engine, rule: TagRule) -> dict[str, str]:
    project = engine.load(shop())
    service = TagService(None, engine.store)  # type: ignore[arg-type]  # `preview` reads the events store only
    found = service.preview(ProjectContext(project, "UTC", "monday", TODAY), rule)
    names = {person_uuid(d): d for d in ("ann", "bob", "cat", "dan")}
    return {names[p]: v for p, v in found.items()}


def test_value_tier_by_thresholds(engine: Engine) -> None:
    # 90-day revenue: ann 65 (mid: >= 50), bob 100 (high: >= 100); cat's 500 is outside the window.
    rule = TagRule.model_validate(
        {
            "event": "purchase",
            "aggregate": "sum",
            "property": "amount",
            "thresholds": [{"value": "low", "min": 0}, {"value": "high", "min": 100}, {"value": "mid", "min": 50}],
        }
    )
    assert rule_tags(engine, rule) == {"ann": "mid", "bob": "high"}


def test_value_tier_by_quantiles(engine: Engine) -> None:
    # Two buyers in the window, ann 65 (place 1) and bob 100 (place 2): share floor(2 (place - 1) / 2) -> 0, 1.
    rule = TagRule(event="purchase", aggregate="sum", property="amount", quantiles=["low", "high"])
    assert rule_tags(engine, rule) == {"ann": "low", "bob": "high"}
    # Purchases counted over 365 days: ann 3, bob 1, cat 1 -> places bob 1, cat 1 (tied), ann 3 of 3:
    # floor(2 * 0 / 3) = 0 (low) for bob and cat, floor(2 * 2 / 3) = 1 (high) for ann.
    counted = TagRule(event="purchase", within_days=365, quantiles=["low", "high"])
    assert rule_tags(engine, counted) == {"ann": "high", "bob": "low", "cat": "low"}


def test_favourite_category(engine: Engine) -> None:
    # ann: shoes twice; bob: books; cat: toys (as c-anon, merged) and books once each -> the smaller, books.
    rule = TagRule(event="view", aggregate="most_frequent", property="category")
    assert rule_tags(engine, rule) == {"ann": "shoes", "bob": "books", "cat": "books"}


def test_rule_validation() -> None:
    with pytest.raises(ValueError, match="property"):
        TagRule(event="purchase", aggregate="sum", thresholds=[{"value": "x", "min": 1}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="thresholds"):
        TagRule(event="purchase")
    with pytest.raises(ValueError, match="quantiles"):
        TagRule(event="purchase", quantiles=["a", "a"])


def test_tag_conditions(engine: Engine) -> None:
    tags = {"tier": {"ann": "mid", "bob": "high"}, "vip": {"cat": ""}}
    log = shop()

    def holding(condition: dict[str, object]) -> set[str]:
        return members(engine, log, {"conditions": [condition]}, tags=tags)

    assert holding({"type": "tag", "tag": "tier", "value": "high"}) == {"bob"}
    assert holding({"type": "tag", "tag": "tier", "op": "in", "value": ["high", "mid"]}) == {"ann", "bob"}
    assert holding({"type": "tag", "tag": "tier", "op": "is_set"}) == {"ann", "bob"}
    # `neq` holds for persons without the tag too (cat, dan), as for properties.
    assert holding({"type": "tag", "tag": "tier", "op": "neq", "value": "high"}) == {"ann", "cat", "dan"}
    assert holding({"type": "tag", "tag": "vip", "op": "is_set"}) == {"cat"}
    # A tag nobody holds: nobody has it set; everybody has it not set.
    assert holding({"type": "tag", "tag": "unknown", "op": "is_set"}) == set()
    assert holding({"type": "tag", "tag": "unknown", "op": "is_not_set"}) == {"ann", "bob", "cat", "dan"}


def test_csv_parsing_reports_lines() -> None:
    text = "distinct_id,tag,value\nann,vip,gold\n,vip\nbob\ncat,vip,a,b\ndan,bad\x01tag\neve,vip\n"
    good, errors = parse_tag_csv(text)
    assert [(line, g.distinct_id, g.tag, g.value) for line, g in good] == [
        (2, "ann", "vip", "gold"),
        (7, "eve", "vip", ""),
    ]
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 5", "line 6"]
    assert "control characters" in errors[3]


@pytest.fixture
def metadata(tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    yield store
    store.close()


def project_for(engine: Engine, metadata: MetadataStore, log: EventLog) -> int:
    """Load a log in the events store and create metadata projects up to its id (the tags' foreign key)."""
    project = engine.load(log)
    projects = ProjectService(metadata)
    for n in itertools.count():
        if projects.get(project) is not None:
            return project
        projects.create(f"p{n}")
    raise AssertionError


def test_manual_tags_and_csv(engine: Engine, metadata: MetadataStore) -> None:
    project = project_for(engine, metadata, shop())
    tags = TagService(metadata, engine.store)
    stored = tags.assign(
        project,
        [TagAssignment(distinct_id="ann", tag="vip", value="gold"), TagAssignment(distinct_id="nobody", tag="vip")],
    )
    assert stored.stored == 1 and stored.errors == ["item 2: no person has the distinct_id 'nobody'"]
    # c-anon was merged into cat: tagging c-anon tags cat. Line 3 names nobody, line 4 is malformed.
    result = tags.import_csv(project, "distinct_id,tag,value\nc-anon,vip,silver\nzed,vip\nbob\nbob,vip\n")
    assert result.stored == 2
    assert [e.split(":")[0] for e in result.errors] == ["line 3", "line 4"]
    assert tags.values(project, "vip") == {
        "": [person_uuid("bob")],
        "gold": [person_uuid("ann")],
        "silver": [person_uuid("cat")],
    }
    assert tags.of_person(project, person_uuid("ann")) == {"vip": "gold"}
    # A rule tag: computed, listed, and refused for manual values.
    tags.save_rule(
        project, "tier", TagRule(event="purchase", aggregate="sum", property="amount", quantiles=["low", "high"])
    )
    assert tags.compute(ProjectContext(project, "UTC", "monday", TODAY), "tier") == 2
    refused = tags.assign(project, [TagAssignment(distinct_id="ann", tag="tier", value="x")])
    assert refused.stored == 0 and "rule tag" in refused.errors[0]
    listing = {t.tag: (t.kind, t.persons, t.values) for t in tags.listing(project)}
    assert listing == {
        "tier": ("rule", 2, {"high": 1, "low": 1}),
        "vip": ("manual", 3, {"": 1, "gold": 1, "silver": 1}),
    }
    assert tags.remove(project, "vip", "ann") == 1
    assert tags.remove(project, "vip") == 2
