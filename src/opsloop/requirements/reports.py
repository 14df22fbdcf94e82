"""A requirement's page data and its PRD: the board's numbers joined with the events store's (revenue of
its persons, target metric before and after the ship day)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from opsloop.analytics.timeframe import ProjectContext
from opsloop.config import Settings
from opsloop.dashboards.kpi_settings import load_kpi_config
from opsloop.query.registry import QueryInvalid
from opsloop.requirements.audience import person_map
from opsloop.requirements.board import RequirementBoard, local_date
from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.evidence import gather_evidence
from opsloop.requirements.impact import compare_metric, persons_revenue
from opsloop.requirements.prd import render_prd
from opsloop.requirements.schemas import LinkedItem, MetricComparison, RequirementDetail, RequirementOut
from opsloop.store.events import EventStore, QueryFailed

#: Default and longest revenue window, in days.
REVENUE_DAYS = 90
MAX_REVENUE_DAYS = 3650


class RequirementReports:
    """Page data and PRDs of requirements (needs the events store as well as the metadata)."""

    def __init__(
        self,
        board: RequirementBoard,
        store: EventStore,
        settings: Settings,
        context: Callable[[int], ProjectContext],
    ) -> None:
        self.board = board
        self.store = store
        self.settings = settings
        self.context = context

    def _ctx(self, project_id: int, today: dt.date | None) -> ProjectContext:
        ctx = self.context(project_id)
        return dataclasses.replace(ctx, today=today) if today is not None else ctx

    def revenue(self, project_id: int, requirement_id: int, days: int, *, today: dt.date | None = None) -> float:
        """Revenue of the requirement's persons over `days` local days ending today (the project's purchase
        event and revenue property, as on the home dashboard)."""
        if not 1 <= days <= MAX_REVENUE_DAYS:
            raise RequirementInvalid("revenue_days", f"must be 1 to {MAX_REVENUE_DAYS}")
        persons = self.board.persons(project_id, requirement_id)
        if not persons:
            return 0.0
        ctx = self._ctx(project_id, today)
        config = load_kpi_config(self.board.metadata, project_id)
        end = ctx.local_today()
        return persons_revenue(
            self.store,
            ctx,
            persons,
            event=config.purchase_event,
            revenue_property=config.revenue_property,
            date_from=end - dt.timedelta(days=days - 1),
            date_to=end,
            timeout=self.settings.query_timeout_seconds,
        )

    def metric(
        self, project_id: int, requirement: RequirementOut, *, today: dt.date | None = None
    ) -> MetricComparison | None:
        """The target metric before and after shipping (None unless shipped with a target metric)."""
        if requirement.shipped_at is None or requirement.target_metric is None:
            return None
        ctx = self._ctx(project_id, today)
        ship_date = local_date(requirement.shipped_at, ctx.timezone)
        try:
            return compare_metric(
                self.store,
                ctx,
                self.settings,
                requirement.target_metric,
                ship_date,
                requirement.metric_window_days,
                ctx.local_today(),
            )
        except (QueryInvalid, QueryFailed) as exc:
            raise RequirementInvalid("target_metric", f"the target metric cannot run: {exc}") from None

    def detail(
        self, project_id: int, requirement_id: int, *, revenue_days: int = REVENUE_DAYS, today: dt.date | None = None
    ) -> RequirementDetail:
        """Everything a requirement's page shows."""
        requirement = self.board.get(project_id, requirement_id)
        items = self.board.linked_items(project_id, requirement_id)
        with self.board.metadata.session() as session:
            persons = person_map(session, project_id, [i.distinct_id for i in items if i.distinct_id])
        config = load_kpi_config(self.board.metadata, project_id)
        return RequirementDetail(
            requirement=requirement,
            history=self.board.history(project_id, requirement_id),
            feedback=[
                LinkedItem(
                    id=i.id,
                    text=i.text,
                    language=i.language,
                    sentiment=i.sentiment,
                    theme_id=i.theme_id,
                    distinct_id=i.distinct_id,
                    person_id=persons.get(i.distinct_id) if i.distinct_id else None,
                )
                for i in items
            ],
            revenue=self.revenue(project_id, requirement_id, revenue_days, today=today),
            revenue_days=revenue_days,
            revenue_event=config.purchase_event,
            revenue_property=config.revenue_property,
            metric=self.metric(project_id, requirement, today=today),
        )

    def prd(
        self, project_id: int, requirement_id: int, *, revenue_days: int = REVENUE_DAYS, today: dt.date | None = None
    ) -> str:
        """The requirement's PRD in Markdown."""
        requirement = self.board.get(project_id, requirement_id)
        items = self.board.linked_items(project_id, requirement_id)
        persons = self.board.persons(project_id, requirement_id)
        evidence = gather_evidence(self.board.metadata, project_id, items, persons)
        return render_prd(
            requirement,
            evidence,
            self.board.history(project_id, requirement_id),
            self.metric(project_id, requirement, today=today),
            self.revenue(project_id, requirement_id, revenue_days, today=today),
            revenue_days,
        )
