"""Errors of the requirements board (light: web and CLI shells import them at start)."""

from __future__ import annotations


class RequirementInvalid(ValueError):
    """A requirements request that cannot be carried out; `field` names the culprit, `status` the HTTP status."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status
