"""The Python API: `opsloop.connect(...)` opens a data dir (or store URLs) and runs query objects on it.

    import opsloop
    with opsloop.connect("opsloop-data") as ops:
        result = ops.project(1).query({"kind": "trends", "series": [{"event": "signup"}]})
        frame = result.to_pandas()

The same query objects as `POST /api/projects/{id}/query` and `opsloop query`; results are typed models
(`TrendsResult`, `RetentionResult`, ...) with `to_arrow()`, `to_pandas()` and `to_polars()`. The embedded
DuckDB file can be open in one process at a time: stop `opsloop serve` first, or use the HTTP API.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from opsloop.analytics.tables import TableResult
from opsloop.config import Settings
from opsloop.projects import ProjectInfo
from opsloop.query.registry import execute_query
from opsloop.runtime import Runtime
from opsloop.surveys.management import SurveyManager, SurveyView
from opsloop.surveys.results import SurveyResults, load_results
from opsloop.users.catalogue import CatalogueItem, EntryKind
from opsloop.users.definitions import Group
from opsloop.users.rfm import RfmResult, RfmRule, run_rfm
from opsloop.users.rfm_settings import RfmSettings, given_fields
from opsloop.users.segments import SegmentInfo, SegmentInput

if TYPE_CHECKING:
    from opsloop.feedback.access import ProjectFeedback
    from opsloop.requirements.access import ProjectRequirements
    from opsloop.users.access import ProjectUserOps


class Project:
    """One project of a connection."""

    def __init__(self, runtime: Runtime, project_id: int) -> None:
        self._runtime = runtime
        self.ctx = runtime.project_context(project_id)

    @property
    def id(self) -> int:
        """The project id."""
        return self.ctx.project_id

    def query(self, query: dict[str, Any] | BaseModel) -> TableResult:
        """Run a query object (a dict as in the HTTP API, or a query model such as `TrendsQuery`)."""
        return execute_query(self._runtime.store, self.ctx, query, self._runtime.settings)

    @property
    def feedback(self) -> ProjectFeedback:
        """The project's feedback inbox and themes (see `opsloop.feedback.access`)."""
        from opsloop.feedback.access import ProjectFeedback

        return ProjectFeedback(self._runtime.feedback, self._runtime.themes, self.id)

    def catalogue(self, kind: EntryKind | None = None) -> list[CatalogueItem]:
        """The property catalogue (event names, event and person properties), computed on first use."""
        return self._runtime.catalogue.entries(self.id, kind)

    def refresh_catalogue(self) -> int:
        """Recompute the catalogue's statistics; returns the number of entries."""
        return self._runtime.catalogue.refresh(self.id)

    def segments(self) -> list[SegmentInfo]:
        """The project's saved segments."""
        return self._runtime.segments.saved(self.id)

    def create_segment(
        self, name: str, definition: dict[str, Any] | Group | None = None, *, description: str = ""
    ) -> SegmentInfo:
        """Save a segment: a definition (as in the HTTP API), or none for a static list."""
        body = SegmentInput(
            name=name,
            description=description,
            kind="dynamic" if definition is not None else "static",
            definition=Group.model_validate(definition) if isinstance(definition, dict) else definition,
        )
        return self._runtime.segments.create(self.id, body)

    def segment_size(self, definition: dict[str, Any] | Group) -> int:
        """The live size of a definition (saved or not)."""
        group = Group.model_validate(definition) if isinstance(definition, dict) else definition
        return self._runtime.segments.size_of(self.ctx, group)

    def segment_members(self, segment_id: int) -> list[str]:
        """The person ids of a saved segment's members now."""
        return self._runtime.segments.members_of(self.ctx, segment_id)

    def refresh_segment(self, segment_id: int) -> SegmentInfo:
        """Materialise a segment's members and add its size to the history."""
        return self._runtime.segments.refresh(self.ctx, segment_id)

    def rfm(
        self,
        value_event: str | None = None,
        amount_property: str | None = None,
        lookback_days: int | None = None,
        *,
        segment_map: list[dict[str, Any]] | list[RfmRule] | None = None,
    ) -> RfmResult:
        """RFM scores of the buyers: the R x F grid with buyers and revenue, and totals per segment; what is
        not given comes from the project's RFM settings (`rfm_settings()`)."""
        given = {
            "value_event": value_event,
            "amount_property": amount_property,
            "lookback_days": lookback_days,
            "segment_map": segment_map,
        }
        query = self._runtime.segments.rfm_settings.query(self.id, {k: v for k, v in given.items() if v is not None})
        return run_rfm(self._runtime.store, self.ctx, query)

    def rfm_settings(self) -> RfmSettings:
        """The project's RFM settings: value event, amount property, look-back days, segment map."""
        return self._runtime.segments.rfm_settings.settings(self.id)

    def save_rfm_settings(self, settings: dict[str, Any] | RfmSettings | None = None, **changes: Any) -> RfmSettings:
        """Save the project's RFM settings: `settings` (fields left out take the defaults, as the HTTP `PUT`),
        or the current ones changed by keyword (`value_event`, `amount_property`, `lookback_days`, `segment_map`)."""
        service = self._runtime.segments.rfm_settings
        if settings is None:
            base = service.settings(self.id).model_dump(mode="json")
        else:
            base = {**service.defaults(self.id).model_dump(mode="json"), **given_fields(settings)}
        return service.save(self.id, RfmSettings.model_validate({**base, **given_fields(changes)}))

    def import_segment_list(self, segment_id: int, csv_text: str, *, replace: bool = True) -> SegmentInfo:
        """Load a static segment's ids from CSV text (header `distinct_id` or `person_id`)."""
        return self._runtime.segments.import_list(self.id, segment_id, csv_text, replace=replace)

    @property
    def requirements(self) -> ProjectRequirements:
        """The project's requirements board (see `opsloop.requirements.access`)."""
        from opsloop.requirements.access import ProjectRequirements

        return ProjectRequirements(self._runtime.requirements, self._runtime.requirement_reports, self.id)

    def surveys(self) -> list[SurveyView]:
        """The project's surveys (definitions and status)."""
        return SurveyManager(self._runtime.metadata).list(self.id)

    def survey_results(self, survey_id: int, *, breakdown: str | None = None) -> SurveyResults:
        """A survey's results (response rate, NPS / CSAT with intervals, weekly, breakdown, choices, texts)."""
        return load_results(
            self._runtime.metadata,
            self.id,
            survey_id,
            timezone=self.ctx.timezone,
            first_day=self.ctx.week_start,
            breakdown=breakdown,
        )

    @property
    def user_ops(self) -> ProjectUserOps:
        """Tags, lifecycle stages, RFM movement and one-click segments, portraits, refresh."""
        from opsloop.users.access import ProjectUserOps

        return ProjectUserOps(self._runtime.segments, self.ctx)


class Connection:
    """An open opsloop data dir (or metadata and events store URLs)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runtime = Runtime(settings)

    def projects(self) -> list[ProjectInfo]:
        """Every project."""
        return self._runtime.projects.list()

    def project(self, project_id: int) -> Project:
        """A project by id (`ProjectError` if there is none)."""
        return Project(self._runtime, project_id)

    def close(self) -> None:
        """Close the stores."""
        self._runtime.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def connect(
    data_dir: str | Path | None = None, *, database_url: str | None = None, events_url: str | None = None
) -> Connection:
    """Open opsloop's stores: a data dir, and/or explicit store URLs (other settings from `OPSLOOP_*`)."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir)
    if database_url is not None:
        overrides["database_url"] = database_url
    if events_url is not None:
        overrides["events_url"] = events_url
    return Connection(Settings(**overrides))
