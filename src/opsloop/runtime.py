"""Runtime: opens the stores once per process and wires the services that web and CLI shells call."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from functools import cached_property
from typing import TYPE_CHECKING

from opsloop.analytics.timeframe import ProjectContext, WeekStart
from opsloop.config import Settings
from opsloop.ingest.pipeline import IngestPipeline
from opsloop.ingest.stats import IngestStats
from opsloop.ingest.wal import IngestLog
from opsloop.ingest.writer import EventWriter
from opsloop.projects import ProjectError, ProjectService
from opsloop.store.events import EventStore, StoreLocked, open_event_store
from opsloop.store.metadata import MetadataStore
from opsloop.users.catalogue import CatalogueService
from opsloop.users.segments import SegmentService

if TYPE_CHECKING:
    from opsloop.accounts.signin import Accounts
    from opsloop.annotations.timeline import AnnotationService
    from opsloop.feedback.inbox import FeedbackInbox
    from opsloop.feedback.theming import ThemeService
    from opsloop.requirements.board import RequirementBoard
    from opsloop.requirements.reports import RequirementReports
    from opsloop.requirements.roadmap import Roadmaps
    from opsloop.users.refresh import RefreshScheduler


class Runtime:
    """Everything one opsloop process holds open; stores are opened lazily and closed by `close()`."""

    def __init__(self, settings: Settings, *, importing: bool = False) -> None:
        """`importing`: this process bulk-imports (`opsloop import`, the demo's load), so the events store
        opens under `import_memory_limit` instead of the serving limit."""
        self.settings = settings
        self.importing = importing
        self.stats = IngestStats()
        self._pipeline: IngestPipeline | None = None
        self._lock_fd: int | None = None
        self.refresher: RefreshScheduler | None = None

    @cached_property
    def metadata(self) -> MetadataStore:
        """The metadata store, migrated to the latest schema."""
        return MetadataStore(self.settings.resolved_database_url)

    @cached_property
    def store(self) -> EventStore:
        """The events store (opened once: chdb and DuckDB are expensive to open)."""
        return open_event_store(
            self.settings.resolved_events_url,
            memory_limit=self.settings.import_memory_limit if self.importing else self.settings.duckdb_memory_limit,
            threads=self.settings.duckdb_threads,
        )

    @cached_property
    def projects(self) -> ProjectService:
        """Projects and credentials."""
        return ProjectService(self.metadata)

    @cached_property
    def feedback(self) -> FeedbackInbox:
        """The feedback inbox (imported on first use: theme analysis loads scikit-learn)."""
        from opsloop.feedback.inbox import FeedbackInbox

        return FeedbackInbox(self.metadata, max_text_chars=self.settings.feedback_max_text_chars)

    @cached_property
    def themes(self) -> ThemeService:
        """Theme analysis of the feedback inbox."""
        from opsloop.feedback.theming import ThemeService

        return ThemeService(self.metadata)

    @cached_property
    def accounts(self) -> Accounts:
        """Console users, sessions, login throttling and the audit log."""
        from opsloop.accounts.signin import Accounts

        return Accounts(self.metadata, self.settings)

    @cached_property
    def annotations(self) -> AnnotationService:
        """Annotations of charts (placed by hand or by features such as shipped requirements)."""
        from opsloop.annotations.timeline import AnnotationService

        return AnnotationService(self.metadata)

    @cached_property
    def requirements(self) -> RequirementBoard:
        """The requirements board."""
        from opsloop.requirements.board import RequirementBoard

        return RequirementBoard(self.metadata)

    @cached_property
    def requirement_reports(self) -> RequirementReports:
        """Requirement pages and PRDs (revenue and target metrics from the events store)."""
        from opsloop.requirements.reports import RequirementReports

        return RequirementReports(self.requirements, self.store, self.settings, self.project_context)

    @cached_property
    def roadmaps(self) -> Roadmaps:
        """Public roadmap settings and pages."""
        from opsloop.requirements.roadmap import Roadmaps

        return Roadmaps(self.requirements)

    def project_context(self, project_id: int) -> ProjectContext:
        """What a query needs to know about a project (timezone, week start); `ProjectError` if unknown."""
        info = self.projects.get(project_id)
        if info is None:
            raise ProjectError(f"project {project_id} does not exist")
        week_start: WeekStart = "sunday" if info.week_start == "sunday" else "monday"
        return ProjectContext(
            project_id=info.id,
            timezone=info.timezone,
            week_start=week_start,
            segments=self.segments.library(info.id),
        )

    @cached_property
    def segments(self) -> SegmentService:
        """Saved segments: definitions, sizes, members, static lists."""
        return SegmentService(self.metadata, self.store)

    @cached_property
    def catalogue(self) -> CatalogueService:
        """The property catalogue."""
        return CatalogueService(self.metadata, self.store)

    @cached_property
    def writer(self) -> EventWriter:
        """The single write path into the events store."""
        return EventWriter(self.metadata, self.store, dedup_window=dt.timedelta(hours=self.settings.dedup_window_hours))

    @property
    def pipeline(self) -> IngestPipeline:
        """The durable ingest pipeline; only a serving process starts it."""
        if self._pipeline is None:
            raise RuntimeError("the ingest pipeline is not started (call start_ingest())")
        return self._pipeline

    def start_ingest(self) -> int:
        """Take the data dir's ingest lock, replay the log, and start flushing; returns events replayed."""
        wal_dir = self.settings.wal_dir
        wal_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(wal_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise StoreLocked(f"another opsloop server is using {wal_dir}") from exc
        self._lock_fd = fd
        ingest_log = IngestLog(wal_dir, segment_bytes=self.settings.wal_segment_bytes, fsync=self.settings.wal_fsync)
        self._pipeline = IngestPipeline(
            ingest_log,
            self.writer,
            self.stats,
            flush_interval=self.settings.flush_interval_ms / 1000,
            flush_max_events=self.settings.flush_max_events,
            max_pending_events=self.settings.max_pending_events,
        )
        replayed = self._pipeline.recover()
        self._pipeline.start()
        return replayed

    def start_refresh(self) -> RefreshScheduler | None:
        """Start the scheduled refresh of rule tags and segments (`segment_refresh_minutes`; 0: none)."""
        from opsloop.users.refresh import RefreshScheduler

        minutes = self.settings.segment_refresh_minutes
        if minutes <= 0 or self.refresher is not None:
            return self.refresher
        self.refresher = RefreshScheduler(
            self.segments,
            lambda: [p.id for p in self.projects.list()],
            self.project_context,
            minutes * 60,
            catalogue=self.catalogue,
        )
        self.refresher.start()
        return self.refresher

    def close(self) -> None:
        """Flush and close everything that was opened."""
        if self.refresher is not None:
            self.refresher.stop()
            self.refresher = None
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None
        if "writer" in self.__dict__:
            self.writer.close()
        if "store" in self.__dict__:
            self.store.close()
        if "metadata" in self.__dict__:
            self.metadata.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
