"""RFM: recency, frequency and monetary value of each buyer, scored 1-5 by quintiles, on the R x F map.

Buyers are the persons (after identity merges) with at least one value event in the look-back window (the
last `lookback_days` local days, today included). Per buyer: recency = the time of their last value event,
frequency = their value events, monetary = the sum of the amount property (values that are not numbers
count 0). The n buyers are put in order and the i-th (1-based) gets the score floor(5 (i - 1) / n) + 1:

- R: by last value event, oldest first; buyers with the same last time share the first one's place (rank);
- F: by frequency, ties broken by last value event (earlier first), then person id: *ranked before cutting*,
  so equal frequencies can be split over two scores but every score gets its share of buyers;
- M: by monetary, ties share the first one's place (rank).

One statement computes the 5 x 5 (R, F) grid with buyers and revenue per cell in the engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator
from sqlglot import exp

from opsloop.analytics.builder import PERSON, TIMESTAMP, QueryBuilder, col, num
from opsloop.analytics.common import Model, check_name
from opsloop.analytics.runner import Fetch, cte_query
from opsloop.analytics.tables import TableResult
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore

Score = Literal[1, 2, 3, 4, 5]


class RfmRule(Model):
    """One named region of the R x F grid: R and F scores within inclusive bounds."""

    name: str = Field(min_length=1, max_length=100)
    r: tuple[int, int] = Field(description="lowest and highest R score")
    f: tuple[int, int] = Field(description="lowest and highest F score")

    @model_validator(mode="after")
    def _bounds(self) -> RfmRule:
        for low, high in (self.r, self.f):
            if not 1 <= low <= high <= 5:
                raise ValueError("scores are 1 to 5, low before high")
        return self

    def holds(self, r: int, f: int) -> bool:
        """Whether the cell (r, f) is in this region."""
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1]


#: The standard R x F segment map; the first rule holding for a cell names it.
STANDARD_MAP: tuple[RfmRule, ...] = tuple(
    RfmRule(name=name, r=r, f=f)
    for name, r, f in (
        ("Champions", (5, 5), (4, 5)),
        ("Loyal", (3, 4), (4, 5)),
        ("Potential Loyalists", (4, 5), (2, 3)),
        ("New", (5, 5), (1, 1)),
        ("Promising", (4, 4), (1, 1)),
        ("Need Attention", (3, 3), (3, 3)),
        ("About to Sleep", (3, 3), (1, 2)),
        ("Can't Lose", (1, 2), (5, 5)),
        ("At Risk", (1, 2), (3, 4)),
        ("Hibernating", (1, 2), (1, 2)),
    )
)
#: The name of a cell that no rule of an edited map covers.
UNMAPPED = "Other"


class RfmQuery(Model):
    """The value event, its amount property, the look-back window and (optionally) an edited segment map."""

    value_event: str = Field(description="the event that counts as a purchase")
    amount_property: str = Field(description="the event property holding the amount")
    lookback_days: int = Field(365, ge=1, le=3660, description="the last N local days, today included")
    segment_map: list[RfmRule] = Field(default_factory=lambda: list(STANDARD_MAP), min_length=1, max_length=25)

    @field_validator("value_event", "amount_property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "name")


class RfmCell(Model):
    """One cell of the grid."""

    r: int
    f: int
    segment: str
    persons: int
    revenue: float
    mean_m: float | None = Field(description="the cell's mean M score")


class RfmSegment(Model):
    """A segment of the map: its cells' buyers and revenue."""

    segment: str
    persons: int
    revenue: float


class RfmResult(TableResult):
    """The 5 x 5 grid (R rows 5..1, F columns 1..5) and the totals per segment of the map."""

    persons: int
    revenue: float
    cells: list[RfmCell]
    segments: list[RfmSegment]


def segment_of(rules: list[RfmRule], r: int, f: int) -> str:
    """The first rule's name holding for the cell."""
    return next((rule.name for rule in rules if rule.holds(r, f)), UNMAPPED)


def _score(place: exp.Expression, builder: QueryBuilder) -> exp.Expression:
    """floor(5 (place - 1) / n) + 1, in integers."""
    scaled = exp.Mul(this=exp.paren(exp.Sub(this=place, expression=num(1))), expression=num(5))
    return exp.Add(this=builder.dialect.int_div(scaled, exp.column("n")), expression=num(1))


def _window(function: exp.Expression, *order: exp.Expression) -> exp.Window:
    return exp.Window(this=function, order=exp.Order(expressions=[exp.Ordered(this=o) for o in order]))


def scores(query: RfmQuery, builder: QueryBuilder) -> exp.Select:
    """Per buyer: `person_id`, `lt` (last value event), `fq`, `mv`, and the scores `r`, `f`, `m`."""
    ctx = builder.ctx
    today = ctx.local_today()
    start = ctx.local_midnight(today - dt.timedelta(days=query.lookback_days - 1))
    end = ctx.local_midnight(today + dt.timedelta(days=1))
    events = builder.events(start, end, events=[query.value_event])
    amount = builder.number(builder.prop(query.amount_property))
    buyers = (
        exp.select(
            col(PERSON),
            exp.alias_(exp.Max(this=col(TIMESTAMP)), "lt"),
            exp.alias_(exp.Count(this=exp.Star()), "fq"),
            exp.alias_(exp.func("coalesce", exp.Sum(this=amount), exp.cast(num(0), "DOUBLE")), "mv"),
        )
        .from_(events.subquery("ev"))
        .group_by(col(PERSON))
    )
    person_text = builder.dialect.as_text(col(PERSON))
    places = exp.select(
        col(PERSON),
        "lt",
        "fq",
        "mv",
        exp.alias_(_window(exp.Anonymous(this="rank"), exp.column("lt")), "rp"),
        exp.alias_(_window(exp.RowNumber(), exp.column("fq"), exp.column("lt"), person_text), "fp"),
        exp.alias_(_window(exp.Anonymous(this="rank"), exp.column("mv")), "mp"),
        exp.alias_(exp.Window(this=exp.Count(this=exp.Star())), "n"),
    ).from_(buyers.subquery("b"))
    return exp.select(
        col(PERSON),
        "lt",
        "fq",
        "mv",
        exp.alias_(_score(exp.column("rp"), builder), "r"),
        exp.alias_(_score(exp.column("fp"), builder), "f"),
        exp.alias_(_score(exp.column("mp"), builder), "m"),
    ).from_(places.subquery("pl"))


def compute_rfm(query: RfmQuery, builder: QueryBuilder, fetch: Fetch) -> RfmResult:
    """The grid and segment totals in one statement."""
    grid = (
        exp.select(
            "r",
            "f",
            exp.alias_(exp.Count(this=exp.Star()), "persons"),
            exp.alias_(exp.Sum(this=exp.column("mv")), "revenue"),
            exp.alias_(exp.Avg(this=exp.column("m")), "mean_m"),
        )
        .from_("s")
        .group_by("r", "f")
    )
    found = {(int(x["r"]), int(x["f"])): x for x in fetch.rows(cte_query([("s", scores(query, builder))], grid))}
    cells: list[RfmCell] = []
    for r in range(5, 0, -1):
        for f in range(1, 6):
            row = found.get((r, f))
            cells.append(
                RfmCell(
                    r=r,
                    f=f,
                    segment=segment_of(query.segment_map, r, f),
                    persons=int(row["persons"]) if row else 0,
                    revenue=float(row["revenue"] or 0) if row else 0.0,
                    mean_m=float(row["mean_m"]) if row else None,
                )
            )
    totals: dict[str, list[float]] = {}
    for cell in cells:
        total = totals.setdefault(cell.segment, [0, 0.0])
        total[0] += cell.persons
        total[1] += cell.revenue
    segments = [RfmSegment(segment=name, persons=int(p), revenue=v) for name, (p, v) in totals.items()]
    return RfmResult(
        persons=sum(c.persons for c in cells),
        revenue=sum(c.revenue for c in cells),
        cells=cells,
        segments=segments,
    )


def run_rfm(store: EventStore, ctx: ProjectContext, query: RfmQuery, *, timeout: float | None = None) -> RfmResult:
    """Compute RFM for a project (the entry point of the API, CLI and Python shells)."""
    builder = QueryBuilder(store.dialect, ctx)
    return compute_rfm(query, builder, Fetch(store, builder, timeout))
