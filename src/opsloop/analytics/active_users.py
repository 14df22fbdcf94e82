"""Active users: daily, rolling weekly and rolling monthly active persons, and DAU / MAU, per local day.

A person is active on a local day when they did the event (with the filters) on it. For each day `d` of the
range: `dau` counts the persons active on `d`, `wau` those active on any of the 7 days `d-6 .. d`, `mau` any
of the 30 days `d-29 .. d` (windows reach back before `date_from`), and `dau_mau = dau / mau`.

One statement does it. A rolling distinct count per day is expensive, so it is rewritten: take the distinct
(person, day) pairs and, per pair, the gap in days since the person's previous active day (`lag`). A person
counts in the `w`-day window ending on `D` exactly once, for their last active day `n` in it; that day is
`k = D - n` days back (`0 <= k < w`), and no later day is in the window, so the pair's gap is at least `w - k`.
The engine returns the number of pairs per (day, gap capped at 30); summing those counts per window is then
a few thousand additions in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from itertools import accumulate
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import ANY_EVENT, RangeQuery, check_name
from opsloop.analytics.runner import Analysis, Fetch, cte_query, ratio
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import resolve_span

#: Rolling window lengths, in days.
WEEK_DAYS = 7
MONTH_DAYS = 30
#: The day `Dialect.date_number` counts from.
EPOCH = dt.date(1970, 1, 1)


class ActiveEventQuery(RangeQuery):
    """A range query about one event (or any event) that makes a person active."""

    event: str = Field(ANY_EVENT, description=f"the event that makes a person active (`{ANY_EVENT}`: any event)")

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return check_name(value, "event")


class ActiveUsersQuery(ActiveEventQuery):
    """Active users: DAU, rolling 7-day WAU, rolling 30-day MAU and DAU / MAU per local day."""

    kind: Literal["active_users"] = "active_users"


class ActiveUsersResult(TableResult):
    """Lists aligned with `dates` (every local day of the range); `dau_mau` is null when `mau` is 0."""

    dates: list[str]
    dau: list[int]
    wau: list[int]
    mau: list[int]
    dau_mau: list[float | None]

    def rows(self) -> list[dict[str, Any]]:
        """One row per day: date, dau, wau, mau, dau_mau."""
        return [
            {"date": d, "dau": a, "wau": w, "mau": m, "dau_mau": r}
            for d, a, w, m, r in zip(self.dates, self.dau, self.wau, self.mau, self.dau_mau, strict=True)
        ]


def gaps_statement(query: ActiveUsersQuery, builder: QueryBuilder) -> exp.Select:
    """Distinct (person, local day) pairs from 29 days before the range to its end, counted per day `n` (days
    since 1970-01-01) and `gap` (days since the person's previous active day; 30 when none or 30 or more).
    Columns `n`, `gap`, `persons`."""
    ctx = builder.ctx
    span = resolve_span(ctx, query.date_from, query.date_to)
    first = ctx.local_midnight(span.date_from - dt.timedelta(days=MONTH_DAYS - 1))
    late = builder.resolves_late(query.filters)
    events = builder.events(
        first, span.end, events=[query.event], filters=query.filters, resolve_persons=not late, hourly=True
    )
    number = builder.dialect.date_number(builder.bucket("day"), "day")
    days = exp.select(col(PERSON), exp.alias_(number, "n")).from_("ev")
    listed = False
    if late:
        # Distinct days per stored person first; only those are resolved through identity merges.
        days, listed = builder.resolve_values_later(days, "n")
    pairs = builder.dialect.previous_values(days, PERSON, "n", listed)
    since = exp.Sub(this=exp.column("v"), expression=exp.column("pv"))
    gap = exp.func("least", exp.func("coalesce", since, num(MONTH_DAYS)), num(MONTH_DAYS))
    counts = (
        exp.select(
            exp.alias_(exp.column("v"), "n"), exp.alias_(gap, "gap"), exp.alias_(exp.Count(this=exp.Star()), "persons")
        )
        .from_(pairs.subquery("pairs"))
        .group_by(exp.column("v"), exp.column("gap"))
    )
    return cte_query([("ev", events)], counts)


def rolling_counts(pairs: dict[dt.date, list[int]], days: list[dt.date], window: int) -> list[int]:
    """Persons active in the `window` days ending on each day, from `pairs[day][gap]` (gap 1..30) counts.

    A pair `k` days before the window's last day is the person's last active day in the window exactly
    when its gap is at least `window - k`."""
    # at_least[day][g]: pairs of that day with a gap of g days or more.
    at_least = {day: list(accumulate(reversed(by_gap)))[::-1] for day, by_gap in pairs.items()}
    out = []
    for day in days:
        total = 0
        for back in range(window):
            found = at_least.get(day - dt.timedelta(days=back))
            if found is not None:
                total += found[window - back]
        out.append(total)
    return out


def compute_active_users(query: ActiveUsersQuery, builder: QueryBuilder, fetch: Fetch) -> ActiveUsersResult:
    """Run an active-users query."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    # pairs[day][gap]: index 1..30 (index 0 unused: a gap is at least one day).
    pairs: dict[dt.date, list[int]] = defaultdict(lambda: [0] * (MONTH_DAYS + 1))
    for row in fetch.rows(gaps_statement(query, builder)):
        pairs[EPOCH + dt.timedelta(days=int(row["n"]))][int(row["gap"])] += int(row["persons"])
    days = [span.date_from + dt.timedelta(days=i) for i in range(span.days)]
    dau = [sum(pairs[d]) if d in pairs else 0 for d in days]
    wau = rolling_counts(pairs, days, WEEK_DAYS)
    mau = rolling_counts(pairs, days, MONTH_DAYS)
    return ActiveUsersResult(
        dates=[d.isoformat() for d in days],
        dau=dau,
        wau=wau,
        mau=mau,
        dau_mau=[ratio(a, m) for a, m in zip(dau, mau, strict=True)],
    )


ANALYSES: dict[str, Analysis[Any, Any]] = {
    "active_users": Analysis(ActiveUsersQuery, ActiveUsersResult, compute_active_users)
}
