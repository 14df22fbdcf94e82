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
from typing import Any

from pydantic import BaseModel

from opsloop.analytics.tables import TableResult
from opsloop.config import Settings
from opsloop.projects import ProjectInfo
from opsloop.query.registry import execute_query
from opsloop.runtime import Runtime
from opsloop.surveys.management import SurveyManager, SurveyView
from opsloop.surveys.results import SurveyResults, load_results


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
