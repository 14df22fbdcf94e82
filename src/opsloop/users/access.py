"""User operations from Python: `opsloop.connect(...).project(id).user_ops` (tags, lifecycle stages, RFM
movement and one-click segments, portraits, refresh), the same services as the API and the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.definitions import Group
from opsloop.users.lifecycle import LifecycleThresholds, Stage, StageCount
from opsloop.users.operations import movement, save_tag_rule, segment_from_rfm, segment_portrait
from opsloop.users.portrait import Dimension, Portrait
from opsloop.users.refresh import RefreshReport, refresh_project
from opsloop.users.rfm import RfmQuery
from opsloop.users.rfm_movement import RfmMovement
from opsloop.users.rfm_settings import RfmSettings
from opsloop.users.segments import SegmentInfo, SegmentService
from opsloop.users.tag_rules import TagRule
from opsloop.users.tags import TagAssignment, TagImport, TagInfo


class ProjectUserOps:
    """One project's tags, lifecycle stages, RFM movement, portraits and refresh."""

    def __init__(self, segments: SegmentService, ctx: ProjectContext) -> None:
        self.segments = segments
        self.ctx = ctx

    @property
    def _id(self) -> int:
        return self.ctx.project_id

    # tags
    def tags(self) -> list[TagInfo]:
        """Every tag with its persons per value."""
        return self.segments.tags.listing(self._id)

    def tag(self, distinct_id: str, tag: str, value: str = "") -> TagImport:
        """Set a manual tag on the person behind a distinct id."""
        return self.segments.tags.assign(self._id, [TagAssignment(distinct_id=distinct_id, tag=tag, value=value)])

    def import_tags(self, csv_text: str) -> TagImport:
        """Manual tags from CSV text `distinct_id,tag[,value]` (bad rows reported by line, good rows kept)."""
        return self.segments.tags.import_csv(self._id, csv_text)

    def save_tag_rule(self, tag: str, rule: dict[str, Any] | TagRule) -> int:
        """Create or replace a rule tag and compute it; returns the persons holding it."""
        save_tag_rule(self.segments, self._id, tag, TagRule.model_validate(rule))
        return self.segments.tags.compute(self.ctx, tag)

    def person_tags(self, person_id: str) -> dict[str, str]:
        """A person's tags."""
        return self.segments.tags.of_person(self._id, person_id)

    # lifecycle
    def lifecycle_thresholds(self, **changes: int) -> LifecycleThresholds:
        """The project's lifecycle thresholds, changed first by any of `new_days`, `active_days`, `churn_days`."""
        current = self.segments.stages.thresholds(self._id)
        if not changes:
            return current
        return self.segments.stages.set_thresholds(self._id, LifecycleThresholds(**{**current.model_dump(), **changes}))

    def stage_counts(
        self, date_from: dt.date | None = None, date_to: dt.date | None = None, interval: Literal["day", "week"] = "day"
    ) -> list[StageCount]:
        """Persons per stage as of the end of each day or week."""
        return self.segments.stages.counts(self.ctx, date_from, date_to, interval)

    def stage_of(self, person_id: str) -> Stage | None:
        """A person's current lifecycle stage."""
        return self.segments.stages.stage_of(self.ctx, person_id)

    # RFM, portraits, refresh
    def rfm_settings(self, **changes: Any) -> RfmSettings:
        """The project's RFM settings, changed first by any of `value_event`, `amount_property`,
        `lookback_days`, `segment_map`."""
        service = self.segments.rfm_settings
        current = service.settings(self._id)
        if not changes:
            return current
        return service.save(self._id, RfmSettings.model_validate({**current.model_dump(mode="json"), **changes}))

    def rfm_movement(
        self,
        value_event: str | None = None,
        amount_property: str | None = None,
        lookback_days: int | None = None,
        period_days: int = 30,
    ) -> RfmMovement:
        """How many persons moved between RFM segments since `period_days` days ago (what is not given:
        the project's RFM settings)."""
        given = {"value_event": value_event, "amount_property": amount_property, "lookback_days": lookback_days}
        query = self.segments.rfm_settings.query(self._id, {k: v for k, v in given.items() if v is not None})
        return movement(self.segments, self.ctx, query, period_days)

    def rfm_segment(
        self,
        rfm: dict[str, Any] | RfmQuery | None = None,
        *,
        segment: str | None = None,
        cell: tuple[int, int] | None = None,
        name: str | None = None,
    ) -> SegmentInfo:
        """Save a segment holding the buyers of one RFM segment or cell (fields `rfm` leaves out, such as
        `segment_map`: the project's RFM settings)."""
        query = self.segments.rfm_settings.query(self._id, rfm)
        return segment_from_rfm(self.segments, self._id, query, segment=segment, cell=cell, name=name)

    def portrait(
        self,
        dimensions: list[dict[str, Any] | Dimension],
        *,
        segment_id: int | None = None,
        definition: dict[str, Any] | Group | None = None,
        events_days: int = 30,
    ) -> Portrait:
        """The portrait of a saved segment or of a definition against all persons."""
        dims = [Dimension.model_validate(d) for d in dimensions]
        group = Group.model_validate(definition) if definition is not None else None
        return segment_portrait(
            self.segments, self.ctx, dims, segment_id=segment_id, definition=group, events_days=events_days
        )

    def refresh(self) -> RefreshReport:
        """Recompute rule tags and refresh every dynamic segment now."""
        return refresh_project(self.segments, self.ctx)
