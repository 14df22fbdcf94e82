"""Lifecycle stages of a project: its thresholds (stored per project), stage counts over time and a person's
current stage; the definitions are in `users.lifecycle` and docs/segments.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

from sqlalchemy import select

from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.users.lifecycle import LifecycleThresholds, Stage, StageCount, stage_counts, stage_of
from opsloop.users.tables import UserOpsSettings


class StageService:
    """Lifecycle thresholds, counts and a person's stage, per project."""

    def __init__(self, metadata: MetadataStore, store: EventStore) -> None:
        self.metadata = metadata
        self.store = store

    def thresholds(self, project_id: int) -> LifecycleThresholds:
        """The project's thresholds (the defaults until set)."""
        with self.metadata.session() as session:
            row = session.get(UserOpsSettings, project_id)
            return LifecycleThresholds.model_validate(row.lifecycle if row is not None else {})

    def set_thresholds(self, project_id: int, thresholds: LifecycleThresholds) -> LifecycleThresholds:
        """Store the project's thresholds."""
        with self.metadata.session() as session, session.begin():
            row = session.scalar(select(UserOpsSettings).where(UserOpsSettings.project_id == project_id))
            if row is None:
                session.add(UserOpsSettings(project_id=project_id, lifecycle=thresholds.model_dump()))
            else:
                row.lifecycle = thresholds.model_dump()
        return thresholds

    def counts(
        self,
        ctx: ProjectContext,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        interval: Literal["day", "week"] = "day",
    ) -> list[StageCount]:
        """Persons per stage as of the end of each day / week (default: the last 30 days)."""
        to = date_to or ctx.local_today()
        start = date_from or to - dt.timedelta(days=29)
        return stage_counts(self.thresholds(ctx.project_id), ctx, self.store, start, to, interval)

    def stage_of(self, ctx: ProjectContext, person_id: str, as_of: dt.date | None = None) -> Stage | None:
        """A person's stage today (or as of a day); None when they have no events: for the person page."""
        if as_of is not None:
            ctx = dataclasses.replace(ctx, today=as_of)
        return stage_of(self.thresholds(ctx.project_id), ctx, self.store, person_id)
