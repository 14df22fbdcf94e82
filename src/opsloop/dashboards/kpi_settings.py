"""A project's home-dashboard settings: its core funnel, and which event and property carry revenue."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, ValidationError, field_validator

from opsloop.analytics.common import ANY_EVENT, Model, check_name
from opsloop.analytics.funnel_sql import MAX_STEPS, FunnelStep, FunnelWindow, Order
from opsloop.analytics.timeframe import ProjectContext
from opsloop.config import Settings
from opsloop.dashboards.insights import InvalidInput
from opsloop.dashboards.tables import KpiSettings
from opsloop.query.registry import execute_query
from opsloop.query.sql import SqlQuery
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow

#: Event names that look like a conversion (case-insensitive) ...
_CONVERSION = re.compile(r"purchase|order|checkout|paid|payment|subscri|sign_?up|signed_?up|register|convert|upgrade")
#: ... unless they are an intermediate or failed step of one.
_NOT_CONVERSION = re.compile(r"start|view|open|abandon|fail|cancel|remov|refund|cart|click")


class CoreFunnel(Model):
    """The funnel whose conversion the home dashboard shows (a funnel query without dates)."""

    steps: list[FunnelStep] = Field(min_length=2, max_length=MAX_STEPS, description="2 to 20 steps")
    window: FunnelWindow = Field(FunnelWindow(value=1, unit="day"), description="conversion window (default 1 day)")
    order: Order = Field("ordered", description="ordered, strict or unordered")


class KpiConfig(Model):
    """What the home dashboard reads: the core funnel (none: detected), the purchase event, the revenue property."""

    core_funnel: CoreFunnel | None = Field(None, description="none: `$any` then the most common conversion event")
    purchase_event: str = Field("purchase", description="the event that carries revenue")
    revenue_property: str = Field("revenue", description="the numeric property of it holding the amount")

    @field_validator("purchase_event")
    @classmethod
    def _event(cls, value: str) -> str:
        return check_name(value, "purchase_event")

    @field_validator("revenue_property")
    @classmethod
    def _property(cls, value: str) -> str:
        return check_name(value, "revenue_property")


def parse_kpi_config(body: Any) -> KpiConfig:
    """Validate settings sent by a client; `InvalidInput` naming the field."""
    try:
        return KpiConfig.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInput(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


def load_kpi_config(metadata: MetadataStore, project_id: int) -> KpiConfig:
    """The project's KPI settings (defaults when none were saved)."""
    with metadata.session() as session:
        row = session.get(KpiSettings, project_id)
        return KpiConfig() if row is None else KpiConfig.model_validate(row.settings)


def save_kpi_config(metadata: MetadataStore, project_id: int, config: KpiConfig) -> KpiConfig:
    """Store a project's KPI settings (replacing what was there)."""
    data = config.model_dump(mode="json")
    with metadata.session() as session, session.begin():
        row: KpiSettings | None = session.get(KpiSettings, project_id)
        if row is None:
            session.add(KpiSettings(project_id=project_id, settings=data))
        else:
            row.settings = data
            row.updated_at = utcnow()
    return config


def conversion_event(event_counts: dict[str, int]) -> str | None:
    """The most common event whose name looks like a conversion (purchase, order, sign-up...); ties by name."""
    candidates = [
        (-count, name)
        for name, count in event_counts.items()
        if not name.startswith("$") and _CONVERSION.search(name.lower()) and not _NOT_CONVERSION.search(name.lower())
    ]
    return min(candidates)[1] if candidates else None


def event_counts(store: EventStore, ctx: ProjectContext, settings: Settings) -> dict[str, int]:
    """How many events of each name the project has received (through the read-only SQL query kind)."""
    query = SqlQuery(kind="sql", query="select event, count(*) as n from events group by event")
    result = execute_query(store, ctx, query, settings)
    return {str(row["event"]): int(row["n"]) for row in result.rows()}


def core_funnel(
    config: KpiConfig, store: EventStore, ctx: ProjectContext, settings: Settings
) -> tuple[CoreFunnel | None, bool]:
    """The funnel to report and whether it was detected rather than configured (None: nothing to detect)."""
    if config.core_funnel is not None:
        return config.core_funnel, False
    target = conversion_event(event_counts(store, ctx, settings))
    if target is None:
        return None, True
    return CoreFunnel(steps=[FunnelStep(event=ANY_EVENT), FunnelStep(event=target)]), True
