"""Revenue of a requirement's persons and its target metric before / after shipping, on a hand-worked event
log, on DuckDB and on ClickHouse (chdb)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from opsloop.dashboards.kpi_settings import KpiConfig, save_kpi_config
from opsloop.requirements.schemas import RequirementCreate, RequirementUpdate
from tests.requirements.conftest import Shop

UTC = dt.UTC
ENGINES = pytest.mark.parametrize("engine", ["duckdb", "chdb"])


def shop_log(shop: Shop) -> Shop:
    """Purchases (revenue) and exports around a ship on 2024-05-10 (UTC project).

    alice buys 12.5 as anon-1 on 05-02, logs in, buys 30 on 05-08; bob buys 20 on 05-09 and 7 on 04-01 (outside
    a 30-day window ending 05-20); carol buys 100 (not behind the requirement); dave sends a non-number."""
    shop.event("anon-1", "purchase", "2024-05-02T10:00", revenue=12.5, set={"country": "CN", "plan": "pro"})
    shop.identify("anon-1", "alice", "2024-05-03T10:00")
    shop.event("alice", "purchase", "2024-05-08T10:00", revenue=30)
    shop.event("bob", "purchase", "2024-04-01T10:00", revenue=7)
    shop.event("bob", "purchase", "2024-05-09T10:00", revenue="20")  # a number sent as text still sums
    shop.event("bob", "refund", "2024-05-09T11:00", revenue=20)  # another event: not revenue
    shop.event("carol", "purchase", "2024-05-09T10:00", revenue=100)
    shop.event("dave", "purchase", "2024-05-09T10:00", revenue="n/a")
    # Exports: before the ship (05-07..05-09): 1 + 2 + 0 = 3 by alice, bob; after (05-10..05-12): 2 + 1 + 3 = 6.
    for distinct_id, at in [
        ("alice", "2024-05-07T09:00"),
        ("bob", "2024-05-08T09:00"),
        ("bob", "2024-05-08T10:00"),
        ("alice", "2024-05-10T09:00"),
        ("carol", "2024-05-10T10:00"),
        ("carol", "2024-05-11T10:00"),
        ("alice", "2024-05-12T09:00"),
        ("bob", "2024-05-12T09:00"),
        ("dave", "2024-05-12T09:00"),
        ("alice", "2024-05-13T09:00"),  # after the 3-day after-window
        ("alice", "2024-05-06T09:00"),  # before the 3-day before-window
    ]:
        shop.event(distinct_id, "export", at)
    shop.write()
    return shop


@ENGINES
def test_revenue_of_linked_persons_hand_worked(make_shop: Callable[..., Shop], engine: str) -> None:
    shop = shop_log(make_shop(engine))
    items = [shop.feedback("Need invoices", "anon-1"), shop.feedback("Invoices!", "bob"), shop.feedback("x", "zed")]
    req = shop.runtime.requirements.create(
        shop.project, RequirementCreate(title="Invoices", feedback_ids=[i.id for i in items])
    )
    reports = shop.runtime.requirement_reports
    # 30 days ending 05-20 (04-21..05-20): alice 12.5 (as anon-1, merged) + 30, bob 20; carol is not linked,
    # bob's 04-01 purchase is outside the window: 62.5.
    assert reports.revenue(shop.project, req.id, 30, today=dt.date(2024, 5, 20)) == pytest.approx(62.5)
    # 60 days (03-22..05-20) take in bob's 7 too.
    assert reports.revenue(shop.project, req.id, 60, today=dt.date(2024, 5, 20)) == pytest.approx(69.5)
    # Another purchase event / property, as the home dashboard's settings say: `refund` events hold 20 of bob's.
    save_kpi_config(shop.runtime.metadata, shop.project, KpiConfig(purchase_event="refund"))
    assert reports.revenue(shop.project, req.id, 30, today=dt.date(2024, 5, 20)) == pytest.approx(20)


@ENGINES
def test_target_metric_before_and_after_the_ship_day(make_shop: Callable[..., Shop], engine: str) -> None:
    shop = shop_log(make_shop(engine))
    board, reports = shop.runtime.requirements, shop.runtime.requirement_reports
    req = board.create(
        shop.project,
        RequirementCreate(
            title="Faster export",
            target_metric={"kind": "trends", "series": [{"event": "export"}], "date_from": "2020-01-01"},
            metric_window_days=3,
        ),
    )
    board.update(
        shop.project,
        req.id,
        RequirementUpdate(status="shipped", shipped_at=dt.datetime(2024, 5, 10, 8, tzinfo=UTC)),
    )
    metric = reports.detail(shop.project, req.id, today=dt.date(2024, 5, 20)).metric
    assert metric is not None
    # Before: 05-07..05-09, exports 1 + 2 + 0 = 3; after: 05-10..05-12, 2 + 1 + 3 = 6; change +3, +100%.
    assert (metric.before.date_from, metric.before.date_to) == (dt.date(2024, 5, 7), dt.date(2024, 5, 9))
    assert (metric.after.date_from, metric.after.date_to) == (dt.date(2024, 5, 10), dt.date(2024, 5, 12))
    assert (metric.before.value, metric.after.value, metric.change) == (3, 6, 3)
    assert metric.change_percent == pytest.approx(100.0)
    assert metric.complete
    # On 05-11 only two days have passed since shipping: both windows shrink to two days.
    # Before 05-08..05-09: 2; after 05-10..05-11: 2 + 1 = 3.
    early = reports.detail(shop.project, req.id, today=dt.date(2024, 5, 11)).metric
    assert early is not None and not early.complete and early.days == 2
    assert (early.before.date_from, early.before.value, early.after.value) == (dt.date(2024, 5, 8), 2, 3)
    # Persons who exported: before alice, bob = 2; after alice, carol, bob, dave = 4.
    board.update(
        shop.project,
        req.id,
        RequirementUpdate(target_metric={"kind": "trends", "series": [{"event": "export", "math": "persons"}]}),
    )
    persons = reports.detail(shop.project, req.id, today=dt.date(2024, 5, 20)).metric
    assert persons is not None and (persons.before.value, persons.after.value) == (2, 4)


def test_funnel_target_metric_is_the_overall_conversion(make_shop: Callable[..., Shop]) -> None:
    shop = shop_log(make_shop())
    board, reports = shop.runtime.requirements, shop.runtime.requirement_reports
    funnel = {"kind": "funnel", "steps": [{"event": "export"}, {"event": "purchase"}]}
    req = board.create(shop.project, RequirementCreate(title="f", target_metric=funnel, metric_window_days=3))
    board.update(
        shop.project, req.id, RequirementUpdate(status="shipped", shipped_at=dt.datetime(2024, 5, 10, tzinfo=UTC))
    )
    metric = reports.detail(shop.project, req.id, today=dt.date(2024, 5, 20)).metric
    assert metric is not None
    # Before (05-07..05-09): alice exports 05-07, buys 05-08; bob exports 05-08, buys 05-09: 2 of 2 convert.
    # After (05-10..05-12): alice, carol, bob, dave export, nobody buys in the window: 0 of 4.
    assert (metric.before.value, metric.after.value) == (1.0, 0.0)
