"""RFM per person: each buyer's segment of the map, movement between segments since the previous period,
and the definition of a saved segment standing for one cell or one segment of the map ("one click")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from pydantic import Field
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col
from opsloop.analytics.common import Model
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore
from opsloop.users.rfm import UNMAPPED, RfmQuery, scores

#: The movement matrix's name for "not a buyer in that period's window".
NOT_A_BUYER = "(none)"


def person_segments(query: RfmQuery, builder: QueryBuilder) -> exp.Select:
    """`person_id`, `r`, `f`, `segment` of every buyer in the window (the first rule of the map holding)."""
    r, f = exp.column("r"), exp.column("f")

    def within(column: exp.Column, bounds: tuple[int, int]) -> exp.Expr:
        return exp.Between(this=column.copy(), low=exp.Literal.number(bounds[0]), high=exp.Literal.number(bounds[1]))

    segment = exp.Case(
        ifs=[
            exp.If(this=exp.and_(within(r, rule.r), within(f, rule.f)), true=builder.value(rule.name))
            for rule in query.segment_map
        ],
        default=builder.value(UNMAPPED),
    )
    return exp.select(col(PERSON), "r", "f", exp.alias_(segment, "segment")).from_(
        scores(query, builder).subquery("sc")
    )


def rfm_members(
    query: RfmQuery, segments: Sequence[str], cells: Sequence[tuple[int, int]], builder: QueryBuilder
) -> exp.Select:
    """`SELECT person_id` of the buyers in any of the named segments or (R, F) cells."""
    parts: list[exp.Expr] = []
    if segments:
        parts.append(exp.In(this=exp.column("segment"), expressions=[builder.value(s) for s in segments]))
    for r, f in cells:
        parts.append(
            exp.and_(
                exp.EQ(this=exp.column("r"), expression=exp.Literal.number(r)),
                exp.EQ(this=exp.column("f"), expression=exp.Literal.number(f)),
            )
        )
    return exp.select(col(PERSON)).from_(person_segments(query, builder).subquery("ps")).where(exp.or_(*parts))


class RfmMove(Model):
    """How many persons went from one segment (in the previous period) to another (now)."""

    previous: str
    current: str
    persons: int


class RfmMovement(Model):
    """Movement between RFM segments: now (today) against `period_days` days ago, each with the same window."""

    today: dt.date
    previous_day: dt.date
    moves: list[RfmMove] = Field(description=f"every non-empty (previous, current) pair; `{NOT_A_BUYER}`: no buyer")
    moved: int = Field(description="persons whose segment changed (entering or leaving the buyers included)")


def _segment_by_person(store: EventStore, ctx: ProjectContext, query: RfmQuery) -> dict[str, str]:
    builder = QueryBuilder(store.dialect, ctx)
    statement = person_segments(query, builder)
    rows = Fetch(store, builder, None).rows(statement)
    return {str(r[PERSON]): str(r["segment"]) for r in rows}


def rfm_movement(store: EventStore, ctx: ProjectContext, query: RfmQuery, period_days: int = 30) -> RfmMovement:
    """Each person's segment now and `period_days` days ago, counted by (previous, current) pair."""
    if not 1 <= period_days <= 3660:
        raise ValueError("period_days: 1 to 3660")
    today = ctx.local_today()
    previous_day = today - dt.timedelta(days=period_days)
    now = _segment_by_person(store, dataclasses.replace(ctx, today=today), query)
    before = _segment_by_person(store, dataclasses.replace(ctx, today=previous_day), query)
    counts: dict[tuple[str, str], int] = {}
    for person in now.keys() | before.keys():
        pair = (before.get(person, NOT_A_BUYER), now.get(person, NOT_A_BUYER))
        counts[pair] = counts.get(pair, 0) + 1
    moves = [RfmMove(previous=p, current=c, persons=n) for (p, c), n in sorted(counts.items())]
    return RfmMovement(
        today=today,
        previous_day=previous_day,
        moves=moves,
        moved=sum(m.persons for m in moves if m.previous != m.current),
    )


def cell_definition(
    query: RfmQuery, segment: str | None = None, cell: tuple[int, int] | None = None
) -> dict[str, object]:
    """A segment definition (as JSON) holding the buyers of one RFM segment or one (R, F) cell."""
    if (segment is None) == (cell is None):
        raise ValueError("segment: give an RFM segment name or a cell (r, f), one of them")
    condition: dict[str, object] = {"type": "rfm_segment", "rfm": query.model_dump(mode="json")}
    if segment is not None:
        condition["segments"] = [segment]
    else:
        assert cell is not None
        condition["cells"] = [list(cell)]
    return {"type": "group", "operator": "and", "negate": False, "conditions": [condition]}
