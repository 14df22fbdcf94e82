"""Growth accounting: per period the active persons, how they came (new, retained, resurrected), who churned,
and the churn rate, growth rate and quick ratio built from them.

The counts are lifecycle's (one statement, see `opsloop.analytics.lifecycle.period_counts`) under growth
accounting's names: retained = returning, resurrected = resurrecting, churned = dormant.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.common import Period
from opsloop.analytics.lifecycle import ActivityQuery, check_interval, period_counts
from opsloop.analytics.runner import Analysis, Fetch, ratio
from opsloop.analytics.tables import TableResult


class GrowthQuery(ActivityQuery):
    """Growth accounting per day, week or month."""

    kind: Literal["growth"] = "growth"
    interval: Period = Field("week", description="`day`, `week` or `month` (hours are not supported)")

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        return check_interval(value, "growth")


class GrowthResult(TableResult):
    """Lists aligned with `dates` (each period's first local day); a rate is null when its denominator is 0."""

    dates: list[str]
    active: list[int]
    new: list[int]
    retained: list[int]
    resurrected: list[int]
    churned: list[int]
    churn_rate: list[float | None]
    growth_rate: list[float | None]
    quick_ratio: list[float | None]

    def rows(self) -> list[dict[str, Any]]:
        """One row per period with every count and rate."""
        names = ("active", "new", "retained", "resurrected", "churned", "churn_rate", "growth_rate", "quick_ratio")
        columns = [getattr(self, name) for name in names]
        return [
            {"date": date, **dict(zip(names, values, strict=True))}
            for date, *values in zip(self.dates, *columns, strict=True)
        ]


def compute_growth(query: GrowthQuery, builder: QueryBuilder, fetch: Fetch) -> GrowthResult:
    """Run a growth query."""
    periods = period_counts(query, query.interval, builder, fetch)
    return GrowthResult(
        dates=[p.date.isoformat() for p in periods],
        active=[p.active for p in periods],
        new=[p.new for p in periods],
        retained=[p.returning for p in periods],
        resurrected=[p.resurrecting for p in periods],
        churned=[p.dormant for p in periods],
        churn_rate=[ratio(p.dormant, p.previous_active) for p in periods],
        growth_rate=[ratio(p.active - p.previous_active, p.previous_active) for p in periods],
        quick_ratio=[ratio(p.new + p.resurrecting, p.dormant) for p in periods],
    )


ANALYSES: dict[str, Analysis[Any, Any]] = {"growth": Analysis(GrowthQuery, GrowthResult, compute_growth)}
