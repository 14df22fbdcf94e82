"""Home-dashboard indicators on a hand-worked event log, on both engines, and against the analysis kinds."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsloop.analytics.funnel_sql import FunnelStep
from opsloop.analytics.timeframe import ProjectContext
from opsloop.config import Settings
from opsloop.dashboards.kpi_settings import CoreFunnel, KpiConfig, conversion_event
from opsloop.dashboards.kpis import Indicator, KpiOptions, KpiReport, compute_kpis
from opsloop.query.registry import execute_query
from tests.analytics.conftest import Engine, EventLog

TODAY = dt.date(2024, 5, 11)
PAGEVIEW_TO_PURCHASE = CoreFunnel(steps=[FunnelStep(event="pageview"), FunnelStep(event="purchase")])


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


def shop_log() -> EventLog:
    """Eight persons, UTC. Active days: alice 04-30 05-01 05-07 05-09 05-11; bob 05-02 05-09 05-10;
    carol 05-03 05-08; dave 05-06 05-07 05-08; erin 05-08 05-10; frank 05-09 (as f-anon) 05-10;
    gina 05-11; hank 05-10."""
    log = EventLog()
    log.add("alice", "pageview", "2024-04-30T10:00").add("alice", "pageview", "2024-05-01T10:00")
    log.add("alice", "pageview", "2024-05-07T10:00").add("alice", "pageview", "2024-05-09T10:00")
    log.add("alice", "purchase", "2024-05-09T11:00", revenue=30).add("alice", "pageview", "2024-05-11T09:00")
    log.add("bob", "pageview", "2024-05-02T12:00").add("bob", "pageview", "2024-05-09T12:00")
    log.add("bob", "purchase", "2024-05-10T09:00", revenue=20)
    log.add("carol", "signup", "2024-05-03T08:00").add("carol", "pageview", "2024-05-08T14:00")
    log.add("carol", "purchase", "2024-05-08T15:00", revenue="10")  # a number sent as text still sums
    log.add("dave", "pageview", "2024-05-06T09:00").add("dave", "pageview", "2024-05-07T09:00")
    log.add("dave", "purchase", "2024-05-08T10:00", revenue=50)  # 25 h after his 05-07 pageview
    log.add("erin", "pageview", "2024-05-08T09:00").add("erin", "pageview", "2024-05-10T09:00")
    log.add("f-anon", "pageview", "2024-05-09T08:00").merge("f-anon", into="frank")
    log.add("frank", "purchase", "2024-05-10T07:00", revenue=100)
    log.add("gina", "pageview", "2024-05-11T08:00")
    log.add("hank", "pageview", "2024-05-10T10:00").add("hank", "purchase", "2024-05-10T10:05", revenue="abc")
    return log


def report(engine: Engine, log: EventLog, tmp_path: Path, config: KpiConfig, **options: Any) -> KpiReport:
    ctx = ProjectContext(engine.load(log), "UTC", "monday", TODAY)
    return compute_kpis(engine.store, ctx, settings(tmp_path), config, KpiOptions(**options))


def check(indicator: Indicator, value: float | None, previous: float | None, series: list[float | None]) -> None:
    assert indicator.value == pytest.approx(value)
    assert indicator.previous == pytest.approx(previous)
    assert indicator.series == pytest.approx(series)
    if value is not None and previous is not None:
        assert indicator.change == pytest.approx(value - previous)
        expected = (value - previous) / previous * 100 if previous else None
        assert indicator.change_percent == (pytest.approx(expected) if expected is not None else None)


def test_two_day_period_hand_worked(engine: Engine, tmp_path: Path) -> None:
    # Today is 05-11, so the period is 05-09 .. 05-10 (ending yesterday) and the previous one 05-07 .. 05-08.
    got = report(engine, shop_log(), tmp_path, KpiConfig(core_funnel=PAGEVIEW_TO_PURCHASE), days=2)
    assert (got.date_from, got.date_to, got.previous_from, got.previous_to) == (
        "2024-05-09",
        "2024-05-10",
        "2024-05-07",
        "2024-05-08",
    )
    # New persons (first event ever on the day): frank 05-09 (through f-anon), hank 05-10; before: erin 05-08.
    check(got.new_persons, 2, 1, [1, 1])
    # DAU: 05-07 alice, dave; 05-08 carol, dave, erin; 05-09 alice, bob, frank; 05-10 bob, frank, erin, hank.
    check(got.dau, 3.5, 2.5, [3, 4])
    # Today (05-11): alice and gina.
    assert got.dau_today == 2
    # WAU on 05-10 (05-04 .. 05-10): everyone but gina = 7; on 05-08 (05-02 .. 05-08): alice, bob, carol,
    # dave, erin = 5; on 05-09 (05-03 .. 05-09) bob's 05-02 is out but frank is in: 6.
    check(got.wau, 7, 5, [6, 7])
    # MAU: nobody's activity is older than 30 days: 6 persons seen by 05-09, 7 by 05-10, 5 by 05-08.
    check(got.mau, 7, 5, [6, 7])
    # DAU/MAU, the mean of the daily ratios: now (3/6 + 4/7) / 2; before (2/4 + 3/5) / 2 (MAU 05-07: 4).
    check(got.dau_mau, (3 / 6 + 4 / 7) / 2, (2 / 4 + 3 / 5) / 2, [3 / 6, 4 / 7])
    # D1 of the cohorts 05-08 .. 05-09 (day 1 ended by 05-10): erin (05-08) not back on 05-09, frank (05-09)
    # back on 05-10: 1/2. Before (cohorts 05-06 .. 05-07): dave, back on 05-07: 1/1.
    check(got.d1_retention, 0.5, 1.0, [0.0, 1.0])
    assert (got.d1_retention.date_from, got.d1_retention.date_to) == ("2024-05-08", "2024-05-09")
    # D7 of the cohorts 05-02 .. 05-03: bob back on 05-09, carol not on 05-10: 1/2. Before (04-30 .. 05-01):
    # alice (04-30) back on 05-07: 1/1; the 05-01 cohort is empty (no ratio).
    check(got.d7_retention, 0.5, 1.0, [1.0, 0.0])
    assert got.d7_retention.previous_from == "2024-04-30"
    # Revenue: 05-09 alice 30; 05-10 bob 20 + frank 100 (hank's "abc" is not a number) = 150; before: carol
    # "10" + dave 50 = 60. ARPU: 150 / 5 active persons (alice, bob, erin, frank, hank); 60 / 4 (alice, carol,
    # dave, erin). Daily ARPU: 30 / 3, 120 / 4.
    check(got.revenue, 150, 60, [30, 120])
    check(got.arpu, 30, 15, [10, 30])
    # Funnel pageview -> purchase within 1 day. Now: alice, bob (21 h), frank (23 h, through the merge), hank
    # convert, erin does not: 4/5. Before: alice, dave (25 h: outside the window), carol (converts), erin: 1/4.
    # Daily by entry day: 05-09 alice, bob, frank all convert; 05-10 erin no, hank yes.
    check(got.funnel_conversion, 0.8, 0.25, [1.0, 0.5])
    assert got.funnel == PAGEVIEW_TO_PURCHASE and not got.funnel_detected


def test_default_funnel_is_detected_from_the_events(engine: Engine, tmp_path: Path) -> None:
    # No funnel configured: `$any` -> the most common conversion-like event, `purchase` (5 events; `signup`
    # has 1). With `$any` as step 1 every person with an event before a purchase in the window converts:
    # now alice, bob, frank, hank (4 of the 5 active); before carol only (dave's last event before his
    # purchase is 25 h earlier): 1 of 4.
    got = report(engine, shop_log(), tmp_path, KpiConfig(), days=2)
    assert got.funnel_detected
    assert got.funnel is not None and [s.event for s in got.funnel.steps] == ["$any", "purchase"]
    check(got.funnel_conversion, 0.8, 0.25, [1.0, 0.5])


def test_no_conversion_event_and_an_empty_project(engine: Engine, tmp_path: Path) -> None:
    log = EventLog().add("a", "pageview", "2024-05-10T10:00")
    got = report(engine, log, tmp_path, KpiConfig(), days=1)
    assert got.funnel is None and got.funnel_conversion.value is None
    check(got.dau, 1, 0, [1])
    assert got.dau.change_percent is None  # from 0: no percentage
    empty = report(engine, EventLog(), tmp_path, KpiConfig(), days=7)
    assert empty.new_persons.value == 0 and empty.d1_retention.value is None and empty.arpu.value is None
    assert empty.revenue.value == 0 and len(empty.revenue.series) == 7


def test_explicit_date_to_reports_today_separately(engine: Engine, tmp_path: Path) -> None:
    got = report(engine, shop_log(), tmp_path, KpiConfig(), days=2, date_to=dt.date(2024, 5, 8))
    assert (got.date_from, got.date_to) == ("2024-05-07", "2024-05-08")
    # DAU 05-07: 2, 05-08: 3; before: 05-05 nobody, 05-06 dave: (0 + 1) / 2.
    check(got.dau, 2.5, 0.5, [2, 3])
    assert got.dau_today == 2


def test_indicators_agree_with_other_kinds(engine: Engine, tmp_path: Path) -> None:
    # A random log; each indicator is checked against a different analysis kind computing the same thing.
    rng = random.Random(7)
    log = EventLog()
    start = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
    # 150 persons arriving over 41 days, each with a few events in the 10 days after arriving, so that every
    # day has new persons and some of them come back on day 1 and day 7.
    for n in range(150):
        arrival = start + dt.timedelta(minutes=rng.randrange(41 * 24 * 60))
        for k in range(rng.randrange(1, 6)):
            when = arrival + dt.timedelta(minutes=k and rng.randrange(10 * 24 * 60))
            event = rng.choice(["pageview", "pageview", "signup", "purchase"])
            log.add(f"p{n}", event, when, revenue=rng.randrange(1, 50))
    ctx = ProjectContext(engine.load(log), "Asia/Shanghai", "monday", TODAY)
    got = compute_kpis(engine.store, ctx, settings(tmp_path), KpiConfig(), KpiOptions(days=7))

    def run(query: dict[str, Any]) -> Any:
        return execute_query(engine.store, ctx, query, settings(tmp_path))

    period = {"date_from": got.date_from, "date_to": got.date_to}
    # New persons = lifecycle's "new" by day (first active day ever).
    lifecycle = run({"kind": "lifecycle", **period})
    assert got.new_persons.series == lifecycle.new
    # DAU by day and active persons over the 7 days (= WAU on the last day) from trends.
    persons = run({"kind": "trends", **period, "series": [{"event": "$any", "math": "persons"}]}).series[0]
    assert got.dau.series == persons.values
    assert got.wau.value == persons.total
    # New persons, D1 and D7 from a plain-Python reading of the log: local days of each person's events.
    zone = ZoneInfo("Asia/Shanghai")
    days_of: dict[str, set[dt.date]] = defaultdict(set)
    for person, _, at, _ in log.resolved():
        days_of[person].add(at.astimezone(zone).date())
    first = {person: min(days) for person, days in days_of.items()}

    def retained(k: int, start: str, end: str) -> float | None:
        cohort = [p for p, day in first.items() if dt.date.fromisoformat(start) <= day <= dt.date.fromisoformat(end)]
        back = [p for p in cohort if first[p] + dt.timedelta(days=k) in days_of[p]]
        return len(back) / len(cohort) if cohort else None

    span = (dt.date.fromisoformat(got.date_from), dt.date.fromisoformat(got.date_to))
    assert got.new_persons.value == sum(1 for day in first.values() if span[0] <= day <= span[1])
    for k, indicator in ((1, got.d1_retention), (7, got.d7_retention)):
        assert indicator.value is not None and indicator.previous is not None  # the check is not vacuous
        assert indicator.value == pytest.approx(retained(k, indicator.date_from, indicator.date_to))
        assert indicator.previous == pytest.approx(retained(k, indicator.previous_from, indicator.previous_to))
    # Funnel conversion: the funnel kind run on each period by itself.
    assert got.funnel is not None
    steps = [s.model_dump() for s in got.funnel.steps]
    window = got.funnel.window.model_dump()
    for value, start, end in (
        (got.funnel_conversion.value, got.date_from, got.date_to),
        (got.funnel_conversion.previous, got.previous_from, got.previous_to),
    ):
        funnel = run({"kind": "funnel", "steps": steps, "window": window, "date_from": start, "date_to": end})
        assert value == funnel.steps[-1].conversion_from_first
    # Revenue from trends' sum; ARPU = revenue / active persons.
    money = run({"kind": "trends", **period, "series": [{"event": "purchase", "math": "sum", "property": "revenue"}]})
    assert got.revenue.value == pytest.approx(money.series[0].total)
    assert got.arpu.value == pytest.approx(money.series[0].total / persons.total)


def test_conversion_event_is_the_most_common_conversion_like_name() -> None:
    counts = {
        "$pageview": 900,
        "sign_up_started": 400,  # a started step is not a conversion
        "add_to_cart": 300,  # nor is a cart
        "signed_up": 120,
        "Order Completed": 120,  # ties: by name ("Order Completed" < "signed_up")
        "purchase": 80,
        "checkout_started": 200,
    }
    assert conversion_event(counts) == "Order Completed"
    assert conversion_event({**counts, "purchase": 121}) == "purchase"
    assert conversion_event({"$pageview": 5, "content_viewed": 3}) is None
