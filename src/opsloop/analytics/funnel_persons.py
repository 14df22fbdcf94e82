"""Funnel persons: who reached a step of a funnel, or dropped off just before it (paged)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col, num
from opsloop.analytics.common import Model
from opsloop.analytics.funnel_sql import PATHS, FunnelDefinition, funnel_events, person_paths
from opsloop.analytics.runner import Analysis, Fetch, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import resolve_span

MAX_LIMIT = 1000


class FunnelPersonsQuery(FunnelDefinition):
    """The persons of a funnel step: `converted` reached step `step`; `dropped` reached `step - 1` but not it."""

    kind: Literal["funnel_persons"] = "funnel_persons"
    step: int = Field(ge=1, description="1-based step")
    status: Literal["converted", "dropped"] = Field("converted", description="reached the step, or stopped before")
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="persons per page")
    offset: int = Field(0, ge=0, description="persons to skip (paging)")

    @model_validator(mode="after")
    def _step_fits(self) -> FunnelPersonsQuery:
        if self.step > len(self.steps):
            raise ValueError(f"step ({self.step}) is past the last step ({len(self.steps)})")
        if self.status == "dropped" and self.step == 1:
            raise ValueError("step: nobody drops off before step 1; use a step from 2 with status `dropped`")
        return self


class FunnelPerson(Model):
    """One person of the list."""

    person_id: str
    furthest_step: int = Field(description="the furthest step the person reached (1-based)")
    entered_at: dt.datetime = Field(description="UTC time of step 1 of the attempt that reached it")


class FunnelPersonsResult(TableResult):
    """A page of persons ordered by `person_id`; `total` matching persons; `next_offset` (null on the last page)."""

    persons: list[FunnelPerson]
    total: int
    next_offset: int | None

    def rows(self) -> list[dict[str, Any]]:
        """One row per person."""
        return [p.model_dump() for p in self.persons]


def _statement(query: FunnelPersonsQuery, builder: QueryBuilder, *, count_only: bool) -> exp.Select:
    span = resolve_span(builder.ctx, query.date_from, query.date_to)
    d = builder.dialect
    level = exp.column("lv")
    if query.status == "converted":
        keep: exp.Expr = exp.GTE(this=level, expression=num(query.step))
    else:
        keep = exp.EQ(this=level, expression=num(query.step - 1))
    ctes = [("ev", funnel_events(query, builder, span)), (PATHS, person_paths(query, builder, "ev", num(0)))]
    if count_only:
        return cte_query(ctes, exp.select(exp.alias_(exp.Count(this=exp.Star()), "total")).from_(PATHS).where(keep))
    person = exp.cast(col(PERSON), "TEXT")
    body = (
        exp.select(
            exp.alias_(person, "pid"),
            exp.alias_(level.copy(), "lv"),
            exp.alias_(d.from_epoch_micros(exp.column("st")), "entered"),
            exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "total"),
        )
        .from_(PATHS)
        .where(keep)
        .order_by(exp.Ordered(this=person.copy()))
        .limit(query.limit)
        .offset(query.offset)
    )
    return cte_query(ctes, body)


def _utc(value: Any) -> dt.datetime:
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def compute_funnel_persons(query: FunnelPersonsQuery, builder: QueryBuilder, fetch: Fetch) -> FunnelPersonsResult:
    """Run a funnel persons query."""
    rows = fetch.rows(_statement(query, builder, count_only=False))
    counted = rows or fetch.rows(_statement(query, builder, count_only=True))
    total = int(counted[0]["total"])
    persons = [
        FunnelPerson(person_id=r["pid"], furthest_step=int(r["lv"]), entered_at=_utc(r["entered"])) for r in rows
    ]
    end = query.offset + len(persons)
    return FunnelPersonsResult(persons=persons, total=total, next_offset=end if end < total else None)


FUNNEL_PERSONS = Analysis(FunnelPersonsQuery, FunnelPersonsResult, compute_funnel_persons)
