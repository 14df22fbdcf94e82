"""Trends: a number per time bucket for each series (events, persons, or a property's sum, average...)."""

from __future__ import annotations

import ast
import datetime as dt
import operator
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col
from opsloop.analytics.common import (
    ANY_EVENT,
    Breakdown,
    EventName,
    Interval,
    Model,
    PropertyFilter,
    RangeQuery,
    check_name,
)
from opsloop.analytics.runner import Analysis, Fetch, cte_query, label_of, zero_if_missing
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import DateSpan, bucket_labels, resolve_span, span_of

Math = Literal["total", "persons", "sum", "avg", "min", "max", "median", "p90", "per_person_avg"]
_PROPERTY_MATHS = ("sum", "avg", "min", "max", "median", "p90")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class TrendsSeries(EventName):
    """One line: an event and what to count of it."""

    math: Math = Field("total", description="what each point counts (see docs/metrics.md)")
    property: str | None = Field(None, description="the numeric event property for sum / avg / min / max / ...")
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="for this series only")
    label: str | None = Field(None, max_length=200, description="display name (default: the event)")

    @field_validator("property")
    @classmethod
    def _property(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "property")

    @model_validator(mode="after")
    def _property_for_math(self) -> TrendsSeries:
        if self.math in _PROPERTY_MATHS and self.property is None:
            raise ValueError(f"math `{self.math}` needs a `property`")
        return self


class TrendsQuery(RangeQuery):
    """Trends: one or more series per bucket, optionally combined by a formula or broken down."""

    kind: Literal["trends"] = "trends"
    series: list[TrendsSeries] = Field(min_length=1, max_length=len(_LETTERS))
    interval: Interval = "day"
    breakdown: Breakdown | None = None
    formula: str | None = Field(None, max_length=500, description='arithmetic over series letters, e.g. "B / A"')
    compare_previous: bool = Field(False, description="also return the previous range of the same length")

    @model_validator(mode="after")
    def _formula_parses(self) -> TrendsQuery:
        if self.formula is not None:
            compile_formula(self.formula, len(self.series))
        span = (self.date_to - self.date_from).days if self.date_from and self.date_to else 0
        if self.interval == "hour" and span > 31:
            raise ValueError("interval `hour` covers at most 32 days; use `day` for longer ranges")
        return self


class TrendsLine(Model):
    """One line of a trends result."""

    label: str
    breakdown_value: str | None = None
    compare: Literal["current", "previous"] | None = None
    dates: list[str]
    values: list[float | None]
    total: float | None


class TrendsResult(TableResult):
    """`series`: one line per series (or one per formula), per breakdown value, per compared range."""

    series: list[TrendsLine]

    def rows(self) -> list[dict[str, Any]]:
        """One row per line and date: label, breakdown_value, compare, date, value."""
        return [
            {"label": s.label, "breakdown_value": s.breakdown_value, "compare": s.compare, "date": d, "value": v}
            for s in self.series
            for d, v in zip(s.dates, s.values, strict=True)
        ]


# -- formula -------------------------------------------------------------------------------------------------

Formula = Callable[[dict[str, float | None]], float | None]
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def compile_formula(text: str, series_count: int) -> Formula:
    """A formula over series letters (`A`, `B`, ...) with + - * / and parentheses, as a function of the
    letters' values; None (not an error) when it divides by zero or a letter has no value."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(f"formula {text!r} is not arithmetic over series letters") from None
    letters = _LETTERS[:series_count]

    def build(node: ast.AST) -> Formula:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            number = float(node.value)
            return lambda _: number
        if isinstance(node, ast.Name):
            if node.id not in letters:
                raise ValueError(f"formula uses {node.id!r}; series letters are {', '.join(letters)}")
            name = node.id
            return lambda values: values.get(name)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = build(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            return lambda values: None if (v := inner(values)) is None else sign * v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right, apply = build(node.left), build(node.right), _BINARY[type(node.op)]

            def binary(values: dict[str, float | None]) -> float | None:
                a, b = left(values), right(values)
                if a is None or b is None or (isinstance(node.op, ast.Div) and b == 0):
                    return None
                return apply(a, b)

            return binary
        raise ValueError(f"formula {text!r} may only use series letters, numbers, + - * / and parentheses")

    return build(tree)


# -- SQL -----------------------------------------------------------------------------------------------------


def _aggregate(series: TrendsSeries, builder: QueryBuilder, condition: exp.Expr | None = None) -> exp.Expr:
    """The aggregate a series' math computes over its events (those meeting `condition`, if given)."""

    def only(aggregate: exp.Expr) -> exp.Expr:
        return aggregate if condition is None else exp.Filter(this=aggregate, expression=exp.Where(this=condition))

    person = col(PERSON)
    if series.math == "total":
        return only(exp.Count(this=exp.Star()))
    if series.math == "persons":
        return builder.dialect.count_distinct(person, condition)
    if series.math == "per_person_avg":
        return exp.Div(
            this=exp.cast(only(exp.Count(this=exp.Star())), "DOUBLE"),
            expression=builder.dialect.count_distinct(person.copy(), condition.copy() if condition else None),
        )
    assert series.property is not None
    value = builder.number(builder.prop(series.property))
    if condition is not None:
        # Not a FILTER: the engine would read the property's JSON on every row before filtering; a CASE
        # reads it only where the condition holds (these aggregates skip the NULLs of the other rows).
        value = exp.Case(ifs=[exp.If(this=condition, true=value)])
    if series.math == "median":
        return builder.dialect.quantile(value, 0.5)
    if series.math == "p90":
        return builder.dialect.quantile(value, 0.9)
    aggregate = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[series.math]
    return aggregate(this=value)


def _uses_persons(query: TrendsQuery) -> bool:
    """Whether any number depends on who did the events (else the identity join can be skipped)."""
    if query.breakdown is not None and query.breakdown.type == "person":
        return True
    return any(s.math in ("persons", "per_person_avg") for s in query.series)


#: Series maths the per-person plan of `_all_series_statement` computes from per-person event counts.
_COUNTED = ("total", "persons", "per_person_avg")


def _all_series_statement(query: TrendsQuery, span: DateSpan, builder: QueryBuilder) -> exp.Select:
    """Every series in one scan (no breakdown): per bucket and for the whole range (`is_total` = 1), one
    filtered aggregate `v<i>` per series.

    When persons count (`persons`, `per_person_avg`), every series counts events, no filter reads a person
    and the engine does not count distinct values cheaply from raw rows (DuckDB), the events are first
    counted per stored person and bucket, those rows resolved through the identity merges
    (`resolve_later`), and persons counted from them: no event is joined to the merges."""
    filters = [*query.filters, *(f for s in query.series for f in s.filters)]
    # Not where the engine counts distinct persons cheaply from the raw rows (ClickHouse: chdb at 10M took
    # 0.35 s this way against 0.25 s joining each event to the merges; DuckDB 0.23 s against 0.30 s).
    late = (
        _uses_persons(query)
        and not builder.dialect.collects_distinct_cheaply
        and all(s.math in _COUNTED for s in query.series)
        and builder.resolves_late(filters)
    )
    person_filters = any(f.type == "person" for s in query.series for f in s.filters)
    events = builder.events(
        span.start,
        span.end,
        events=[s.event for s in query.series],
        filters=query.filters,
        with_person=person_filters,
        resolve_persons=_uses_persons(query) and not late,
    )
    conditions: list[exp.Expr | None] = []
    for series in query.series:
        named = builder.event_is([series.event])
        parts = ([named] if named is not None else []) + [builder.matches(f) for f in series.filters]
        conditions.append(exp.and_(*parts) if parts else None)
    inner = exp.select(exp.Star(), exp.alias_(builder.bucket(query.interval), "b")).from_("ev")
    ctes: list[tuple[str, exp.Expression]] = [("ev", events)]
    if late:
        counts = [f"n{i}" for i in range(len(query.series))]
        total = TrendsSeries(event=ANY_EVENT)
        stored = exp.select(
            col(PERSON),
            "b",
            *(exp.alias_(_aggregate(total, builder, c), n) for c, n in zip(conditions, counts, strict=True)),
        )
        stored = stored.from_(inner.subquery("t")).group_by(col(PERSON), "b")
        ctes.append(("stored", stored))
        values = [
            exp.alias_(_from_counts(series, builder, col(n)), f"v{i}")
            for i, (series, n) in enumerate(zip(query.series, counts, strict=True))
        ]
        source: exp.Expression = builder.resolve_later("stored", ["b", *counts]).subquery("t")
    else:
        values = [
            exp.alias_(_aggregate(series, builder, c), f"v{i}")
            for i, (series, c) in enumerate(zip(query.series, conditions, strict=True))
        ]
        source = inner.subquery("t")
    grouped = (
        exp.select("b", exp.alias_(exp.func("grouping", exp.column("b")), "is_total"), *values)
        .from_(source)
        .group_by(exp.GroupingSets(expressions=[exp.Tuple(expressions=[exp.column("b")]), exp.Tuple(expressions=[])]))
    )
    return cte_query(ctes, grouped)


def _from_counts(series: TrendsSeries, builder: QueryBuilder, count: exp.Expression) -> exp.Expr:
    """A counted series' aggregate over rows (person, bucket, `count` of the series' events)."""
    events = exp.cast(exp.Sum(this=count), "BIGINT")
    did = exp.GT(this=count.copy(), expression=exp.Literal.number(0))
    if series.math == "total":
        return events
    persons = builder.dialect.count_distinct(col(PERSON), did)
    if series.math == "persons":
        return persons
    return exp.Div(this=exp.cast(events, "DOUBLE"), expression=persons)


def _series_statement(query: TrendsQuery, series: TrendsSeries, span: DateSpan, builder: QueryBuilder) -> exp.Select:
    """Per bucket and breakdown value, plus per breakdown value over the whole range (`is_total` = 1)."""
    breakdown = query.breakdown
    events = builder.events(
        span.start,
        span.end,
        events=[series.event],
        filters=[*query.filters, *series.filters],
        with_person=breakdown is not None and breakdown.type == "person",
        resolve_persons=_uses_persons(query),
    )
    ctes: list[tuple[str, exp.Expression]] = [("ev", events)]
    bucket = builder.bucket(query.interval)
    if breakdown is not None:
        ctes.append(("top", builder.top_values(breakdown, "ev")))
        value: exp.Expression = builder.breakdown_value(breakdown, "top")
    else:
        value = exp.Null()
    inner = exp.select(
        exp.alias_(bucket, "b"), exp.alias_(value, "bv"), col(PERSON), col("timestamp"), col("properties")
    ).from_("ev")
    grouped = (
        exp.select(
            "b",
            "bv",
            exp.alias_(exp.func("grouping", exp.column("b")), "is_total"),
            exp.alias_(_aggregate(series, builder), "v"),
        )
        .from_(inner.subquery("t"))
        .group_by(
            exp.GroupingSets(
                expressions=[
                    exp.Tuple(expressions=[exp.column("b"), exp.column("bv")]),
                    exp.Tuple(expressions=[exp.column("bv")]),
                ]
            )
        )
    )
    return cte_query(ctes, grouped)


def _lines(
    query: TrendsQuery, series: TrendsSeries, span: DateSpan, builder: QueryBuilder, fetch: Fetch, compare: str | None
) -> list[TrendsLine]:
    labels = bucket_labels(builder.ctx, span, query.interval)
    rows = fetch.rows(_series_statement(query, series, span, builder))
    per_value: dict[str | None, dict[str, float]] = {}
    totals: dict[str | None, float] = {}
    for row in rows:
        if row["is_total"]:
            totals[row["bv"]] = zero_if_missing(row["v"])
        else:
            per_value.setdefault(row["bv"], {})[label_of(row["b"])] = zero_if_missing(row["v"])
    if query.breakdown is None:
        per_value.setdefault(None, {})
    label = series.label or series.event
    lines = []
    for value in sorted(per_value, key=_breakdown_order):
        points = per_value[value]
        lines.append(
            TrendsLine(
                label=label,
                breakdown_value=value,
                compare=compare,  # type: ignore[arg-type]
                dates=labels,
                values=[points.get(d, 0.0) for d in labels],
                total=totals.get(value, 0.0),
            )
        )
    return lines


def _breakdown_order(value: str | None) -> tuple[int, str]:
    """Breakdown lines in value order, then `$other`, then the unset value."""
    if value is None:
        return (2, "")
    return (1, "") if value == "$other" else (0, value)


def _apply_formula(query: TrendsQuery, per_series: list[list[TrendsLine]]) -> list[TrendsLine]:
    """One line per breakdown value: the formula evaluated point by point (and on the totals)."""
    assert query.formula is not None
    formula = compile_formula(query.formula, len(query.series))
    keys: list[str | None] = []
    for lines in per_series:
        keys += [line.breakdown_value for line in lines if line.breakdown_value not in keys]
    out = []
    for key in sorted(keys, key=_breakdown_order):
        found = [{ln.breakdown_value: ln for ln in lines}.get(key) for lines in per_series]
        dates = next(ln.dates for ln in found if ln is not None)
        values = []
        for i in range(len(dates)):
            point = {_LETTERS[s]: (ln.values[i] if ln is not None else 0.0) for s, ln in enumerate(found)}
            values.append(formula(point))
        totals = {_LETTERS[s]: (ln.total if ln is not None else 0.0) for s, ln in enumerate(found)}
        compare = next(ln.compare for ln in found if ln is not None)
        out.append(
            TrendsLine(
                label=query.formula,
                breakdown_value=key,
                compare=compare,
                dates=dates,
                values=values,
                total=formula(totals),
            )
        )
    return out


def _unbroken_lines(
    query: TrendsQuery, span: DateSpan, builder: QueryBuilder, fetch: Fetch, compare: str | None
) -> list[list[TrendsLine]]:
    """One line per series, all from one statement."""
    labels = bucket_labels(builder.ctx, span, query.interval)
    rows = fetch.rows(_all_series_statement(query, span, builder))
    points: list[dict[str, float]] = [{} for _ in query.series]
    totals = [0.0 for _ in query.series]
    for row in rows:
        for i in range(len(query.series)):
            value = zero_if_missing(row[f"v{i}"])
            if row["is_total"]:
                totals[i] = value
            else:
                points[i][label_of(row["b"])] = value
    return [
        [
            TrendsLine(
                label=series.label or series.event,
                compare=compare,  # type: ignore[arg-type]
                dates=labels,
                values=[points[i].get(d, 0.0) for d in labels],
                total=totals[i],
            )
        ]
        for i, series in enumerate(query.series)
    ]


def _range_lines(
    query: TrendsQuery, span: DateSpan, builder: QueryBuilder, fetch: Fetch, compare: str | None
) -> list[TrendsLine]:
    if query.breakdown is None:
        per_series = _unbroken_lines(query, span, builder, fetch, compare)
    else:
        per_series = [_lines(query, s, span, builder, fetch, compare) for s in query.series]
    if query.formula:
        return _apply_formula(query, per_series)
    return [line for lines in per_series for line in lines]


def compute_trends(query: TrendsQuery, builder: QueryBuilder, fetch: Fetch) -> TrendsResult:
    """Run a trends query."""
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    if not query.compare_previous:
        return TrendsResult(series=_range_lines(query, span, builder, fetch, None))
    before = span_of(builder.ctx, span.date_from - dt.timedelta(days=span.days), span.date_from - dt.timedelta(1))
    current = _range_lines(query, span, builder, fetch, "current")
    previous = _range_lines(query, before, builder, fetch, "previous")
    return TrendsResult(series=current + previous)


TRENDS = Analysis(TrendsQuery, TrendsResult, compute_trends)
