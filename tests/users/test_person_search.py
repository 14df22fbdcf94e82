"""Person search, a person's timeline and the latest events, on both engines (DuckDB and chdb)."""

from __future__ import annotations

import datetime as dt

from opsloop.users.person_search import latest_events, person_seen, person_timeline, search_persons
from tests.analytics.conftest import Engine, EventLog


def shop() -> EventLog:
    """ana (anonymous `anon-7` merged into her), bob and Carla; plans pro, free, pro; one `<script>` event."""
    log = EventLog()
    log.add("anon-7", "$pageview", "2024-05-01T08:00").merge("anon-7", into="ana")
    log.add("ana", "signed_up", "2024-05-01T08:05").add("ana", "purchase", "2024-05-02T09:00", revenue=20)
    log.add("bob", "$pageview", "2024-05-03T10:00").add("Carla", "<script>x</script>", "2024-05-04T11:00", n=1)
    log.person("ana", plan="pro", age=42).person("bob", plan="free").person("Carla", plan="pro")
    return log


def test_search_by_id_and_property(engine: Engine) -> None:
    pid = engine.load(shop())

    def ids(**kwargs: object) -> list[str]:
        return [m.distinct_id for m in search_persons(engine.store, pid, **kwargs)]  # type: ignore[arg-type]

    # Three persons; ana's two ids count once (listed by the smallest id: "ana" < "anon-7").
    assert ids() == ["Carla", "ana", "bob"]
    assert [m.distinct_id_count for m in search_persons(engine.store, pid)] == [1, 2, 1]
    assert ids(distinct_id="ANON") == ["ana"]  # any id of the person, any case
    assert ids(distinct_id="a") == ["Carla", "ana"]
    assert ids(property_key="plan", property_value="pro") == ["Carla", "ana"]
    assert ids(property_key="age", property_value="42") == ["ana"]  # numbers compare as written
    assert ids(distinct_id="car", property_key="plan", property_value="pro") == ["Carla"]
    assert ids(property_key="plan", property_value="enterprise") == []
    assert ids(limit=2) == ["Carla", "ana"] and ids(limit=2, offset=2) == ["bob"]


def test_timeline_seen_and_latest(engine: Engine) -> None:
    pid = engine.load(shop())
    timeline = person_timeline(engine.store, pid, ["ana", "anon-7"])
    assert [e.event for e in timeline] == ["purchase", "signed_up", "$pageview"]  # newest first, both ids
    assert timeline[0].properties == {"revenue": 20}
    assert [e.event for e in person_timeline(engine.store, pid, ["ana", "anon-7"], limit=1, offset=1)] == ["signed_up"]
    seen = person_seen(engine.store, pid, ["ana", "anon-7"])
    assert seen.first_seen == dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)
    assert seen.last_seen == dt.datetime(2024, 5, 2, 9, tzinfo=dt.UTC)
    assert seen.event_count == 3
    assert [e.event for e in latest_events(engine.store, pid, limit=2)] == ["<script>x</script>", "$pageview"]
    assert [e.distinct_id for e in latest_events(engine.store, pid, event="$pageview")] == ["bob", "anon-7"]
