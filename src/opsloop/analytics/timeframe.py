"""Time in a project's timezone: the UTC bounds of a local date range and the buckets inside it."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from opsloop.analytics.common import Interval

_EPOCH = dt.date(1970, 1, 1)

if TYPE_CHECKING:
    from opsloop.analytics.builder import SegmentSource

WeekStart = Literal["monday", "sunday"]
#: How far back a query may look before `date_from` (rolling MAU, lifecycle's previous period).
_DAYS_PER_MONTH = 31


@dataclass(frozen=True)
class ProjectContext:
    """What a query needs to know about its project: id, timezone, first day of the week and today."""

    project_id: int
    timezone: str = "UTC"
    week_start: WeekStart = "monday"
    today: dt.date | None = None
    #: Where filters and breakdowns of type `segment` find the project's saved segments (None: not available).
    segments: SegmentSource | None = field(default=None, compare=False, repr=False)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The project's timezone."""
        return zoneinfo.ZoneInfo(self.timezone)

    def local_today(self) -> dt.date:
        """Today in the project's timezone (or the date the context was made for)."""
        return self.today or dt.datetime.now(self.zone).date()

    def local_midnight(self, day: dt.date) -> dt.datetime:
        """The UTC instant at which a local day starts (DST-aware: a day may last 23 or 25 hours)."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(dt.UTC)


@dataclass(frozen=True)
class DateSpan:
    """An inclusive local date range and the half-open UTC interval `[start, end)` it covers."""

    date_from: dt.date
    date_to: dt.date
    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        """Number of days in the range."""
        return (self.date_to - self.date_from).days + 1


def resolve_span(ctx: ProjectContext, date_from: dt.date | None, date_to: dt.date | None) -> DateSpan:
    """The query's range with defaults filled in: the last 30 days, today included."""
    to = date_to or ctx.local_today()
    start = date_from or (to - dt.timedelta(days=29))
    if start > to:
        raise ValueError(f"date_from ({start}) is after date_to ({to})")
    return span_of(ctx, start, to)


def span_of(ctx: ProjectContext, date_from: dt.date, date_to: dt.date) -> DateSpan:
    """The span of an explicit inclusive local date range."""
    return DateSpan(date_from, date_to, ctx.local_midnight(date_from), ctx.local_midnight(date_to + dt.timedelta(1)))


def period_start(day: dt.date, interval: Interval, week_start: WeekStart) -> dt.date:
    """The first local day of the day / week / month bucket holding `day`."""
    if interval == "week":
        offset = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
        return day - dt.timedelta(days=offset)
    if interval == "month":
        return day.replace(day=1)
    return day


def next_period(start: dt.date, interval: Interval) -> dt.date:
    """The first day of the bucket after the one starting on `start`."""
    if interval == "week":
        return start + dt.timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def period_number(day: dt.date, interval: Interval) -> int:
    """`Dialect.date_number` of a bucket's first day, in Python: days (months for `month`) since 1970-01-01."""
    if interval == "month":
        return (day.year - 1970) * 12 + day.month - 1
    return (day - _EPOCH).days


def period_of_number(number: int, interval: Interval) -> dt.date:
    """The first day of the bucket whose `Dialect.date_number` is `number` (the inverse of `period_number`)."""
    if interval == "month":
        return dt.date(1970 + number // 12, number % 12 + 1, 1)
    return _EPOCH + dt.timedelta(days=number)


def shift_periods(start: dt.date, interval: Interval, count: int) -> dt.date:
    """The first day of the bucket `count` buckets after (or before, if negative) the one starting on `start`."""
    if interval == "month":
        months = start.year * 12 + start.month - 1 + count
        return dt.date(months // 12, months % 12 + 1, 1)
    step = 7 if interval == "week" else 1
    return start + dt.timedelta(days=step * count)


def period_starts(span: DateSpan, interval: Interval, week_start: WeekStart) -> list[dt.date]:
    """The day / week / month buckets touching the range, by their first local day (the first may start
    before `date_from`: a week or month bucket is labelled by its own first day, but only counts events
    inside the range)."""
    if interval == "hour":
        raise ValueError("hour buckets are datetimes: use hour_starts")
    out: list[dt.date] = []
    day = period_start(span.date_from, interval, week_start)
    while day <= span.date_to:
        out.append(day)
        day = next_period(day, interval)
    return out


def hour_starts(ctx: ProjectContext, span: DateSpan) -> list[dt.datetime]:
    """The local clock hours of the range, as naive local datetimes. On the day clocks go back, the
    repeated hour is one bucket (it holds two real hours); on the day they go forward the skipped hour
    does not exist and has no bucket."""
    zone = ctx.zone
    out: list[dt.datetime] = []
    seen: set[dt.datetime] = set()
    instant = span.start
    while instant < span.end:
        local = instant.astimezone(zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        if local not in seen:
            seen.add(local)
            out.append(local)
        instant += dt.timedelta(hours=1)
    return out


def bucket_labels(ctx: ProjectContext, span: DateSpan, interval: Interval) -> list[str]:
    """The ISO labels of every bucket of the range, in order (`2024-05-01`, or `2024-05-01T13:00` for hours)."""
    if interval == "hour":
        return [h.isoformat(timespec="minutes") for h in hour_starts(ctx, span)]
    return [d.isoformat() for d in period_starts(span, interval, ctx.week_start)]


def lookback_days(interval: Interval, periods: int) -> int:
    """Days to read before a range so that `periods` whole buckets before it are included."""
    per = {"hour": 1, "day": 1, "week": 7, "month": _DAYS_PER_MONTH}[interval]
    return per * (periods + 1)
