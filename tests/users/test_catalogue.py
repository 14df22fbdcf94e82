"""The catalogue's statistics on both engines: detected types, volumes, times, top values and sampling."""

from __future__ import annotations

import datetime as dt

from opsloop.users.catalogue import compute_catalogue
from tests.analytics.conftest import Engine, EventLog

UTC = dt.UTC


def log() -> EventLog:
    """Five events; `mixed` holds a text and a number once each (a tie: text wins); `nothing` is always null."""
    return (
        EventLog()
        .add(
            "a",
            "pageview",
            "2024-05-01T08:00",
            browser="Chrome",
            n=1,
            ok=True,
            when="2024-01-02T03:04:05Z",
            obj={"x": 1},
            tags=["a"],
        )  # fmt: skip
        .add("b", "pageview", "2024-05-02T08:00", browser="Safari", n=2.5, ok=False, when="2024-01-02")
        .add("b", "purchase", "2024-05-03T08:00", browser="Chrome", amount=10, mixed="x", note="2024-01-02 and more")
        .add("c", "purchase", "2024-05-04T08:00", mixed=3, nothing=None)
        .add("c", "purchase", "2024-05-05T08:00", browser="Chrome")
        .person("a", plan="pro", birth_year=1990)
        .person("b", plan="free", vip=True)
        .person("c", plan="pro")
    )


def test_types_volumes_and_top_values(engine: Engine) -> None:
    entries = {(e["kind"], e["name"]): e for e in compute_catalogue(engine.store, engine.load(log()))}
    assert sorted(n for k, n in entries if k == "event") == ["pageview", "purchase"]
    purchase = entries[("event", "purchase")]
    assert purchase["volume"] == 3
    assert purchase["first_seen"] == dt.datetime(2024, 5, 3, 8, tzinfo=UTC)
    assert purchase["last_seen"] == dt.datetime(2024, 5, 5, 8, tzinfo=UTC)
    types = {n: e["type"] for (k, n), e in entries.items() if k == "event_property"}
    # `nothing` is only ever null: not a property. A text that is a date followed by more is just text.
    assert types == {
        "amount": "number",
        "browser": "string",
        "mixed": "string",
        "n": "number",
        "note": "string",
        "obj": "object",
        "ok": "boolean",
        "tags": "object",
        "when": "datetime",
    }
    browser = entries[("event_property", "browser")]
    assert browser["volume"] == 4 and not browser["sampled"]
    assert browser["top_values"] == [{"value": "Chrome", "count": 3}, {"value": "Safari", "count": 1}]
    assert browser["first_seen"] == dt.datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert browser["last_seen"] == dt.datetime(2024, 5, 5, 8, tzinfo=UTC)
    assert entries[("event_property", "ok")]["top_values"] == [
        {"value": "false", "count": 1},
        {"value": "true", "count": 1},
    ]
    assert entries[("event_property", "obj")]["top_values"] == []  # objects have no top values
    plan = entries[("person_property", "plan")]
    assert (plan["type"], plan["volume"], plan["top_values"][0]) == ("string", 3, {"value": "pro", "count": 2})
    assert entries[("person_property", "vip")]["type"] == "boolean"
    assert entries[("person_property", "birth_year")]["type"] == "number"


def test_top_values_are_sampled_from_the_latest_events(engine: Engine) -> None:
    # With a sample of 2 events, the top values come from the two latest (both purchase 05-04 and 05-05);
    # volumes and times still cover every event.
    entries = {(e["kind"], e["name"]): e for e in compute_catalogue(engine.store, engine.load(log()), sample=2)}
    browser = entries[("event_property", "browser")]
    assert browser["sampled"] and browser["volume"] == 4
    assert browser["top_values"] == [{"value": "Chrome", "count": 1}]
    assert entries[("event_property", "mixed")]["top_values"] == [{"value": "3", "count": 1}]
    assert not entries[("person_property", "plan")]["sampled"]


def test_an_empty_project_has_an_empty_catalogue(engine: Engine) -> None:
    assert compute_catalogue(engine.store, engine.load(EventLog())) == []
