"""Roles a member can have in a project, ordered from most to least powerful."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """`admin`: members, keys, settings; `operator`: everything but admin; `viewer`: read only."""

    admin = "admin"
    operator = "operator"
    viewer = "viewer"

    @property
    def rank(self) -> int:
        """Higher is more powerful."""
        return _RANK[self]

    def allows(self, required: Role) -> bool:
        """True when this role may do what `required` may do."""
        return self.rank >= required.rank


_RANK = {Role.viewer: 1, Role.operator: 2, Role.admin: 3}


def parse_role(value: str) -> Role:
    """The role named `value`; ValueError naming the allowed roles otherwise."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ValueError(f"role must be one of: {', '.join(r.value for r in Role)} (got {value!r})") from None
