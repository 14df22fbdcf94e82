"""Lifecycle stages on both engines, hand-worked with thresholds new 7 / active 30 / churn 90 days: each
person's stage, the counts over time, a person's current stage and the `lifecycle_stage` condition."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.lifecycle import LifecycleThresholds, person_stages, stage_counts, stage_of
from tests.analytics.conftest import Engine, EventLog, person_uuid
from tests.users.conftest import members

TODAY = dt.date(2024, 6, 30)
THRESHOLDS = LifecycleThresholds(new_days=7, active_days=30, churn_days=90)


def people() -> EventLog:
    """As of 06-30: new = first event on or after 06-24; recent window 06-01 .. 06-30; previous window
    05-02 .. 05-31; dormant = last event on or after 04-02 (90 days back), else churned.

    nia: first event 06-25                           -> new
    ann: 05-15 (previous window), 06-10 (recent)     -> active
    yui: first event 06-10, again 06-20: not new, nothing in the previous window but first seen inside it
         or later                                    -> active
    ray: 01-10, then 06-15: a gap over the previous window, first seen before it -> resurrected
    dor: last event 05-01                            -> dormant
    edg: last event 04-02 00:00, the first instant of the 90 days -> dormant
    chu: last event 04-01 23:59                      -> churned
    """
    log = EventLog()
    for who, at in [
        ("nia", "06-25T10:00"), ("ann", "05-15T10:00"), ("ann", "06-10T10:00"), ("yui", "06-10T10:00"),
        ("yui", "06-20T10:00"), ("ray", "01-10T10:00"), ("ray", "06-15T10:00"), ("dor", "05-01T10:00"),
        ("edg", "04-02T00:00"), ("chu", "04-01T23:59"),
    ]:  # fmt: skip
        log.add(who, "visit", f"2024-{at}")
    return log


NAMES = {person_uuid(n): n for n in ("nia", "ann", "yui", "ray", "dor", "edg", "chu")}


def test_stages(engine: Engine) -> None:
    ctx = ProjectContext(engine.load(people()), "UTC", "monday", TODAY)
    builder = QueryBuilder(engine.store.dialect, ctx)
    rows = Fetch(engine.store, builder, 60).rows(
        exp.select("*").from_(person_stages(THRESHOLDS, builder).subquery("s"))
    )
    assert {NAMES[str(r["person_id"])]: r["stage"] for r in rows} == {
        "nia": "new",
        "ann": "active",
        "yui": "active",
        "ray": "resurrected",
        "dor": "dormant",
        "edg": "dormant",
        "chu": "churned",
    }
    assert stage_of(THRESHOLDS, ctx, engine.store, person_uuid("ray")) == "resurrected"
    assert stage_of(THRESHOLDS, ctx, engine.store, person_uuid("nobody")) is None


def test_counts_over_time(engine: Engine) -> None:
    ctx = ProjectContext(engine.load(people()), "UTC", "monday", TODAY)
    points = stage_counts(THRESHOLDS, ctx, engine.store, dt.date(2024, 6, 24), dt.date(2024, 6, 25))
    # As of 06-24 nia has no event yet; ann (05-15 is in the previous window 04-26 .. 05-25) and yui are
    # active, ray resurrected, dor (05-01) and edg (04-02) dormant (on or after 03-27), chu (04-01) dormant too.
    assert points[0].day == dt.date(2024, 6, 24)
    assert points[0].counts == {"new": 0, "active": 2, "resurrected": 1, "dormant": 3, "churned": 0}
    assert points[1].counts == {"new": 1, "active": 2, "resurrected": 1, "dormant": 3, "churned": 0}
    # Weekly: one point per week, each as of its last day (the current week: today).
    weekly = stage_counts(THRESHOLDS, ctx, engine.store, dt.date(2024, 6, 17), TODAY, "week")
    assert [p.day for p in weekly] == [dt.date(2024, 6, 23), TODAY]
    assert weekly[1].counts == {"new": 1, "active": 2, "resurrected": 1, "dormant": 2, "churned": 1}


def test_lifecycle_condition(engine: Engine) -> None:
    log = people()
    condition = {"type": "lifecycle_stage", "stages": ["dormant", "churned"], "thresholds": THRESHOLDS.model_dump()}
    assert members(engine, log, {"conditions": [condition]}) == {"dor", "edg", "chu"}
    # Shorter thresholds (new 1, active 10, churn 60): new = first event on 06-30; recent 06-21 .. 06-30;
    # previous 06-11 .. 06-20; dormant = last event on or after 05-02. nia (06-25) is active (first seen
    # after the previous window began); yui (last 06-20), ray (06-15) and ann (06-10) are dormant; dor
    # (05-01) has churned.
    short = {"new_days": 1, "active_days": 10, "churn_days": 60}
    active = {"type": "lifecycle_stage", "stages": ["active"], "thresholds": short}
    assert members(engine, log, {"conditions": [active]}) == {"nia"}
    dormant = {"type": "lifecycle_stage", "stages": ["dormant"], "thresholds": short}
    assert members(engine, log, {"conditions": [dormant]}) == {"yui", "ray", "ann"}
    # Without thresholds: the project's (here the defaults, 7 / 30 / 90).
    assert members(engine, log, {"conditions": [{"type": "lifecycle_stage", "stages": ["new"]}]}) == {"nia"}


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="new_days"):
        LifecycleThresholds(new_days=40, active_days=30)
    with pytest.raises(ValueError, match="active_days"):
        LifecycleThresholds(active_days=90, churn_days=90)
