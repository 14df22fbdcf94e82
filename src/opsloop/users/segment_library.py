"""A project's saved segments as the query builder reads them, and the check that they never form a cycle."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder
from opsloop.query.registry import QueryInvalid
from opsloop.users.definitions import Group, referenced_segments
from opsloop.users.lifecycle import LifecycleThresholds
from opsloop.users.segment_sql import definition_members, static_members


class SegmentInvalid(QueryInvalid):
    """A segment definition or list cannot be used; the message says why (HTTP 400, also inside queries)."""


@dataclass(frozen=True)
class SegmentSpec:
    """What compiling a segment needs: its name and definition, or (static) its list of ids."""

    id: int
    name: str
    definition: Group | None
    distinct_ids: tuple[str, ...] = ()
    person_ids: tuple[str, ...] = ()


@dataclass
class SegmentLibrary:
    """Saved segments looked up by id (`load`), compiled on demand; implements `SegmentSource`."""

    load: Callable[[int], SegmentSpec | None]
    #: A tag's values (value -> person ids), looked up when a tag filter, breakdown or condition needs them.
    load_tag: Callable[[str], dict[str, list[str]]] = field(default=lambda tag: {})
    #: The project's lifecycle thresholds (for `lifecycle_stage` conditions without their own).
    lifecycle: LifecycleThresholds = field(default_factory=LifecycleThresholds)
    _tags: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    _specs: dict[int, SegmentSpec] = field(default_factory=dict)
    _compiling: list[int] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        specs: Mapping[int, SegmentSpec],
        tags: Mapping[str, Mapping[str, str]] | None = None,
        lifecycle: LifecycleThresholds | None = None,
    ) -> SegmentLibrary:
        """A library over segments (and tags: tag -> person id -> value) held in memory."""
        held = dict(tags or {})

        def load_tag(tag: str) -> dict[str, list[str]]:
            values: dict[str, list[str]] = {}
            for person, value in sorted(held.get(tag, {}).items()):
                values.setdefault(value, []).append(person)
            return values

        return cls(specs.get, load_tag, lifecycle or LifecycleThresholds())

    def tag_values(self, tag: str) -> dict[str, list[str]]:
        """A tag's values: value -> the ids of the persons holding it (loaded once per library)."""
        if tag not in self._tags:
            self._tags[tag] = self.load_tag(tag)
        return self._tags[tag]

    def spec(self, segment_id: int) -> SegmentSpec:
        """A segment by id; `SegmentInvalid` when the project has none with that id."""
        if segment_id not in self._specs:
            found = self.load(segment_id)
            if found is None:
                raise SegmentInvalid(f"segment_id: there is no segment {segment_id} in this project")
            self._specs[segment_id] = found
        return self._specs[segment_id]

    def label(self, segment_id: int) -> str:
        """The segment's name."""
        return self.spec(segment_id).name

    def membership(self, segment_id: int, builder: QueryBuilder) -> exp.Select:
        """`SELECT person_id` of the segment's members, compiled from its current definition or list."""
        spec = self.spec(segment_id)
        if segment_id in self._compiling:  # saved segments are checked on save; this guards old data
            raise SegmentInvalid(f"segment {segment_id} refers to itself through other segments")
        self._compiling.append(segment_id)
        try:
            if spec.definition is None:
                return static_members(spec.distinct_ids, spec.person_ids, builder)
            return definition_members(spec.definition, builder)
        finally:
            self._compiling.pop()


def find_cycle(start: int, references: Callable[[int], set[int]]) -> list[int] | None:
    """A path `start -> ... -> start` through segment references, or None when there is none."""
    path: list[int] = [start]
    done: set[int] = set()

    def visit(node: int) -> list[int] | None:
        for nxt in sorted(references(node)):
            if nxt == start:
                return [*path, start]
            if nxt in done or nxt in path:
                continue
            path.append(nxt)
            found = visit(nxt)
            if found:
                return found
            path.pop()
            done.add(nxt)
        return None

    return visit(start)


def check_no_cycle(segment_id: int, definition: Group | None, saved: Mapping[int, SegmentSpec]) -> None:
    """Refuse a definition for `segment_id` whose references lead back to it (names the whole loop)."""

    def references(node: int) -> set[int]:
        if node == segment_id:
            return referenced_segments(definition) if definition is not None else set()
        spec = saved.get(node)
        return referenced_segments(spec.definition) if spec is not None and spec.definition is not None else set()

    cycle = find_cycle(segment_id, references)
    if cycle:

        def name(node: int) -> str:
            spec = saved.get(node)
            return f"{spec.name!r} ({node})" if spec is not None else f"this segment ({node})"

        raise SegmentInvalid(
            "definition: segments would refer to each other in a cycle: " + " -> ".join(map(name, cycle))
        )
