"""Errors of the feedback inbox and theme services (light: web and CLI shells import them at start)."""

from __future__ import annotations


class FeedbackInvalid(ValueError):
    """A feedback request that cannot be carried out; `field` names the culprit, `status` the HTTP status."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.status = status


class ThemeError(ValueError):
    """A theme request that cannot be carried out; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
