"""User operations over saved segments: a segment from an RFM cell or segment ("one click"), the portrait of
a segment or of an unsaved definition, and the RFM movement matrix, as the API, CLI and Python call them."""

from __future__ import annotations

import dataclasses

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.definitions import Group
from opsloop.users.portrait import Dimension, Portrait, portrait
from opsloop.users.rfm import RfmQuery
from opsloop.users.rfm_movement import RfmMovement, cell_definition, rfm_movement
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.segment_sql import definition_members
from opsloop.users.segments import SegmentInfo, SegmentInput, SegmentService
from opsloop.users.tag_rules import TagRule


def segment_from_rfm(
    segments: SegmentService,
    project_id: int,
    query: RfmQuery,
    *,
    segment: str | None = None,
    cell: tuple[int, int] | None = None,
    name: str | None = None,
) -> SegmentInfo:
    """Save a dynamic segment holding the buyers of one RFM segment (by name) or one (R, F) cell."""
    definition = Group.model_validate(cell_definition(query, segment, cell))
    default = f"RFM {segment}" if segment is not None else f"RFM R{cell[0]} F{cell[1]}"  # type: ignore[index]
    described = f"RFM on {query.value_event} / {query.amount_property}, last {query.lookback_days} days"
    new = SegmentInput(name=name or default, description=described, kind="dynamic", definition=definition)
    return segments.create(project_id, new)


def segment_portrait(
    segments: SegmentService,
    ctx: ProjectContext,
    dimensions: list[Dimension],
    *,
    segment_id: int | None = None,
    definition: Group | None = None,
    events_days: int = 30,
    events_limit: int = 10,
) -> Portrait:
    """The portrait of a saved segment (`segment_id`) or of an unsaved definition, against all persons (an
    `rfm_segment` dimension's missing `rfm`, or the fields it leaves out: the project's RFM settings)."""
    if (segment_id is None) == (definition is None):
        raise ValueError("segment_id: give a saved segment or a definition, one of them")
    if not 1 <= events_days <= 3660 or not 1 <= events_limit <= 100:
        raise ValueError("events_days: 1 to 3660 days, events_limit: 1 to 100")
    dimensions = [
        d.model_copy(update={"rfm": segments.rfm_settings.query(ctx.project_id, d.rfm)})
        if d.type == "rfm_segment"
        else d
        for d in dimensions
    ]
    library = segments.library(ctx.project_id)
    ctx = dataclasses.replace(ctx, segments=library)
    builder = QueryBuilder(segments.store.dialect, ctx)
    if definition is not None:
        segments.check_names(ctx.project_id, definition)
        members = definition_members(definition, builder)
    else:
        assert segment_id is not None
        segments.get(ctx.project_id, segment_id)
        members = library.membership(segment_id, builder)
    return portrait(
        members,
        dimensions,
        builder,
        Fetch(segments.store, builder, None),
        thresholds=library.lifecycle,
        events_days=events_days,
        events_limit=events_limit,
    )


def movement(segments: SegmentService, ctx: ProjectContext, query: RfmQuery, period_days: int = 30) -> RfmMovement:
    """How many persons moved between RFM segments since `period_days` days ago."""
    return rfm_movement(segments.store, ctx, query, period_days)


def save_tag_rule(segments: SegmentService, project_id: int, tag: str, rule: TagRule) -> None:
    """Save a rule tag after checking its event and property names against the catalogue (an unknown name
    is a `SegmentInvalid` naming the field: `event: unknown event 'x' (known: ...)`)."""
    filters = [f.model_dump() for f in rule.filters]
    if rule.property is not None:
        filters.append({"property": rule.property, "type": "event", "op": "is_set"})
    probe = Group.model_validate({"conditions": [{"type": "event", "event": rule.event, "filters": filters}]})
    try:
        segments.check_names(project_id, probe)
    except SegmentInvalid as exc:
        where = str(exc).removeprefix("definition.conditions.0.")
        if where.startswith(f"filters.{len(rule.filters)}.property") and rule.property is not None:
            where = "property" + where.split("property", 1)[1]
        raise SegmentInvalid(where) from None
    segments.tags.save_rule(project_id, tag, rule)
