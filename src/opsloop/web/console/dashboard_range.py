"""A dashboard's date range: one range for every tile, read from the page's GET parameters.

The default is each insight's own saved dates; a preset (the insight pages' presets) or custom days run every
tile over the same days instead, without changing anything stored. The dates are checked by the same model as
every query's `date_from` / `date_to`, so a wrong one reads exactly as the query API says it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from pydantic import ValidationError

from opsloop.analytics.common import RangeQuery
from opsloop.dashboards.insights import InvalidInput
from opsloop.web.console.insight_forms import RANGE_PRESETS, preset_dates
from opsloop.web.console.rendering import N_

#: "own" (each insight's saved dates) first, then the insight pages' presets.
DASHBOARD_PRESETS: dict[str, str] = {"own": N_("The insights' own dates"), **RANGE_PRESETS}


@dataclass(frozen=True)
class DashboardRange:
    """The range a dashboard page runs its tiles over (no dates: each insight's own), and what the form shows."""

    preset: str = "own"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    error: str | None = None
    #: What was typed in the custom date fields, shown again when it is wrong.
    entered_from: str = ""
    entered_to: str = ""

    @property
    def shown_from(self) -> str:
        """The first day as the form shows it."""
        return self.date_from.isoformat() if self.date_from else self.entered_from

    @property
    def shown_to(self) -> str:
        """The last day as the form shows it."""
        return self.date_to.isoformat() if self.date_to else self.entered_to

    @property
    def overrides(self) -> bool:
        """Whether the tiles run over this range instead of their own dates."""
        return self.error is None and (self.date_from is not None or self.date_to is not None)

    def tile_query(self) -> str:
        """The query string a tile's data URL carries (empty for the insights' own dates)."""
        if not self.overrides:
            return ""
        dates = {"date_from": self.date_from, "date_to": self.date_to}
        return "?" + urlencode({k: v.isoformat() for k, v in dates.items() if v is not None})


def checked_dates(date_from: str | None, date_to: str | None) -> tuple[dt.date | None, dt.date | None]:
    """Two days as text (empty: not given), checked as every query's range is; `InvalidInput` naming the field."""
    try:
        model = RangeQuery.model_validate({"date_from": date_from or None, "date_to": date_to or None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInput(f"{where}: {message}" if where else message) from None
    return model.date_from, model.date_to


def dashboard_range(params: Mapping[str, str], today: dt.date) -> DashboardRange:
    """The range a dashboard page's parameters ask for (`range`, and `date_from` / `date_to` for `custom`)."""
    preset = params.get("range") or "own"
    if preset not in DASHBOARD_PRESETS:
        return DashboardRange(error=f"range: must be one of {', '.join(DASHBOARD_PRESETS)}")
    if preset == "own":
        return DashboardRange()
    if preset != "custom":
        start, end = preset_dates(preset, today) or (None, None)
        return DashboardRange(preset, start, end)
    raw_from, raw_to = params.get("date_from", "").strip(), params.get("date_to", "").strip()
    try:
        start, end = checked_dates(raw_from, raw_to)
    except InvalidInput as exc:
        return DashboardRange("custom", error=str(exc), entered_from=raw_from[:40], entered_to=raw_to[:40])
    if start is None and end is None:
        return DashboardRange("custom", error="date_from: choose a first day, a last day or both")
    return DashboardRange("custom", start, end)
