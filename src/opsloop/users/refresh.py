"""Refreshing user operations: every rule tag, then every dynamic segment's membership, of one project
(`opsloop refresh`, the API) or of every project on a schedule inside the server (`RefreshScheduler`), which
also keeps each project's property catalogue current (the console's forms offer names from it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from opsloop.analytics.timeframe import ProjectContext
from opsloop.users.catalogue import CatalogueService
from opsloop.users.segments import SegmentService

log = logging.getLogger(__name__)


@dataclass
class RefreshReport:
    """What one refresh of a project did: persons per rule tag, size per segment, and the errors."""

    project_id: int
    tags: dict[str, int] = field(default_factory=dict)
    segments: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: Entries of the property catalogue after its refresh (None: not refreshed by this run).
    catalogue: int | None = None


def refresh_project(segments: SegmentService, ctx: ProjectContext) -> RefreshReport:
    """Recompute the project's rule tags, then refresh its dynamic segments (which may read the tags); an
    error in one tag or segment is recorded and the others still run."""
    report = RefreshReport(ctx.project_id)
    for tag in sorted(segments.tags.rules(ctx.project_id)):
        try:
            report.tags[tag] = segments.tags.compute(ctx, tag)
        except Exception as exc:  # noqa: BLE001 - one bad rule must not stop the others
            log.exception("refreshing tag %r of project %d failed", tag, ctx.project_id)
            report.errors.append(f"tag {tag!r}: {exc}")
    for info in segments.saved(ctx.project_id):
        if info.kind != "dynamic":
            continue
        try:
            report.segments[info.id] = segments.refresh(ctx, info.id).size or 0
        except Exception as exc:  # noqa: BLE001
            log.exception("refreshing segment %d of project %d failed", info.id, ctx.project_id)
            report.errors.append(f"segment {info.id} ({info.name!r}): {exc}")
    return report


class RefreshScheduler:
    """A daemon thread refreshing every project each `interval_s` seconds; errors are logged, never fatal."""

    def __init__(
        self,
        segments: SegmentService,
        projects: Callable[[], list[int]],
        context: Callable[[int], ProjectContext],
        interval_s: float,
        catalogue: CatalogueService | None = None,
        first_catalogue_s: float = 5.0,
    ) -> None:
        """`catalogue`: also refresh each project's property catalogue every run, and `first_catalogue_s`
        after start for projects that have never had one (so a new server offers property names soon)."""
        self.segments = segments
        self.catalogue = catalogue
        self.first_catalogue_s = first_catalogue_s
        self.projects = projects
        self.context = context
        self.interval_s = interval_s
        self.runs = 0
        self.reports: list[RefreshReport] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (the first refresh comes one interval later)."""
        self._thread = threading.Thread(target=self._loop, name="opsloop-segment-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Ask the thread to stop and wait for it (a refresh under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> list[RefreshReport]:
        """Refresh every project now."""
        reports: list[RefreshReport] = []
        try:
            project_ids = self.projects()
        except Exception:  # noqa: BLE001
            log.exception("scheduled refresh: listing projects failed")
            return reports
        for project_id in project_ids:
            try:
                report = refresh_project(self.segments, self.context(project_id))
            except Exception:  # noqa: BLE001
                log.exception("scheduled refresh of project %d failed", project_id)
                continue
            self._refresh_catalogue(report)
            reports.append(report)
        return reports

    def _refresh_catalogue(self, report: RefreshReport) -> None:
        if self.catalogue is None:
            return
        try:
            report.catalogue = self.catalogue.refresh(report.project_id)
        except Exception as exc:  # noqa: BLE001 - the catalogue must not stop the refresh of other projects
            log.exception("refreshing the catalogue of project %d failed", report.project_id)
            report.errors.append(f"catalogue: {exc}")

    def fill_missing_catalogues(self) -> list[int]:
        """Compute the catalogue of every project that has none yet; returns those projects."""
        if self.catalogue is None:
            return []
        done: list[int] = []
        try:
            project_ids = self.projects()
        except Exception:  # noqa: BLE001
            log.exception("scheduled refresh: listing projects failed")
            return done
        for project_id in project_ids:
            if self._stop.is_set():
                break
            try:
                if self.catalogue.refreshed_at(project_id) is None:
                    self.catalogue.refresh(project_id)
                    done.append(project_id)
            except Exception:  # noqa: BLE001
                log.exception("computing the catalogue of project %d failed", project_id)
        return done

    def _loop(self) -> None:
        if not self._stop.wait(self.first_catalogue_s):
            self.fill_missing_catalogues()
        while not self._stop.wait(self.interval_s):
            self.reports = self.run_once()
            self.runs += 1
