"""RFM per person on both engines: the `rfm_segment` condition, the movement matrix since the previous period
(hand-worked) and a segment definition standing for one cell or one segment ("one click")."""

from __future__ import annotations

import datetime as dt

import pytest

from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.definitions import Group
from opsloop.users.rfm_movement import NOT_A_BUYER, cell_definition, rfm_movement
from tests.analytics.conftest import Engine
from tests.users.conftest import members
from tests.users.test_rfm import QUERY, shop


def test_rfm_condition(engine: Engine) -> None:
    # tests/users/test_rfm.py works the cells out: d (1,1) Hibernating, h (1,3) At Risk, c (2,5) Can't Lose,
    # f (3,1) and b (3,2) About to Sleep, a (3,4) Loyal, g (5,3) Potential Loyalists; e bought before the window.
    log = shop()
    rfm = QUERY.model_dump(mode="json")
    sleepy = {"type": "rfm_segment", "rfm": rfm, "segments": ["About to Sleep"]}
    assert members(engine, log, {"conditions": [sleepy]}) == {"b", "f"}
    cells = {"type": "rfm_segment", "rfm": rfm, "cells": [[1, 1], [5, 3]]}
    assert members(engine, log, {"conditions": [cells]}) == {"d", "g"}
    # Not in a segment: every other person, non-buyers (e) included.
    outside = {"operator": "and", "negate": True, "conditions": [sleepy]}
    assert members(engine, log, outside) == {"a", "c", "d", "e", "g", "h"}


def test_one_click_definitions(engine: Engine) -> None:
    log = shop()
    loyal = Group.model_validate(cell_definition(QUERY, segment="Loyal"))
    assert members(engine, log, loyal) == {"a"}
    cell = Group.model_validate(cell_definition(QUERY, cell=(1, 3)))
    assert members(engine, log, cell) == {"h"}
    with pytest.raises(ValueError, match="segment"):
        cell_definition(QUERY)
    with pytest.raises(ValueError, match="not a segment of the map"):
        Group.model_validate(cell_definition(QUERY, segment="Nope"))


def test_movement_matrix(engine: Engine) -> None:
    # Ten days back (as of 06-20, window 05-22 .. 06-20) the buyers were a (06-20, 1 purchase), c (06-01,
    # 06-10, 06-15: 3), d (06-05: 1) and h (06-12, 06-13: 2). Four buyers: places 1..4 score 1, 2, 3, 4.
    # R by last purchase: d 06-05, h 06-13, c 06-15, a 06-20 -> d1 h2 c3 a4.
    # F by frequency then last purchase: d (1, 06-05), a (1, 06-20), h (2), c (3) -> d1 a2 h3 c4.
    # Then: d (1,1) Hibernating, a (4,2) Potential Loyalists, h (2,3) At Risk, c (3,4) Loyal.
    # Now (test_rfm): d Hibernating, h At Risk, c Can't Lose, a Loyal, b and f About to Sleep, g Potential
    # Loyalists; b, f and g were not buyers ten days back.
    ctx = ProjectContext(engine.load(shop()), "UTC", "monday", dt.date(2024, 6, 30))
    movement = rfm_movement(engine.store, ctx, QUERY, period_days=10)
    assert movement.previous_day == dt.date(2024, 6, 20)
    assert {(m.previous, m.current): m.persons for m in movement.moves} == {
        ("Hibernating", "Hibernating"): 1,
        ("At Risk", "At Risk"): 1,
        ("Loyal", "Can't Lose"): 1,
        ("Potential Loyalists", "Loyal"): 1,
        (NOT_A_BUYER, "About to Sleep"): 2,
        (NOT_A_BUYER, "Potential Loyalists"): 1,
    }
    assert movement.moved == 5  # all but d and h
