"""A project's public roadmap: the switch (off by default), its address, and what it lists (public
requirements that are planned, in progress or shipped, and a changelog of shipped ones)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from opsloop.requirements.board import RequirementBoard, local_date
from opsloop.requirements.errors import RequirementInvalid
from opsloop.requirements.models import RoadmapSettings
from opsloop.requirements.schemas import RequirementOut, RoadmapConfig, RoadmapState
from opsloop.store.models import Project, utcnow

#: Statuses the public roadmap shows, in column order.
COLUMNS: tuple[str, ...] = ("planned", "in_progress", "shipped")


@dataclass(frozen=True)
class ChangelogEntry:
    """A shipped requirement and its ship day (project time)."""

    date: dt.date
    title: str
    summary: str


@dataclass(frozen=True)
class PublicRoadmap:
    """What the public page shows."""

    title: str
    language: str
    columns: list[tuple[str, list[RequirementOut]]]
    changelog: list[ChangelogEntry]


def _state(row: RoadmapSettings) -> RoadmapState:
    return RoadmapState(
        enabled=row.enabled, slug=row.slug, title=row.title, language=row.language, path=f"/roadmap/{row.slug}"
    )


class Roadmaps:
    """Public roadmap settings and pages of the projects of one board."""

    def __init__(self, board: RequirementBoard) -> None:
        self.board = board
        self.metadata = board.metadata

    def settings(self, project_id: int) -> RoadmapState:
        """The project's roadmap settings (off, with a random slug, until changed)."""
        with self.metadata.session() as session, session.begin():
            if session.get(Project, project_id) is None:
                raise RequirementInvalid("project_id", f"project {project_id} does not exist", status=404)
            row = session.get(RoadmapSettings, project_id)
            if row is None:
                row = RoadmapSettings(
                    project_id=project_id, enabled=False, slug=secrets.token_hex(8), title="", language="en"
                )
                session.add(row)
                session.flush()
            return _state(row)

    def configure(self, project_id: int, config: RoadmapConfig) -> RoadmapState:
        """Switch the roadmap on or off, and optionally choose its slug and title (409 if the slug is taken)."""
        self.settings(project_id)
        try:
            with self.metadata.session() as session, session.begin():
                row = session.get(RoadmapSettings, project_id)
                assert row is not None
                row.enabled = config.enabled
                if config.slug is not None:
                    row.slug = config.slug
                if config.title is not None:
                    row.title = config.title.strip()
                if config.language is not None:
                    row.language = config.language
                row.updated_at = utcnow()
                session.flush()
                return _state(row)
        except IntegrityError:
            raise RequirementInvalid("slug", f"the slug {config.slug!r} is taken", status=409) from None

    def public(self, slug: str) -> PublicRoadmap | None:
        """The roadmap published under `slug`; None when there is none or it is switched off."""
        with self.metadata.session() as session:
            row = session.scalar(select(RoadmapSettings).where(RoadmapSettings.slug == slug))
            if row is None or not row.enabled:
                return None
            project = session.get(Project, row.project_id)
            assert project is not None
            project_id, timezone, title, language = (
                project.id,
                project.timezone,
                row.title or project.name,
                row.language,
            )
        board = self.board.list(project_id, sort="score", public_only=True).items
        columns = [(status, [r for r in board if r.status == status]) for status in COLUMNS]
        shipped = sorted(
            (r for r in board if r.status == "shipped" and r.shipped_at is not None),
            key=lambda r: (r.shipped_at, r.id),
            reverse=True,
        )
        changelog = [
            ChangelogEntry(local_date(r.shipped_at, timezone), r.title, r.public_summary)
            for r in shipped
            if r.shipped_at is not None
        ]
        return PublicRoadmap(title=title, language=language, columns=columns, changelog=changelog)
