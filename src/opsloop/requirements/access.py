"""Python access to one project's requirements board: `opsloop.connect(...).project(1).requirements`.

with opsloop.connect("opsloop-data") as ops:
    board = ops.project(1).requirements
    req = board.create("Sign in with Apple", description="...", feedback_ids=[12, 17], impact=2, effort=1.5)
    board.vote(req.id, "user-42")
    for r in board.list().items:
        print(r.score, r.reach, r.title)
    print(board.prd(req.id))
"""

from __future__ import annotations

import builtins
from typing import Any

from opsloop.requirements.board import RequirementBoard
from opsloop.requirements.reports import REVENUE_DAYS, RequirementReports
from opsloop.requirements.schemas import (
    RequirementCreate,
    RequirementDetail,
    RequirementOut,
    RequirementPage,
    RequirementUpdate,
    SortKey,
    VoteIn,
    VoterKind,
)


class ProjectRequirements:
    """The requirements board of one project, with the same rules as the HTTP API."""

    def __init__(self, board: RequirementBoard, reports: RequirementReports, project_id: int) -> None:
        self._board = board
        self._reports = reports
        self.project_id = project_id

    def create(self, title: str, **fields: Any) -> RequirementOut:
        """Add a requirement (`description`, `status`, `impact`, `confidence`, `effort`, `feedback_ids`...)."""
        return self._board.create(self.project_id, RequirementCreate(title=title, **fields))

    def list(self, *, status: str | None = None, sort: SortKey = "score", descending: bool = True) -> RequirementPage:
        """The board, sorted (RICE score, highest first, by default)."""
        return self._board.list(self.project_id, status=status, sort=sort, descending=descending)

    def get(self, requirement_id: int) -> RequirementOut:
        """One requirement."""
        return self._board.get(self.project_id, requirement_id)

    def detail(self, requirement_id: int, *, revenue_days: int = REVENUE_DAYS) -> RequirementDetail:
        """A requirement's page data: history, linked feedback, revenue, metric before and after shipping."""
        return self._reports.detail(self.project_id, requirement_id, revenue_days=revenue_days)

    def update(self, requirement_id: int, **changes: Any) -> RequirementOut:
        """Change fields or the status."""
        return self._board.update(self.project_id, requirement_id, RequirementUpdate(**changes))

    def link(self, requirement_id: int, item_ids: builtins.list[int]) -> RequirementOut:
        """Link feedback items."""
        return self._board.link(self.project_id, requirement_id, item_ids)

    def unlink(self, requirement_id: int, item_id: int) -> RequirementOut:
        """Unlink one feedback item."""
        return self._board.unlink(self.project_id, requirement_id, item_id)

    def vote(self, requirement_id: int, voter: str, voter_kind: VoterKind = "person") -> RequirementOut:
        """Vote (a person by distinct id, or a user by name)."""
        return self._board.vote(self.project_id, requirement_id, VoteIn(voter_kind=voter_kind, voter=voter))

    def prd(self, requirement_id: int, *, revenue_days: int = REVENUE_DAYS) -> str:
        """The requirement as a PRD in Markdown."""
        return self._reports.prd(self.project_id, requirement_id, revenue_days=revenue_days)
