"""Python access to one project's feedback: `opsloop.connect(...).project(1).feedback`.

with opsloop.connect("opsloop-data") as ops:
    fb = ops.project(1).feedback
    fb.add("Login with Google spins forever", distinct_id="user-42", tags=["ios"])
    page = fb.search(q="login", status="new")
    for theme in fb.analyse().themes:
        print(theme.label, theme.size, theme.sentiment)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsloop.feedback.inbox import FeedbackInbox
from opsloop.feedback.schemas import (
    BatchResult,
    FeedbackFilter,
    FeedbackItemOut,
    FeedbackPage,
    FeedbackUpdate,
    ImportReport,
    ThemeAnalysis,
    ThemeSummary,
)
from opsloop.feedback.theming import ThemeService


class ProjectFeedback:
    """The feedback inbox and themes of one project, with the same rules as the HTTP API."""

    def __init__(self, inbox: FeedbackInbox, themes: ThemeService, project_id: int) -> None:
        self._inbox = inbox
        self._themes = themes
        self.project_id = project_id

    def add(self, text: str, **fields: Any) -> FeedbackItemOut:
        """Store one item (`source`, `distinct_id`, `tags`, `created_at`, `language`, `properties`)."""
        return self._inbox.create(self.project_id, self._inbox.validate({"text": text, **fields}))

    def add_many(self, items: list[dict[str, Any]]) -> BatchResult:
        """Store a batch; refused items come back with their index and reason."""
        return self._inbox.create_batch(self.project_id, items)

    def import_csv(self, path: str | Path) -> ImportReport:
        """Import a CSV file (see `opsloop feedback import`)."""
        with Path(path).open(encoding="utf-8-sig", newline="") as stream:
            return self._inbox.import_csv(self.project_id, stream)

    def search(self, **conditions: Any) -> FeedbackPage:
        """Search the inbox (`q`, `status`, `tag`, `theme_id`, `source`, `sentiment`, `date_from`, `date_to`...)."""
        return self._inbox.search(self.project_id, FeedbackFilter(**conditions))

    def get(self, item_id: int) -> FeedbackItemOut | None:
        """One item, if it is this project's."""
        return self._inbox.get(self.project_id, item_id)

    def update(self, item_id: int, **changes: Any) -> FeedbackItemOut:
        """Triage an item (`status`, `assignee`, `tags`, `theme_id`)."""
        return self._inbox.update(self.project_id, item_id, FeedbackUpdate(**changes))

    def analyse(self) -> ThemeAnalysis:
        """Discover themes again."""
        return self._themes.analyse(self.project_id)

    def themes(self) -> list[ThemeSummary]:
        """The stored themes."""
        return self._themes.list_themes(self.project_id)

    def rename_theme(self, theme_id: int, label: str) -> ThemeSummary:
        """Rename a theme."""
        return self._themes.rename(self.project_id, theme_id, label)

    def merge_themes(self, theme_ids: list[int], label: str | None = None) -> ThemeSummary:
        """Merge themes into the first one."""
        return self._themes.merge(self.project_id, theme_ids, label)

    def split_theme(self, theme_id: int, parts: int = 2) -> list[ThemeSummary]:
        """Split a theme."""
        return self._themes.split(self.project_id, theme_id, parts)
