"""Insight charts: a typed result as a Plotly figure (traces and layout as JSON), drawn by static/insights.js.

Plotly reads a small HTML subset in labels (`<b>`, `<br>`, links), so every name that comes from events
(event names, property values) is HTML-escaped here and shows as the text it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import escape

from opsloop.analytics.active_users import ActiveUsersResult
from opsloop.analytics.distribution import DistributionResult
from opsloop.analytics.funnels import FunnelResult, FunnelStepResult
from opsloop.analytics.growth import GrowthResult
from opsloop.analytics.lifecycle import LifecycleResult
from opsloop.analytics.paths import PathsResult
from opsloop.analytics.retention import RetentionResult
from opsloop.analytics.stickiness import StickinessResult
from opsloop.analytics.tables import TableResult
from opsloop.analytics.trends import TrendsResult

Figure = dict[str, Any]
Gettext = Callable[[str], str]
#: The console's palette (accent first), then Plotly's.
COLOURS = ["#2456d3", "#e8833a", "#17803d", "#b42318", "#7c3aed", "#0e7490", "#a16207", "#be185d", "#475569"]
STATUS_COLOURS = {"new": "#2456d3", "returning": "#17803d", "resurrecting": "#e8833a", "dormant": "#b42318"}


def text(value: object) -> str:
    """A name from the data as Plotly label text (escaped; a missing value as "(none)")."""
    return str(escape("(none)" if value is None else str(value)))


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 56, "r": 24, "t": 16, "b": 48},
        "legend": {"orientation": "h", "y": -0.18},
        "hovermode": "closest",
        "colorway": COLOURS,
        "font": {"family": "system-ui, sans-serif", "size": 13},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
    }
    layout.update(extra)
    return layout


def _date_axis(dates: list[str]) -> dict[str, Any]:
    """A time axis with numeric dates, the same in every language (Plotly's own month names are English)."""
    hours = any("T" in d for d in dates)
    return {
        "type": "date",
        "tickformat": "%m-%d %H:%M" if hours else "%m-%d",
        "hoverformat": "%Y-%m-%d %H:%M" if hours else "%Y-%m-%d",
    }


def _trends(result: TrendsResult, _: Gettext, bars: bool = False) -> Figure:
    traces = []
    for line in result.series:
        name = text(line.label)
        if line.breakdown_value is not None:
            name = f"{name} · {text(line.breakdown_value)}"
        if line.compare == "previous":
            previous = _("previous period")
            name = f"{name} ({previous})"
        trace: dict[str, Any] = {"name": name, "x": line.dates, "y": line.values}
        if bars:
            trace.update(type="bar", opacity=0.55 if line.compare == "previous" else 1)
        else:
            trace.update(
                type="scatter", mode="lines+markers", line={"dash": "dot"} if line.compare == "previous" else {}
            )
        traces.append(trace)
    dates = result.series[0].dates if result.series else []
    layout = _layout(
        barmode="group", xaxis=_date_axis(dates), yaxis={"rangemode": "tozero", "title": {"text": _("Value")}}
    )
    return {"data": traces, "layout": layout}


def _active_users(result: ActiveUsersResult, _: Gettext) -> Figure:
    lines = [("DAU", result.dau), ("WAU", result.wau), ("MAU", result.mau)]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": name, "x": result.dates, "y": values} for name, values in lines
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "DAU / MAU",
            "x": result.dates,
            "y": result.dau_mau,
            "yaxis": "y2",
            "line": {"dash": "dot"},
        }
    )
    return {
        "data": data,
        "layout": _layout(
            xaxis=_date_axis(result.dates),
            yaxis={"rangemode": "tozero", "title": {"text": _("Persons")}},
            yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%", "rangemode": "tozero", "showgrid": False},
            margin={"l": 56, "r": 56, "t": 16, "b": 48},
        ),
    }


def _stickiness(result: StickinessResult, _: Gettext) -> Figure:
    data = [
        {
            "type": "bar",
            "name": period.date,
            "x": list(range(1, len(period.counts) + 1)),
            "y": period.counts,
        }
        for period in result.periods
    ]
    return {
        "data": data,
        "layout": _layout(
            barmode="group",
            showlegend=len(data) > 1,
            xaxis={"title": {"text": _("Active units (days, hours or weeks)")}, "dtick": 1},
            yaxis={"title": {"text": _("Persons")}},
        ),
    }


def _retention(result: RetentionResult, _: Gettext) -> Figure:
    # An empty cohort has no shares to show (the table still lists it).
    cohorts = [c for c in result.cohorts if c.size]
    width = max((len(c.counts) for c in cohorts), default=0)
    labels = []
    z: list[list[float | None]] = []
    shown: list[list[str]] = []
    for c in cohorts:
        name = c.date if c.breakdown_value is None else f"{c.date} · {text(c.breakdown_value)}"
        labels.append(f"{name} ({c.size})")
        row = [round(100 * n / c.size, 1) if c.size else None for n in c.counts]
        z.append(row + [None] * (width - len(row)))
        shown.append([f"{v:g}%" if v is not None else "" for v in z[-1]])
    period = _("Period")
    periods = [f"{period} {k}" for k in range(width)]
    trace = {
        "type": "heatmap",
        "x": periods,
        "y": labels,
        "z": z,
        "text": shown,
        "texttemplate": "%{text}",
        "hovertemplate": "%{y}<br>%{x}: %{z}%<extra></extra>",
        "colorscale": [[0, "#eef3fd"], [1, "#2456d3"]],
        "zmin": 0,
        "zmax": 100,
        "xgap": 2,
        "ygap": 2,
        "colorbar": {"ticksuffix": "%"},
    }
    height = max(320, 28 * len(labels) + 90)
    return {
        "data": [trace],
        "layout": _layout(
            height=height,
            margin={"l": 170, "r": 24, "t": 40, "b": 16},
            yaxis={"autorange": "reversed", "type": "category"},
            xaxis={"side": "top", "type": "category"},
        ),
    }


def _funnel_trace(steps: list[FunnelStepResult], name: str, _: Gettext) -> dict[str, Any]:
    labels = [f"{i}. {text(s.label)}" for i, s in enumerate(steps, 1)]
    percent = [f"{100 * (s.conversion_from_first or 0):.1f}%" for s in steps]
    return {
        "type": "bar",
        "name": name,
        "x": labels,
        "y": [s.count for s in steps],
        "text": percent,
        "textposition": "outside",
        "cliponaxis": False,
        "hovertemplate": "%{x}<br>%{y} " + _("persons") + " · %{text}<extra></extra>",
    }


def _funnel(result: FunnelResult, _: Gettext) -> Figure:
    data = [_funnel_trace(result.steps, _("All persons"), _)]
    if result.breakdowns:
        data = [_funnel_trace(b.steps, text(b.breakdown_value), _) for b in result.breakdowns]
    return {
        "data": data,
        "layout": _layout(
            barmode="group",
            showlegend=len(data) > 1,
            yaxis={"title": {"text": _("Persons")}, "rangemode": "tozero"},
            margin={"l": 56, "r": 24, "t": 28, "b": 64},
        ),
    }


def _paths(result: PathsResult, _: Gettext) -> Figure:
    # Only nodes a shown link touches: a lone node would float in a column of its own.
    touched = {name for link in result.links for name in (link.source, link.target)}
    nodes = [node for node in result.nodes if node.name in touched]
    index = {node.name: i for i, node in enumerate(nodes)}
    links = [link for link in result.links if link.source in index and link.target in index]
    trace = {
        "type": "sankey",
        "arrangement": "snap",
        "node": {
            "label": [f"{n.step}. {text(n.event)}" for n in nodes],
            "customdata": [n.persons for n in nodes],
            "hovertemplate": "%{label}: %{customdata}<extra></extra>",
            # Each node in its step's column (the default pushes every path's last node to the far right).
            "align": "left",
            "pad": 14,
            "thickness": 14,
            "color": [COLOURS[(n.step - 1) % len(COLOURS)] for n in nodes],
        },
        "link": {
            "source": [index[link.source] for link in links],
            "target": [index[link.target] for link in links],
            "value": [link.persons for link in links],
            "color": "rgba(36, 86, 211, 0.18)",
        },
    }
    return {"data": [trace], "layout": _layout(height=460, margin={"l": 16, "r": 16, "t": 16, "b": 16})}


def _stacked(dates: list[str], parts: list[tuple[str, str, list[int], bool]]) -> list[dict[str, Any]]:
    """Bars stacked up (positive parts) and down (parts shown as negative)."""
    return [
        {"type": "bar", "name": name, "x": dates, "y": [-v for v in values] if down else values, "marker": {"color": c}}
        for name, c, values, down in parts
    ]


def _lifecycle(result: LifecycleResult, _: Gettext) -> Figure:
    data = _stacked(
        result.dates,
        [
            (_("New"), STATUS_COLOURS["new"], result.new, False),
            (_("Returning"), STATUS_COLOURS["returning"], result.returning, False),
            (_("Resurrecting"), STATUS_COLOURS["resurrecting"], result.resurrecting, False),
            (_("Dormant"), STATUS_COLOURS["dormant"], result.dormant, True),
        ],
    )
    layout = _layout(barmode="relative", xaxis=_date_axis(result.dates), yaxis={"title": {"text": _("Persons")}})
    return {"data": data, "layout": layout}


def _growth(result: GrowthResult, _: Gettext) -> Figure:
    data = _stacked(
        result.dates,
        [
            (_("New"), STATUS_COLOURS["new"], result.new, False),
            (_("Retained"), STATUS_COLOURS["returning"], result.retained, False),
            (_("Resurrected"), STATUS_COLOURS["resurrecting"], result.resurrected, False),
            (_("Churned"), STATUS_COLOURS["dormant"], result.churned, True),
        ],
    )
    quick = {"type": "scatter", "mode": "lines+markers", "name": _("Quick ratio"), "x": result.dates}
    data.append({**quick, "y": result.quick_ratio, "yaxis": "y2", "line": {"color": "#475569"}})
    layout = _layout(
        barmode="relative",
        xaxis=_date_axis(result.dates),
        yaxis={"title": {"text": _("Persons")}},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "title": {"text": _("Quick ratio")},
        },
        margin={"l": 56, "r": 72, "t": 16, "b": 48},
    )
    return {"data": data, "layout": layout}


def _distribution(result: DistributionResult, _: Gettext) -> Figure:
    data = []
    for period in result.frequency:
        labels = [
            f"{b.min}" if b.max == b.min else f"{b.min}–{b.max}" if b.max else f"{b.min}+" for b in period.buckets
        ]
        data.append({"type": "bar", "name": period.date, "x": labels, "y": [b.persons for b in period.buckets]})
    return {
        "data": data,
        "layout": _layout(
            barmode="group",
            showlegend=len(data) > 1,
            xaxis={"title": {"text": _("Times per period")}, "type": "category"},
            yaxis={"title": {"text": _("Persons")}},
        ),
    }


CHARTS: dict[type[TableResult], Callable[[Any, Gettext], Figure]] = {
    TrendsResult: _trends,
    ActiveUsersResult: _active_users,
    StickinessResult: _stickiness,
    RetentionResult: _retention,
    FunnelResult: _funnel,
    PathsResult: _paths,
    LifecycleResult: _lifecycle,
    GrowthResult: _growth,
    DistributionResult: _distribution,
}


def chart_of(result: TableResult, gettext: Gettext, *, bars: bool = False) -> Figure | None:
    """The Plotly figure of a result (None for kinds shown as a table only, such as SQL); `bars`: trends as
    bars instead of lines."""
    if isinstance(result, TrendsResult):
        return _trends(result, gettext, bars)
    draw = CHARTS.get(type(result))
    return draw(result, gettext) if draw else None
