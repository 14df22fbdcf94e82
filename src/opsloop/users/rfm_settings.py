"""A project's RFM settings: the value event, amount property, look-back window and segment map that RFM uses
whenever a query, the console page, movement or a one-click segment does not say otherwise.

Until a project saves its own, the defaults are the home dashboard's purchase event and revenue property
(the KPI settings), 365 days and the standard map. A value given explicitly (a query's `segment_map`, a
form's event) always wins over the saved one; only what is left out comes from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from opsloop.analytics.common import Model, check_name
from opsloop.dashboards.kpi_settings import load_kpi_config
from opsloop.store.metadata import MetadataStore
from opsloop.users.rfm import STANDARD_MAP, RfmQuery, RfmRule
from opsloop.users.tables import UserOpsSettings


class RfmSettings(Model):
    """The project's RFM defaults: value event, amount property, look-back days and the segment map."""

    value_event: str = Field(description="the event that counts as a purchase")
    amount_property: str = Field(description="the event property holding the amount")
    lookback_days: int = Field(365, ge=1, le=3660, description="the last N local days, today included")
    segment_map: list[RfmRule] = Field(
        default_factory=lambda: list(STANDARD_MAP),
        min_length=1,
        max_length=25,
        description="rules naming the cells of the R x F grid; the first rule holding names a cell",
    )

    @field_validator("value_event", "amount_property")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "name")

    @field_validator("segment_map")
    @classmethod
    def _unique(cls, rules: list[RfmRule]) -> list[RfmRule]:
        seen: set[str] = set()
        for i, rule in enumerate(rules):
            if not rule.name.strip():
                raise ValueError(f"rule {i + 1} has a blank name")
            if rule.name in seen:
                raise ValueError(f"the name {rule.name!r} is used by two rules; names must be unique")
            seen.add(rule.name)
        return rules

    def query(self) -> RfmQuery:
        """These settings as an RFM query."""
        return RfmQuery.model_validate(self.model_dump())


def given_fields(given: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """The fields a caller gave explicitly: a dict as sent, or a model's fields that were set."""
    if given is None:
        return {}
    if isinstance(given, BaseModel):
        return given.model_dump(mode="json", exclude_unset=True)
    return dict(given)


class RfmSettingsService:
    """Read and save a project's RFM settings, and complete RFM queries with them."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def defaults(self, project_id: int) -> RfmSettings:
        """The settings of a project that saved none: the KPI purchase event and revenue property, 365 days,
        the standard map."""
        kpi = load_kpi_config(self.metadata, project_id)
        return RfmSettings.model_validate({"value_event": kpi.purchase_event, "amount_property": kpi.revenue_property})

    def settings(self, project_id: int) -> RfmSettings:
        """The project's saved settings (the defaults until saved)."""
        with self.metadata.session() as session:
            row = session.get(UserOpsSettings, project_id)
            stored = row.rfm if row is not None else None
        return RfmSettings.model_validate(stored) if stored else self.defaults(project_id)

    def save(self, project_id: int, settings: RfmSettings) -> RfmSettings:
        """Store the project's settings (replacing what was there)."""
        data = settings.model_dump(mode="json")
        with self.metadata.session() as session, session.begin():
            row = session.scalar(select(UserOpsSettings).where(UserOpsSettings.project_id == project_id))
            if row is None:
                session.add(UserOpsSettings(project_id=project_id, lifecycle={}, rfm=data))
            else:
                row.rfm = data
        return settings

    def completed(self, project_id: int, given: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
        """An RFM query object (unvalidated) whose missing fields come from the saved settings."""
        return {**self.settings(project_id).model_dump(mode="json"), **given_fields(given)}

    def query(self, project_id: int, given: Mapping[str, Any] | BaseModel | None = None) -> RfmQuery:
        """An RFM query: what `given` sets explicitly, the saved settings for the rest (`ValidationError` if bad)."""
        return RfmQuery.model_validate(self.completed(project_id, given))
