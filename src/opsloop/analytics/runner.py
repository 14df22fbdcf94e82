"""The one place analyses touch the engine: build the statements, fetch them, parse the rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pyarrow as pa
from pydantic import BaseModel
from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.common import uses_segments
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore

Q = TypeVar("Q", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class Fetch:
    """Runs statements for one analysis on one store, under one time limit for them all."""

    def __init__(self, store: EventStore, builder: QueryBuilder, timeout: float | None) -> None:
        self.store = store
        self.builder = builder
        self.timeout = timeout
        self.statements: list[str] = []

    def __call__(self, statement: exp.Expression) -> pa.Table:
        """Run one statement built with this fetch's builder; returns its rows as Arrow."""
        sql, params = self.builder.render(statement)
        self.statements.append(sql)
        return self.store.query_arrow(sql, params, timeout=self.timeout)

    def rows(self, statement: exp.Expression) -> list[dict[str, Any]]:
        """Run one statement; its rows as dicts of Python values."""
        table = self(statement)
        return table.to_pylist()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Analysis(Generic[Q, R]):
    """One analysis kind: its query model and the function that computes its result."""

    model: type[Q]
    result: type[R]
    compute: Callable[[Q, QueryBuilder, Fetch], R]


def run_analysis(
    analysis: Analysis[Q, R], store: EventStore, ctx: ProjectContext, query: Q, *, timeout: float | None = None
) -> R:
    """Validate-free entry point: `query` is already a validated model of `analysis`."""
    builder = QueryBuilder(store.dialect, ctx)
    builder.always_resolve_persons = uses_segments(query)
    return analysis.compute(query, builder, Fetch(store, builder, timeout))


def as_date(value: Any) -> dt.date:
    """A bucket value from either engine as a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def label_of(value: Any) -> str:
    """A bucket value from either engine as its ISO label (dates) or as is (hour text)."""
    if isinstance(value, str):
        return value
    return as_date(value).isoformat()


def zero_if_missing(value: Any) -> float:
    """An aggregate that may be NULL or NaN (empty input) as a number."""
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if number != number else number


def ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator`, None when the denominator is 0."""
    return numerator / denominator if denominator else None


def cte_query(ctes: Sequence[tuple[str, exp.Expression]], body: exp.Select) -> exp.Select:
    """`WITH name AS (...), ... body`."""
    for name, expression in ctes:
        body = body.with_(name, as_=expression)
    return body
