"""Portraits on both engines, hand-worked: dimension shares in a segment against all persons, the lift, the
top events per person, and the CSV export."""

from __future__ import annotations

import datetime as dt

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.definitions import Group
from opsloop.users.portrait import NOT_SET, Dimension, portrait, portrait_csv
from opsloop.users.segment_library import SegmentLibrary
from opsloop.users.segment_sql import definition_members
from tests.analytics.conftest import Engine, person_uuid
from tests.users.test_segment_sql import TODAY, shop

PRO = Group.model_validate({"conditions": [{"type": "person", "property": "plan", "value": "pro"}]})
TAGS = {"tier": {person_uuid("ann"): "gold", person_uuid("bob"): "gold"}}


def test_portrait(engine: Engine) -> None:
    # Persons (tests/users/test_segment_sql.py): ann (pro, born 1990), bob (free, born "2004"), cat (pro, age
    # 40, no birth year), dan (nothing); `c-anon` was merged into cat. The segment "plan = pro": ann and cat.
    ctx = ProjectContext(engine.load(shop()), "UTC", "monday", TODAY, SegmentLibrary.of({}, TAGS))
    builder = QueryBuilder(engine.store.dialect, ctx)
    dimensions = [
        Dimension(type="person", property="plan"),
        Dimension(type="age_band"),
        Dimension(type="tag", property="tier"),
        Dimension(type="lifecycle_stage"),
    ]
    result = portrait(definition_members(PRO, builder), dimensions, builder, Fetch(engine.store, builder, 60))
    assert (result.segment_size, result.all_persons) == (2, 4)

    def table(i: int) -> dict[str, tuple[int, int, float | None]]:
        return {r.value: (r.segment_persons, r.all_persons, r.lift) for r in result.dimensions[i].rows}

    # plan: pro is 2 of 2 in the segment (share 1) and 2 of 4 overall (0.5): lift 2; free and unset: lift 0.
    assert table(0) == {"pro": (2, 2, 2.0), "free": (0, 1, 0.0), NOT_SET: (0, 1, 0.0)}
    # Age in 2024: ann 34 (25-34), bob 20 (18-24), cat and dan without a birth year. In the segment: ann
    # (0.5 against 0.25 overall: lift 2) and cat (not set: 0.5 against 0.5: lift 1).
    assert table(1) == {"25-34": (1, 1, 2.0), NOT_SET: (1, 2, 1.0), "18-24": (0, 1, 0.0)}
    # Tag tier: ann and bob gold (0.5 in the segment, 0.5 overall: lift 1); cat and dan without.
    assert table(2) == {"gold": (1, 2, 1.0), NOT_SET: (1, 2, 1.0)}
    # Stages on 06-30 (7 / 30 / 90 days): ann active (first 06-01, nothing in 05-02 .. 05-31 but first seen
    # after), cat resurrected (04-01 as c-anon, then 06-30), bob dormant (05-01), dan new (06-30).
    assert table(3) == {"active": (1, 1, 2.0), "resurrected": (1, 1, 2.0), "dormant": (0, 1, 0.0), "new": (0, 1, 0.0)}
    # Top events over 06-01 .. 06-30: purchases 3 (all ann's; bob's is 05-01): 1.5 per member against 0.75
    # per person: lift 2; pageviews ann and cat: 1 against 0.5: lift 2; dan's signup is not the segment's.
    assert [(e.event, e.segment_events, e.all_events, e.segment_per_person, e.lift) for e in result.top_events] == [
        ("purchase", 3, 3, 1.5, 2.0),
        ("pageview", 2, 2, 1.0, 2.0),
    ]
    lines = portrait_csv(result).splitlines()
    assert lines[0] == "dimension,value,segment_persons,segment_share,all_persons,all_share,lift"
    assert "person:plan,pro,2,1.0000,2,0.5000,2.0000" in lines
    assert lines[-1] == "event,pageview,2,1.0000,2,0.5000,2.0000"


def test_rfm_dimension(engine: Engine) -> None:
    # RFM over 30 days: ann is the only buyer in 06-01 .. 06-30 (bob bought 05-01): one buyer scores 1, 1
    # (Hibernating); everybody else has no RFM segment.
    ctx = ProjectContext(engine.load(shop()), "UTC", "monday", TODAY, SegmentLibrary.of({}))
    builder = QueryBuilder(engine.store.dialect, ctx)
    rfm = {"value_event": "purchase", "amount_property": "amount", "lookback_days": 30}
    dimension = Dimension.model_validate({"type": "rfm_segment", "rfm": rfm})
    result = portrait(definition_members(PRO, builder), [dimension], builder, Fetch(engine.store, builder, 60))
    rows = {r.value: (r.segment_persons, r.all_persons) for r in result.dimensions[0].rows}
    assert rows == {"Hibernating": (1, 1), NOT_SET: (1, 3)}
    assert dt.date(2024, 6, 30) == TODAY
