"""Static segment lists: a CSV of ids (distinct ids or person ids), checked line by line."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

#: Longest id accepted, and most errors listed in one message.
MAX_ID_LENGTH = 400
MAX_ERRORS_LISTED = 20
ID_COLUMNS = ("distinct_id", "person_id")


class ListInvalid(ValueError):
    """A CSV list with malformed rows; `errors` holds one `line N: ...` text per bad row."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_ERRORS_LISTED]
        more = f" (and {len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
        super().__init__(f"the CSV has {len(errors)} malformed row(s): " + "; ".join(shown) + more)


@dataclass(frozen=True)
class IdList:
    """The ids of a list, by kind, without repeats, in the order first seen."""

    kind: str
    ids: tuple[str, ...]


def parse_id_list(text: str) -> IdList:
    """A CSV whose first line names its one column (`distinct_id` or `person_id`) and whose other lines
    hold one id each; blank lines are skipped. Every malformed row is reported with its line number."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    errors: list[str] = []
    kind = ""
    seen: dict[str, None] = {}
    for line, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if not kind:
            if len(cells) != 1 or cells[0] not in ID_COLUMNS:
                raise ListInvalid([f"line {line}: the first line must name the one column: distinct_id or person_id"])
            kind = cells[0]
            continue
        problem = _problem(cells, kind)
        if problem:
            errors.append(f"line {line}: {problem}")
        else:
            seen.setdefault(cells[0].lower() if kind == "person_id" else cells[0], None)
    if not kind:
        raise ListInvalid(["line 1: the CSV is empty (give a header, distinct_id or person_id, and ids)"])
    if errors:
        raise ListInvalid(errors)
    return IdList(kind, tuple(seen))


def _problem(cells: list[str], kind: str) -> str:
    if len(cells) != 1:
        return f"expected 1 value, found {len(cells)}"
    value = cells[0]
    if not value:
        return "the id is empty"
    if len(value) > MAX_ID_LENGTH:
        return f"the id is longer than {MAX_ID_LENGTH} characters"
    if any(ord(c) < 32 for c in value):
        return "the id holds control characters"
    if kind == "person_id":
        try:
            uuid.UUID(value)
        except ValueError:
            return f"{value[:40]!r} is not a person id (a UUID)"
    return ""
