"""Portrait (画像) of a segment: the distribution of chosen dimensions among its members side by side with all
persons, with the lift (share in the segment / share among all), and the segment's top events."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Literal

from pydantic import Field, model_validator
from sqlglot import exp

from opsloop.analytics.builder import EVENT, PERSON, QueryBuilder, col, num
from opsloop.analytics.common import Model, check_name
from opsloop.analytics.runner import Fetch
from opsloop.users.lifecycle import LifecycleThresholds, person_stages
from opsloop.users.rfm import RfmQuery
from opsloop.users.rfm_movement import person_segments

#: The value shown for persons without a value of the dimension.
NOT_SET = "(not set)"
#: Age bands (inclusive lower bound, label); ages under the first are "<18".
AGE_BANDS: tuple[tuple[int, str], ...] = (
    (65, "65+"), (55, "55-64"), (45, "45-54"), (35, "35-44"), (25, "25-34"), (18, "18-24"), (0, "<18"),
)  # fmt: skip


class Dimension(Model):
    """One dimension of a portrait: a person property, the age band, the RFM segment, the lifecycle stage or
    a tag."""

    type: Literal["person", "age_band", "rfm_segment", "lifecycle_stage", "tag"]
    property: str | None = Field(
        None,
        description="`person`: the property; `tag`: the tag; `age_band`: "
        "the birth-year property (default `birth_year`)",
    )
    age_source: Literal["birth_year", "age"] = Field("birth_year", description="`age_band`: what the property holds")
    rfm: RfmQuery | None = Field(
        None, description="`rfm_segment`: how RFM is computed (none, or no map: the project's RFM settings)"
    )

    @model_validator(mode="after")
    def _fits(self) -> Dimension:
        if self.type in ("person", "tag") and not self.property:
            raise ValueError(f"property: a `{self.type}` dimension needs a property")
        if self.property is not None:
            check_name(self.property, "property")
        return self

    def label(self) -> str:
        """How the dimension is named in results and CSV."""
        return f"{self.type}:{self.property}" if self.property and self.type != "age_band" else self.type


class PortraitRow(Model):
    """One value of a dimension: persons with it in the segment and among all, shares and lift."""

    value: str
    segment_persons: int
    segment_share: float
    all_persons: int
    all_share: float
    lift: float | None = Field(description="segment share / overall share (none when nobody has the value)")


class DimensionResult(Model):
    """A dimension's rows, by persons in the segment (most first)."""

    dimension: str
    rows: list[PortraitRow]


class EventRate(Model):
    """An event's count per person in the segment and among all persons, and their ratio."""

    event: str
    segment_events: int
    all_events: int
    segment_per_person: float
    all_per_person: float
    lift: float | None


class Portrait(Model):
    """The portrait of one segment."""

    segment_size: int
    all_persons: int
    dimensions: list[DimensionResult]
    top_events: list[EventRate]


def _persons(builder: QueryBuilder) -> exp.Select:
    return (
        exp.select("id", "properties")
        .from_(builder.dialect.replica_table("persons"))
        .where(exp.EQ(this=exp.column("project_id"), expression=num(builder.ctx.project_id)))
        .where(exp.Not(this=exp.column("is_deleted")))
    )


def _value(
    dimension: Dimension, builder: QueryBuilder, thresholds: LifecycleThresholds
) -> tuple[exp.Expr, exp.Select | None]:
    """The dimension's value of a person `p` (text), and the per-person relation `d` it reads, if any."""
    properties = col("properties", "p")
    if dimension.type == "person":
        assert dimension.property is not None
        return builder.prop(dimension.property, "person", properties), None
    if dimension.type == "tag":
        assert dimension.property is not None
        return builder.tag_text(dimension.property, col("id", "p")), None
    if dimension.type == "age_band":
        number = builder.number(builder.prop(dimension.property or "birth_year", "person", properties))
        year = builder.ctx.local_today().year
        age = number if dimension.age_source == "age" else exp.Sub(this=builder.value(float(year)), expression=number)
        return exp.Case(
            ifs=[
                exp.If(this=exp.GTE(this=age.copy(), expression=builder.value(float(low))), true=builder.value(label))
                for low, label in AGE_BANDS
            ]
        ), None
    if dimension.type == "rfm_segment":
        if dimension.rfm is None:
            raise ValueError("rfm: an `rfm_segment` dimension needs `rfm` (value_event, amount_property...)")
        return col("segment", "d"), person_segments(dimension.rfm, builder)
    return col("stage", "d"), person_stages(thresholds, builder)


def portrait(
    members: exp.Select,
    dimensions: list[Dimension],
    builder: QueryBuilder,
    fetch: Fetch,
    *,
    thresholds: LifecycleThresholds | None = None,
    events_days: int = 30,
    events_limit: int = 10,
) -> Portrait:
    """The portrait of the persons `members` selects (`SELECT person_id`), against all live persons."""
    thresholds = thresholds or LifecycleThresholds()
    results: list[DimensionResult] = []
    segment_size = all_persons = 0
    member = exp.In(this=col("id", "p"), query=members.subquery())
    size_query = exp.select(
        exp.alias_(exp.Count(this=exp.Star()), "n_all"),
        exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=member.copy())), "n_seg"),
    ).from_(_persons(builder).subquery("p"))
    sizes = fetch.rows(size_query)[0]
    all_persons, segment_size = int(sizes["n_all"]), int(sizes["n_seg"])
    for dimension in dimensions:
        value, relation = _value(dimension, builder, thresholds)
        inner = exp.select(exp.alias_(value, "v"), exp.alias_(member.copy(), "m")).from_(
            _persons(builder).subquery("p")
        )
        if relation is not None:
            inner = inner.join(
                relation.subquery("d"), on=exp.EQ(this=col(PERSON, "d"), expression=col("id", "p")), join_type="left"
            )
        grouped = (
            exp.select(
                "v",
                exp.alias_(exp.Count(this=exp.Star()), "n_all"),
                exp.alias_(
                    exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=exp.column("m"))), "n_seg"
                ),
            )
            .from_(inner.subquery("x"))
            .group_by("v")
        )
        rows = []
        for r in fetch.rows(grouped):
            seg, every = int(r["n_seg"]), int(r["n_all"])
            seg_share = seg / segment_size if segment_size else 0.0
            all_share = every / all_persons if all_persons else 0.0
            label = NOT_SET if r["v"] is None else str(r["v"])
            rows.append(
                PortraitRow(
                    value=label,
                    segment_persons=seg,
                    segment_share=seg_share,
                    all_persons=every,
                    all_share=all_share,
                    lift=seg_share / all_share if all_share else None,
                )
            )
        rows.sort(key=lambda row: (-row.segment_persons, -row.all_persons, row.value))
        results.append(DimensionResult(dimension=dimension.label(), rows=rows))
    return Portrait(
        segment_size=segment_size,
        all_persons=all_persons,
        dimensions=results,
        top_events=_top_events(members, builder, fetch, segment_size, all_persons, events_days, events_limit),
    )


def _top_events(
    members: exp.Select, builder: QueryBuilder, fetch: Fetch, segment_size: int, all_persons: int, days: int, limit: int
) -> list[EventRate]:
    ctx = builder.ctx
    today = ctx.local_today()
    start = ctx.local_midnight(today - dt.timedelta(days=days - 1))
    end = ctx.local_midnight(today + dt.timedelta(days=1))
    member = exp.In(this=col(PERSON), query=members.subquery())
    statement = (
        exp.select(
            col(EVENT),
            exp.alias_(exp.Count(this=exp.Star()), "n_all"),
            exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=member)), "n_seg"),
        )
        .from_(builder.events(start, end).subquery("ev"))
        .group_by(col(EVENT))
    )
    rates = []
    for r in fetch.rows(statement):
        seg, every = int(r["n_seg"]), int(r["n_all"])
        per_seg = seg / segment_size if segment_size else 0.0
        per_all = every / all_persons if all_persons else 0.0
        rates.append(
            EventRate(
                event=str(r[EVENT]),
                segment_events=seg,
                all_events=every,
                segment_per_person=per_seg,
                all_per_person=per_all,
                lift=per_seg / per_all if per_all else None,
            )
        )
    rates.sort(key=lambda e: (-e.segment_events, e.event))
    return [e for e in rates if e.segment_events][:limit]


def portrait_csv(result: Portrait) -> str:
    """The portrait as CSV: one line per dimension value, then one per top event."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dimension", "value", "segment_persons", "segment_share", "all_persons", "all_share", "lift"])
    for dim in result.dimensions:
        for row in dim.rows:
            lift = "" if row.lift is None else f"{row.lift:.4f}"
            writer.writerow(
                [
                    dim.dimension,
                    row.value,
                    row.segment_persons,
                    f"{row.segment_share:.4f}",
                    row.all_persons,
                    f"{row.all_share:.4f}",
                    lift,
                ]
            )
    for event in result.top_events:
        lift = "" if event.lift is None else f"{event.lift:.4f}"
        writer.writerow(
            [
                "event",
                event.event,
                event.segment_events,
                f"{event.segment_per_person:.4f}",
                event.all_events,
                f"{event.all_per_person:.4f}",
                lift,
            ]
        )
    return out.getvalue()
