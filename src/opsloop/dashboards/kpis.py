"""Home-dashboard indicators: new persons, DAU / WAU / MAU, D1 / D7 retention, core funnel conversion,
revenue and ARPU for a period and the period before it.

Every number comes from an analysis kind run through the query registry (`execute_query`), so each one means
exactly what docs/metrics.md says; docs/dashboards.md gives the recipe for each. Six queries, run side by side:
one `active_users` and one `retention` over both periods, two `trends` with `compare_previous` (revenue and
active persons), and one `funnel` per period (a person's best funnel attempt is chosen per range, so the two
periods cannot share a query).
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from opsloop.analytics.active_users import ActiveUsersQuery, ActiveUsersResult
from opsloop.analytics.common import ANY_EVENT, Model
from opsloop.analytics.funnels import FunnelOverTime, FunnelQuery, FunnelResult
from opsloop.analytics.retention import RetentionQuery, RetentionResult
from opsloop.analytics.runner import ratio
from opsloop.analytics.timeframe import ProjectContext
from opsloop.analytics.trends import TrendsLine, TrendsQuery, TrendsResult, TrendsSeries
from opsloop.config import Settings
from opsloop.dashboards.kpi_settings import CoreFunnel, KpiConfig, core_funnel, load_kpi_config
from opsloop.query.registry import execute_query
from opsloop.runtime import Runtime
from opsloop.store.events import EventStore

#: Longest period the home dashboard compares, in days.
MAX_DAYS = 90


class KpiOptions(Model):
    """Which period to report: `days` days ending on `date_to` (default: yesterday, the last whole local day)."""

    days: int = Field(7, ge=1, le=MAX_DAYS, description=f"length of the period in days (1 to {MAX_DAYS})")
    date_to: dt.date | None = Field(None, description="last day of the period (default: yesterday, project time)")


class Indicator(Model):
    """One indicator: its value over a period, the value over the period before, the change, and a daily series."""

    value: float | None
    previous: float | None
    change: float | None = Field(description="value - previous; null when either is null")
    change_percent: float | None = Field(description="change / previous * 100; null when previous is 0 or null")
    date_from: str = Field(description="first day the value covers (for retention: first cohort day)")
    date_to: str
    previous_from: str
    previous_to: str
    dates: list[str] = Field(description="days of the sparkline")
    series: list[float | None] = Field(description="the indicator per day, aligned with `dates`")


class KpiReport(Model):
    """The home dashboard's indicators for one project and period."""

    project_id: int
    timezone: str
    today: str
    days: int
    date_from: str
    date_to: str
    previous_from: str
    previous_to: str
    new_persons: Indicator
    dau: Indicator
    dau_today: int = Field(description="persons active today so far (project time)")
    wau: Indicator
    mau: Indicator
    dau_mau: Indicator
    d1_retention: Indicator
    d7_retention: Indicator
    funnel_conversion: Indicator
    revenue: Indicator
    arpu: Indicator
    funnel: CoreFunnel | None = Field(description="the core funnel reported (null: none configured or detected)")
    funnel_detected: bool = Field(description="true when the funnel was detected, not configured")
    purchase_event: str
    revenue_property: str
    seconds: float = Field(description="time taken to compute the report")


@dataclass(frozen=True)
class Window:
    """An inclusive local date range."""

    start: dt.date
    end: dt.date

    def days(self) -> list[dt.date]:
        """Every day of the window, in order."""
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def shifted(self, days: int) -> Window:
        """The window moved `days` days later (earlier when negative)."""
        step = dt.timedelta(days=days)
        return Window(self.start + step, self.end + step)


def _indicator(
    value: float | None, previous: float | None, cur: Window, prev: Window, series: dict[dt.date, float | None]
) -> Indicator:
    change = None if value is None or previous is None else value - previous
    percent = None if change is None or not previous else change / previous * 100
    return Indicator(
        value=value,
        previous=previous,
        change=change,
        change_percent=percent,
        date_from=cur.start.isoformat(),
        date_to=cur.end.isoformat(),
        previous_from=prev.start.isoformat(),
        previous_to=prev.end.isoformat(),
        dates=[d.isoformat() for d in series],
        series=list(series.values()),
    )


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def activity_indicators(
    au: ActiveUsersResult, cur: Window, prev: Window
) -> tuple[Indicator, Indicator, Indicator, Indicator]:
    """DAU (daily average), WAU and MAU (on the last day), DAU/MAU (daily average) from one active_users result."""
    day = {dt.date.fromisoformat(d): i for i, d in enumerate(au.dates)}

    def pick(values: list[Any], window: Window) -> dict[dt.date, Any]:
        return {d: values[day[d]] for d in window.days()}

    def avg(values: list[Any]) -> Indicator:
        now, before = pick(values, cur), pick(values, prev)
        return _indicator(_mean(list(now.values())), _mean(list(before.values())), cur, prev, now)

    def last(values: list[int]) -> Indicator:
        now = pick(values, cur)
        return _indicator(now[cur.end], values[day[prev.end]], cur, prev, now)

    return avg(au.dau), last(au.wau), last(au.mau), avg(au.dau_mau)


def retention_indicators(result: RetentionResult, cur: Window, prev: Window) -> tuple[Indicator, Indicator, Indicator]:
    """New persons (cohort sizes), D1 and D7 retention from one first-time `$any` retention result by day."""
    cohorts = {dt.date.fromisoformat(c.date): c for c in result.cohorts if c.breakdown_value is None}

    def sizes(window: Window) -> dict[dt.date, float | None]:
        return {d: float(cohorts[d].size) if d in cohorts else 0.0 for d in window.days()}

    now, before = sizes(cur), sizes(prev)
    new = _indicator(sum(v or 0 for v in now.values()), sum(v or 0 for v in before.values()), cur, prev, now)

    def day_k(k: int) -> Indicator:
        # Cohorts whose day k has ended by the end of the period: the same number of days, k days earlier.
        window_now, window_before = cur.shifted(-k), prev.shifted(-k)

        def rate(window: Window) -> tuple[float | None, dict[dt.date, float | None]]:
            members = [cohorts[d] for d in window.days() if d in cohorts]
            size = sum(c.size for c in members)
            back = sum(c.counts[k] for c in members if len(c.counts) > k)
            daily = {
                d: ratio(cohorts[d].counts[k], cohorts[d].size) if d in cohorts and len(cohorts[d].counts) > k else None
                for d in window.days()
            }
            return ratio(back, size), daily

        value, daily = rate(window_now)
        previous, _ = rate(window_before)
        return _indicator(value, previous, window_now, window_before, daily)

    return new, day_k(1), day_k(7)


def _line(result: TrendsResult, compare: str) -> TrendsLine:
    return next(s for s in result.series if s.compare == compare)


def money_indicators(
    revenue_result: TrendsResult, active_result: TrendsResult, cur: Window, prev: Window
) -> tuple[Indicator, Indicator]:
    """Revenue (sum of the revenue property) and ARPU (revenue / active persons) from two trends results."""
    revenue, revenue_before = _line(revenue_result, "current"), _line(revenue_result, "previous")
    active, active_before = _line(active_result, "current"), _line(active_result, "previous")
    days = [dt.date.fromisoformat(d) for d in revenue.dates]
    money = _indicator(revenue.total, revenue_before.total, cur, prev, dict(zip(days, revenue.values, strict=True)))
    daily_arpu = {d: ratio(r or 0, a or 0) for d, r, a in zip(days, revenue.values, active.values, strict=True)}
    arpu = _indicator(
        ratio(revenue.total or 0, active.total or 0),
        ratio(revenue_before.total or 0, active_before.total or 0),
        cur,
        prev,
        daily_arpu,
    )
    return money, arpu


def _funnel_query(funnel: CoreFunnel, window: Window) -> FunnelQuery:
    return FunnelQuery(
        steps=funnel.steps,
        window=funnel.window,
        order=funnel.order,
        date_from=window.start,
        date_to=window.end,
        over_time=FunnelOverTime(interval="day"),
    )


def funnel_indicator(now: FunnelResult | None, before: FunnelResult | None, cur: Window, prev: Window) -> Indicator:
    """Conversion from the first to the last step in each period; the daily series is by day of entry."""

    def conversion(result: FunnelResult | None) -> float | None:
        return None if result is None else result.steps[-1].conversion_from_first

    daily: dict[dt.date, float | None] = dict.fromkeys(cur.days())
    for period in (now.over_time or []) if now else []:
        daily[dt.date.fromisoformat(period.date)] = period.conversion
    return _indicator(conversion(now), conversion(before), cur, prev, daily)


def kpi_queries(
    config: KpiConfig, funnel: CoreFunnel | None, cur: Window, prev: Window, today: dt.date
) -> dict[str, Any]:
    """The analysis queries behind the indicators, by name (see the module docstring)."""
    # Active users over both periods, and today too when it is the next day (the default), in one query.
    au_end = today if cur.end < today and (today - cur.end).days == 1 else cur.end
    queries: dict[str, Any] = {"active_users": ActiveUsersQuery(date_from=prev.start, date_to=au_end)}
    if not prev.start <= today <= au_end:
        queries["today"] = ActiveUsersQuery(date_from=today, date_to=today)
    # First-time cohorts of any event by day: sizes are new persons; day 1 and day 7 counts are D1 and D7.
    queries["retention"] = RetentionQuery(
        start_event=ANY_EVENT,
        return_event=ANY_EVENT,
        period="day",
        intervals=8,
        date_from=prev.start - dt.timedelta(days=7),
        date_to=cur.end,
    )
    # Two trends queries, not one with two series: the engine answers a `sum` and a `persons` series 2-3x
    # faster apart than together (measured on the demo data).
    queries["revenue"] = TrendsQuery(
        date_from=cur.start,
        date_to=cur.end,
        compare_previous=True,
        series=[TrendsSeries(event=config.purchase_event, math="sum", property=config.revenue_property)],
    )
    queries["active"] = TrendsQuery(
        date_from=cur.start,
        date_to=cur.end,
        compare_previous=True,
        series=[TrendsSeries(event=ANY_EVENT, math="persons")],
    )
    if funnel is not None:
        queries["funnel"] = _funnel_query(funnel, cur)
        queries["funnel_previous"] = _funnel_query(funnel, prev)
    return queries


def run_queries(store: EventStore, ctx: ProjectContext, settings: Settings, queries: dict[str, Any]) -> dict[str, Any]:
    """Run independent queries at the same time (each engine call is thread-safe); results by name."""
    with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="kpis") as pool:
        futures = {name: pool.submit(execute_query, store, ctx, query, settings) for name, query in queries.items()}
        return {name: future.result() for name, future in futures.items()}


def compute_kpis(
    store: EventStore, ctx: ProjectContext, settings: Settings, config: KpiConfig, options: KpiOptions | None = None
) -> KpiReport:
    """The home dashboard's indicators for a project: the period and the one before, through the query kinds."""
    started = time.perf_counter()
    options = options or KpiOptions()
    today = ctx.local_today()
    end = options.date_to or today - dt.timedelta(days=1)
    n = options.days
    cur = Window(end - dt.timedelta(days=n - 1), end)
    prev = cur.shifted(-n)

    funnel, detected = core_funnel(config, store, ctx, settings)
    queries = kpi_queries(config, funnel, cur, prev, today)
    results = run_queries(store, ctx, settings, queries)

    au: ActiveUsersResult = results["active_users"]
    today_label = today.isoformat()
    today_au: ActiveUsersResult = results.get("today", au)
    dau_today = today_au.dau[today_au.dates.index(today_label)]
    dau, wau, mau, dau_mau = activity_indicators(au, cur, prev)
    new_persons, d1, d7 = retention_indicators(results["retention"], cur, prev)
    revenue, arpu = money_indicators(results["revenue"], results["active"], cur, prev)
    conversion = funnel_indicator(results.get("funnel"), results.get("funnel_previous"), cur, prev)

    return KpiReport(
        project_id=ctx.project_id,
        timezone=ctx.timezone,
        today=today.isoformat(),
        days=n,
        date_from=cur.start.isoformat(),
        date_to=cur.end.isoformat(),
        previous_from=prev.start.isoformat(),
        previous_to=prev.end.isoformat(),
        new_persons=new_persons,
        dau=dau,
        dau_today=dau_today,
        wau=wau,
        mau=mau,
        dau_mau=dau_mau,
        d1_retention=d1,
        d7_retention=d7,
        funnel_conversion=conversion,
        revenue=revenue,
        arpu=arpu,
        funnel=funnel,
        funnel_detected=detected,
        purchase_event=config.purchase_event,
        revenue_property=config.revenue_property,
        seconds=round(time.perf_counter() - started, 3),
    )


def project_kpis(runtime: Runtime, project_id: int, options: KpiOptions | None = None) -> KpiReport:
    """The home dashboard of a project with its saved KPI settings (`ProjectError` if there is no such project)."""
    ctx = runtime.project_context(project_id)
    config = load_kpi_config(runtime.metadata, project_id)
    return compute_kpis(runtime.store, ctx, runtime.settings, config, options)
