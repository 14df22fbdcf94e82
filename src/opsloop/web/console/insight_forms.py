"""Insight forms: the GET parameters of an insight page as a query object, and the page's choices.

A plain GET form keeps every insight page shareable by URL and usable without JavaScript. Parameters are
read into a query object (a dict) without judging it: the query registry validates it and names the field at
fault, so a wrong value reaches the person as "intervals: must be a whole number ...", never as a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, Literal

from opsloop.analytics.common import ANY_EVENT
from opsloop.web.console.rendering import N_

RangePreset = Literal["last_7", "last_30", "last_90", "this_month", "custom"]
RANGE_PRESETS: dict[str, str] = {
    "last_7": N_("Last 7 days"),
    "last_30": N_("Last 30 days"),
    "last_90": N_("Last 90 days"),
    "this_month": N_("This month"),
    "custom": N_("Custom range"),
}


@dataclass(frozen=True)
class InsightKind:
    """An insight page: the query kind, its label and a one-line explanation (both translated when shown)."""

    kind: str
    label: str
    summary: str
    has_range: bool = True
    has_filters: bool = True
    has_breakdown: bool = False


INSIGHT_KINDS: dict[str, InsightKind] = {
    k.kind: k
    for k in [
        InsightKind("trends", N_("Trends"), N_("How often events happen over time."), has_breakdown=True),
        InsightKind("active_users", N_("Active users"), N_("Daily, weekly and monthly active persons.")),
        InsightKind("stickiness", N_("Stickiness"), N_("How many days (or hours, weeks) persons come back.")),
        InsightKind(
            "retention", N_("Retention"), N_("Of the persons who started, how many came back."), has_breakdown=True
        ),
        InsightKind("funnel", N_("Funnels"), N_("How many persons go through steps in order."), has_breakdown=True),
        InsightKind("paths", N_("Paths"), N_("The routes persons take from or to an event.")),
        InsightKind("lifecycle", N_("Lifecycle"), N_("New, returning, resurrecting and dormant persons.")),
        InsightKind("distribution", N_("Frequency"), N_("Persons by how many times they did an event.")),
        InsightKind("growth", N_("Growth"), N_("Growth accounting: new, retained, resurrected and churned.")),
        InsightKind(
            "sql",
            N_("SQL query"),
            N_("Any read-only SELECT over events and persons."),
            has_range=False,
            has_filters=False,
        ),
    ]
}

TREND_MATHS: dict[str, str] = {
    "total": N_("Total events"),
    "persons": N_("Unique persons"),
    "per_person_avg": N_("Events per person"),
    "sum": N_("Sum of property"),
    "avg": N_("Average of property"),
    "min": N_("Minimum of property"),
    "max": N_("Maximum of property"),
    "median": N_("Median of property"),
    "p90": N_("90th percentile of property"),
}
FILTER_OPS: dict[str, str] = {
    "eq": N_("equals"),
    "neq": N_("does not equal"),
    "contains": N_("contains"),
    "in": N_("is one of (comma separated)"),
    "gt": N_("greater than"),
    "gte": N_("at least"),
    "lt": N_("less than"),
    "lte": N_("at most"),
    "is_set": N_("is set"),
    "is_not_set": N_("is not set"),
}
PROPERTY_TYPES: dict[str, str] = {"event": N_("Event property"), "person": N_("Person property")}
INTERVALS: dict[str, str] = {"hour": N_("Hour"), "day": N_("Day"), "week": N_("Week"), "month": N_("Month")}
WINDOWS: dict[str, str] = {"range": N_("Whole range"), "week": N_("Week"), "month": N_("Month")}
ORDERS: dict[str, str] = {"ordered": N_("In order"), "strict": N_("Strictly in order"), "unordered": N_("Any order")}
RETENTION_TYPES: dict[str, str] = {"first_time": N_("First time"), "recurring": N_("Recurring")}
TIME_UNITS: dict[str, str] = {
    "minute": N_("Minutes"),
    "hour": N_("Hours"),
    "day": N_("Days"),
    "week": N_("Weeks"),
}
DISPLAYS: dict[str, str] = {"line": N_("Lines"), "bar": N_("Bars")}
#: Table headers: the tidy rows' column names (kept as they are in the CSV) and what they mean.
COLUMN_LABELS: dict[str, str] = {
    "date": N_("Date"),
    "label": N_("Label"),
    "breakdown_value": N_("Breakdown value"),
    "compare": N_("Compared range"),
    "value": N_("Value"),
    "dau": "DAU",
    "wau": "WAU",
    "mau": "MAU",
    "dau_mau": "DAU / MAU",
    "units": N_("Active units"),
    "persons": N_("Persons"),
    "size": N_("Cohort size"),
    "period": N_("Period"),
    "count": N_("Persons"),
    "step": N_("Step"),
    "event": N_("Event"),
    "conversion_from_first": N_("Conversion from first step"),
    "conversion_from_previous": N_("Conversion from previous step"),
    "median_seconds_to_convert": N_("Median seconds to convert"),
    "mean_seconds_to_convert": N_("Mean seconds to convert"),
    "source": N_("From"),
    "target": N_("To"),
    "new": N_("New"),
    "returning": N_("Returning"),
    "resurrecting": N_("Resurrecting"),
    "dormant": N_("Dormant"),
    "min": N_("At least (times)"),
    "max": N_("At most (times)"),
    "active": N_("Active"),
    "retained": N_("Retained"),
    "resurrected": N_("Resurrected"),
    "churned": N_("Churned"),
    "churn_rate": N_("Churn rate"),
    "growth_rate": N_("Growth rate"),
    "quick_ratio": N_("Quick ratio"),
}
YES_NO: dict[str, str] = {"yes": N_("Yes, merge"), "no": N_("No, keep each")}
DEFAULT_SQL = "select event, count(*) as events\nfrom events\ngroup by event\norder by events desc\nlimit 20"


class Params:
    """The page's query string: single values and repeated ones."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self.items = list(items)

    def get(self, name: str, default: str = "") -> str:
        """The last value of a parameter, trimmed ("" when absent)."""
        values = self.all(name)
        return values[-1].strip() if values else default

    def all(self, name: str) -> list[str]:
        """Every value of a repeated parameter, in order."""
        return [v for k, v in self.items if k == name]

    def flag(self, name: str) -> bool:
        """A checkbox: present and not "0"/"false"."""
        return self.get(name) not in ("", "0", "false")


def _number(text: str) -> int | float | str:
    """A number when the text is one; the text itself otherwise (the validator then names the field)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _typed(text: str, value_type: str | None) -> Any:
    """A filter value as the catalogue's type of the property says (numbers, booleans), else text."""
    if value_type == "number":
        return _number(text)
    if value_type == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


#: Days before today that a "last N days" preset starts (today included).
PRESET_DAYS = {"last_7": 6, "last_30": 29, "last_90": 89}


def preset_dates(preset: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last day of a preset (None for `custom` and names that are no preset)."""
    if preset in PRESET_DAYS:
        return today - dt.timedelta(days=PRESET_DAYS[preset]), today
    if preset == "this_month":
        return today.replace(day=1), today
    return None


def range_dates(preset: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The dates of a preset (last 30 days is the queries' own default: no dates, so saved ones stay relative)."""
    if preset == "last_30":
        return None, None
    return preset_dates(preset, today) or (None, None)


def _filters(params: Params, types: Mapping[tuple[str, str], str]) -> list[dict[str, Any]]:
    rows = zip_longest(
        params.all("filter_property"),
        params.all("filter_type"),
        params.all("filter_op"),
        params.all("filter_value"),
        fillvalue="",
    )
    out: list[dict[str, Any]] = []
    for prop, ptype, op, raw in rows:
        prop, raw = prop.strip(), raw.strip()
        if not prop:
            continue  # an empty row the person added and left blank
        value: Any
        if op in ("is_set", "is_not_set"):
            value = None
        elif op == "in":
            value = [_typed(v.strip(), types.get((ptype, prop))) for v in raw.split(",") if v.strip()]
        elif op in ("gt", "gte", "lt", "lte"):
            value = _number(raw)
        else:
            value = _typed(raw, types.get((ptype, prop)))
        out.append({"property": prop, "type": ptype or "event", "op": op or "eq", "value": value})
    return out


def _breakdown(params: Params) -> dict[str, Any] | None:
    prop = params.get("breakdown")
    return {"property": prop, "type": params.get("breakdown_type", "event") or "event"} if prop else None


def _event(params: Params, name: str = "event") -> str:
    return params.get(name) or ANY_EVENT


def _kind_fields(kind: str, params: Params) -> dict[str, Any]:
    """The fields of one kind, read from its own parameters."""
    if kind == "trends":
        series = []
        for event, math, prop in zip_longest(
            params.all("series_event"), params.all("series_math"), params.all("series_property"), fillvalue=""
        ):
            if not event.strip():
                continue
            line: dict[str, Any] = {"event": event.strip(), "math": math or "total"}
            if prop.strip():
                line["property"] = prop.strip()
            series.append(line)
        fields: dict[str, Any] = {"series": series, "interval": params.get("interval", "day") or "day"}
        if params.get("formula"):
            fields["formula"] = params.get("formula")
        if params.flag("compare_previous"):
            fields["compare_previous"] = True
        return fields
    if kind == "active_users":
        return {"event": _event(params)}
    if kind == "stickiness":
        return {
            "event": _event(params),
            "interval": params.get("interval") or "day",
            "period": params.get("period") or "range",
            "cumulative": params.flag("cumulative"),
        }
    if kind == "retention":
        return {
            "start_event": _event(params, "start_event"),
            "return_event": _event(params, "return_event"),
            "period": params.get("period") or "day",
            "intervals": _number(params.get("intervals") or "8"),
            "retention_type": params.get("retention_type") or "first_time",
            "cumulative": params.flag("cumulative"),
        }
    if kind == "funnel":
        return {
            "steps": [{"event": s.strip()} for s in params.all("step") if s.strip()],
            "window": {
                "value": _number(params.get("window_value") or "14"),
                "unit": params.get("window_unit") or "day",
            },
            "order": params.get("order") or "ordered",
        }
    if kind == "paths":
        fields = {"steps": _number(params.get("steps") or "5"), "collapse_repeats": params.get("collapse") != "no"}
        for name in ("start_event", "end_event"):
            if params.get(name):
                fields[name] = params.get(name)
        excluded = [e.strip() for e in params.get("exclude_events").split(",") if e.strip()]
        if excluded:
            fields["exclude_events"] = excluded
        return fields
    if kind in ("lifecycle", "growth"):
        return {"event": _event(params), "interval": params.get("interval") or ("week" if kind == "growth" else "day")}
    if kind == "distribution":
        return {"event": _event(params), "per": params.get("per") or "range"}
    raise ValueError(f"unknown insight kind {kind!r}")


def query_from_params(
    kind: str, params: Params, today: dt.date, property_types: Mapping[tuple[str, str], str]
) -> dict[str, Any]:
    """The query object an insight form's parameters describe (not yet validated)."""
    if kind == "sql":
        return {"kind": "sql", "query": params.get("sql")}
    query: dict[str, Any] = {"kind": kind, **_kind_fields(kind, params)}
    preset = params.get("range") or "last_30"
    if preset == "custom":
        query["date_from"] = params.get("date_from") or None
        query["date_to"] = params.get("date_to") or None
    else:
        start, end = range_dates(preset, today)
        query["date_from"] = start.isoformat() if start else None
        query["date_to"] = end.isoformat() if end else None
    query["filters"] = _filters(params, property_types)
    breakdown = _breakdown(params)
    if breakdown and INSIGHT_KINDS[kind].has_breakdown:
        query["breakdown"] = breakdown
    return query


def preset_of(query: Mapping[str, Any], today: dt.date) -> str:
    """Which preset a query's dates are (for a shared query opened later: `custom` unless they match)."""
    dates = (query.get("date_from"), query.get("date_to"))
    if dates == (None, None):
        return "last_30"
    for preset in ("last_7", "last_90", "this_month"):
        start, end = range_dates(preset, today)
        if dates == (start.isoformat() if start else None, end.isoformat() if end else None):
            return preset
    return "custom"


def default_query(kind: str, top_events: Sequence[str]) -> dict[str, Any] | None:
    """What a page shows before the person builds anything (None: nothing sensible to run yet)."""
    if kind == "sql":
        return {"kind": "sql", "query": DEFAULT_SQL}
    if kind == "trends":
        return {"kind": "trends", "series": [{"event": top_events[0] if top_events else ANY_EVENT, "math": "total"}]}
    if kind == "retention":
        return {"kind": "retention", "start_event": ANY_EVENT, "return_event": ANY_EVENT}
    if kind == "funnel":
        if len(top_events) < 2:
            return None
        return {"kind": "funnel", "steps": [{"event": top_events[0]}, {"event": top_events[1]}]}
    return {"kind": kind}


def form_values(query: Mapping[str, Any]) -> dict[str, Any]:
    """A query object with every field a form shows present (lists never missing), for the template."""
    values = dict(query)
    values.setdefault("filters", [])
    if values.get("kind") == "funnel":
        steps = list(values.get("steps") or [])
        while len(steps) < 2:
            steps.append({"event": ""})
        values["steps"] = steps
        values.setdefault("window", {"value": 14, "unit": "day"})
    if values.get("kind") == "trends" and not values.get("series"):
        values["series"] = [{"event": "", "math": "total"}]
    return values
