"""Segments (用户分群): saved definitions and static lists, live sizes, materialised membership, size
history and CSV export / import. Web and CLI shells call `SegmentService`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsloop.analytics.builder import QueryBuilder
from opsloop.analytics.common import ANY_EVENT
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore, bulk_insert
from opsloop.store.models import PersonDistinctId, utcnow
from opsloop.users.catalogue import CatalogueService, EntryKind
from opsloop.users.definitions import (
    AgeCondition,
    EventCondition,
    Group,
    PersonCondition,
    RfmSegmentCondition,
    TagCondition,
    referenced_segments,
)
from opsloop.users.rfm_settings import RfmSettingsService
from opsloop.users.segment_library import SegmentInvalid, SegmentLibrary, SegmentSpec, check_no_cycle
from opsloop.users.segment_sql import count_members, definition_members, member_ids
from opsloop.users.stages import StageService
from opsloop.users.static_lists import parse_id_list
from opsloop.users.tables import Segment, SegmentListId, SegmentMember, SegmentSize
from opsloop.users.tags import TagService

SegmentKind = Literal["dynamic", "static"]
#: How long a catalogue refresh counts as recent: an unknown name is looked up again after that.
_CATALOGUE_RECHECK = dt.timedelta(seconds=60)


class SegmentMissing(LookupError):
    """No segment with that id in the project (HTTP 404)."""


class SegmentInput(BaseModel):
    """A segment as created or replaced: a `definition` (dynamic) or none (static: ids come by import)."""

    model_config = {"extra": "forbid", "frozen": True}

    name: str = Field(description="unique in the project")
    description: str = Field("", max_length=5000)
    kind: SegmentKind = Field("dynamic", description="`dynamic`: a definition; `static`: an uploaded list")
    definition: Group | None = Field(None, description="the tree of conditions (dynamic segments)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > 200:
            raise ValueError("name must be 1 to 200 characters")
        return value

    @model_validator(mode="after")
    def _definition_fits_kind(self) -> SegmentInput:
        if self.kind == "dynamic" and self.definition is None:
            raise ValueError("definition: a dynamic segment needs a definition")
        if self.kind == "static" and self.definition is not None:
            raise ValueError("definition: a static segment has no definition (import its ids as CSV)")
        return self


class SegmentInfo(BaseModel):
    """A saved segment."""

    id: int
    project_id: int
    name: str
    description: str
    kind: SegmentKind
    definition: Group | None
    size: int | None = Field(description="members at the last refresh (none before the first)")
    refreshed_at: dt.datetime | None
    list_size: int = Field(0, description="static segments: ids in the uploaded list")


class SizePoint(BaseModel):
    """The size of a segment at one refresh."""

    computed_at: dt.datetime
    size: int


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


class SegmentService:
    """Saved segments of every project, their sizes, members and lists."""

    def __init__(self, metadata: MetadataStore, store: EventStore) -> None:
        self.metadata = metadata
        self.store = store
        self.catalogue = CatalogueService(metadata, store)
        self.tags = TagService(metadata, store)
        self.stages = StageService(metadata, store)
        self.rfm_settings = RfmSettingsService(metadata)

    # -- reading ------------------------------------------------------------------------------------------

    def _row(self, session: Session, project_id: int, segment_id: int) -> Segment:
        row = session.get(Segment, segment_id)
        if row is None or row.project_id != project_id:
            raise SegmentMissing(f"there is no segment {segment_id} in project {project_id}")
        return row  # type: ignore[no-any-return]

    def _info(self, session: Session, row: Segment) -> SegmentInfo:
        listed = 0
        if row.kind == "static":
            listed = len(session.scalars(select(SegmentListId.value).where(SegmentListId.segment_id == row.id)).all())
        return SegmentInfo(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            kind=row.kind,  # type: ignore[arg-type]
            definition=Group.model_validate(row.definition) if row.definition is not None else None,
            size=row.size,
            refreshed_at=_aware(row.refreshed_at),
            list_size=listed,
        )

    def saved(self, project_id: int) -> list[SegmentInfo]:
        """The project's segments, by name."""
        with self.metadata.session() as session:
            rows = session.scalars(select(Segment).where(Segment.project_id == project_id).order_by(Segment.name))
            return [self._info(session, r) for r in rows]

    def get(self, project_id: int, segment_id: int) -> SegmentInfo:
        """One segment (`SegmentMissing` if the project has none with that id)."""
        with self.metadata.session() as session:
            return self._info(session, self._row(session, project_id, segment_id))

    def specs(self, project_id: int) -> dict[int, SegmentSpec]:
        """Every segment of the project as the compiler needs it (lists included)."""
        with self.metadata.session() as session:
            rows = list(session.scalars(select(Segment).where(Segment.project_id == project_id)))
            return {r.id: self._spec(session, r) for r in rows}

    def _spec(self, session: Session, row: Segment) -> SegmentSpec:
        if row.definition is not None:
            return SegmentSpec(row.id, row.name, Group.model_validate(row.definition))
        ids = session.execute(
            select(SegmentListId.id_kind, SegmentListId.value).where(SegmentListId.segment_id == row.id)
        ).all()
        return SegmentSpec(
            row.id,
            row.name,
            None,
            distinct_ids=tuple(sorted(v for k, v in ids if k == "distinct_id")),
            person_ids=tuple(sorted(v for k, v in ids if k == "person_id")),
        )

    def library(self, project_id: int) -> SegmentLibrary:
        """The project's segments as the query builder reads them (loaded when first referenced)."""

        def load(segment_id: int) -> SegmentSpec | None:
            with self.metadata.session() as session:
                row = session.get(Segment, segment_id)
                return self._spec(session, row) if row is not None and row.project_id == project_id else None

        return SegmentLibrary(load, lambda tag: self.tags.values(project_id, tag), self.stages.thresholds(project_id))

    # -- writing ------------------------------------------------------------------------------------------

    def create(self, project_id: int, segment: SegmentInput) -> SegmentInfo:
        """Save a new segment (its references and property names are checked first)."""
        self._check(project_id, None, segment)
        with self.metadata.session() as session, session.begin():
            row = Segment(
                project_id=project_id,
                name=segment.name,
                description=segment.description,
                kind=segment.kind,
                definition=segment.definition.model_dump(mode="json") if segment.definition else None,
            )
            session.add(row)
            self._flush_named(session, segment.name)
            return self._info(session, row)

    def update(self, project_id: int, segment_id: int, segment: SegmentInput) -> SegmentInfo:
        """Replace a segment's name, description and definition (its kind cannot change)."""
        self._check(project_id, segment_id, segment)
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, segment_id)
            if row.kind != segment.kind:
                raise SegmentInvalid(f"kind: segment {segment_id} is {row.kind}; its kind cannot change")
            row.name, row.description = segment.name, segment.description
            row.definition = segment.definition.model_dump(mode="json") if segment.definition else None
            row.updated_at = utcnow()
            self._flush_named(session, segment.name)
            return self._info(session, row)

    @staticmethod
    def _flush_named(session: Session, name: str) -> None:
        try:
            session.flush()
        except IntegrityError:
            raise SegmentInvalid(f"name: the project already has a segment named {name!r}") from None

    def delete(self, project_id: int, segment_id: int) -> None:
        """Delete a segment that no other segment refers to."""
        specs = self.specs(project_id)
        if segment_id not in specs:
            raise SegmentMissing(f"there is no segment {segment_id} in project {project_id}")
        users = [
            s for s in specs.values() if s.definition is not None and segment_id in referenced_segments(s.definition)
        ]
        if users:
            names = ", ".join(f"{s.name!r} ({s.id})" for s in users)
            raise SegmentInvalid(f"segment {segment_id} is used by {names}: change those first")
        with self.metadata.session() as session, session.begin():
            session.delete(self._row(session, project_id, segment_id))

    def _check(self, project_id: int, segment_id: int | None, segment: SegmentInput) -> None:
        if segment.definition is None:
            return
        specs = self.specs(project_id)
        for ref in sorted(referenced_segments(segment.definition)):
            if ref not in specs:
                raise SegmentInvalid(f"definition: there is no segment {ref} in this project")
        if segment_id is not None:
            check_no_cycle(segment_id, segment.definition, specs)
        self.check_names(project_id, segment.definition)

    def check_names(self, project_id: int, definition: Group) -> None:
        """Refuse names the project has never received, naming the first unknown one and where it is."""
        unknown = self._unknown(project_id, definition)
        if unknown:
            when = self.catalogue.refreshed_at(project_id)
            if when is None or utcnow() - when > _CATALOGUE_RECHECK:
                self.catalogue.refresh(project_id)
                unknown = self._unknown(project_id, definition)
        if unknown:
            raise SegmentInvalid(unknown[0])

    def _unknown(self, project_id: int, definition: Group) -> list[str]:
        known = self.catalogue.known(project_id)
        problems: list[str] = []

        def need(kind: EntryKind, name: str, where: str) -> None:
            if name not in known[kind]:
                what = kind.replace("_", " ")
                choices = ", ".join(sorted(known[kind])[:20]) or "none yet"
                problems.append(f"{where}: unknown {what} {name!r} (known: {choices})")

        for where, condition in _located(definition, "definition"):
            if isinstance(condition, PersonCondition | AgeCondition):
                need("person_property", condition.property, f"{where}.property")
            elif isinstance(condition, EventCondition):
                if condition.event != ANY_EVENT:
                    need("event", condition.event, f"{where}.event")
                for i, rule in enumerate(condition.filters):
                    need("event_property", rule.property, f"{where}.filters.{i}.property")
            elif isinstance(condition, RfmSegmentCondition):
                need("event", condition.rfm.value_event, f"{where}.rfm.value_event")
                need("event_property", condition.rfm.amount_property, f"{where}.rfm.amount_property")
            elif isinstance(condition, TagCondition):
                tags = {t.tag for t in self.tags.listing(project_id)}
                if condition.tag not in tags:
                    choices = ", ".join(sorted(tags)[:20]) or "none yet"
                    problems.append(f"{where}.tag: unknown tag {condition.tag!r} (known: {choices})")
        return problems

    # -- sizes, members, lists ------------------------------------------------------------------------------

    def _fetch(self, ctx: ProjectContext) -> tuple[QueryBuilder, Fetch]:
        ctx = ProjectContext(ctx.project_id, ctx.timezone, ctx.week_start, ctx.today, self.library(ctx.project_id))
        builder = QueryBuilder(self.store.dialect, ctx)
        return builder, Fetch(self.store, builder, timeout=None)

    def size_of(self, ctx: ProjectContext, definition: Group) -> int:
        """The live size of a definition (saved or not)."""
        self._check(
            ctx.project_id, None, SegmentInput(name="unsaved", description="", kind="dynamic", definition=definition)
        )
        builder, fetch = self._fetch(ctx)
        return int(fetch.rows(count_members(definition_members(definition, builder)))[0]["n"])

    def size_now(self, ctx: ProjectContext, segment_id: int) -> int:
        """The live size of a saved segment (counted in the engine, not stored)."""
        builder, fetch = self._fetch(ctx)
        assert builder.ctx.segments is not None
        statement = count_members(builder.ctx.segments.membership(segment_id, builder))
        return int(fetch.rows(statement)[0]["n"])

    def members_of(self, ctx: ProjectContext, segment_id: int) -> list[str]:
        """The person ids of a saved segment's members now, in order (not stored)."""
        builder, fetch = self._fetch(ctx)
        assert builder.ctx.segments is not None
        statement = member_ids(builder.ctx.segments.membership(segment_id, builder), builder)
        return [str(r["person_id"]) for r in fetch.rows(statement)]

    def refresh(self, ctx: ProjectContext, segment_id: int) -> SegmentInfo:
        """Materialise a segment's membership now and record its size in the history."""
        self.get(ctx.project_id, segment_id)
        members = self.members_of(ctx, segment_id)
        now = utcnow()
        with self.metadata.session() as session, session.begin():
            row = self._row(session, ctx.project_id, segment_id)
            session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment_id))
            bulk_insert(
                session.connection(),
                SegmentMember.__table__,  # type: ignore[arg-type]
                {"segment_id": [segment_id] * len(members), "person_id": members},
            )
            session.add(SegmentSize(segment_id=segment_id, computed_at=now, size=len(members)))
            row.size, row.refreshed_at = len(members), now
            return self._info(session, row)

    def history(self, project_id: int, segment_id: int) -> list[SizePoint]:
        """Sizes at every refresh, oldest first."""
        self.get(project_id, segment_id)
        with self.metadata.session() as session:
            rows = session.execute(
                select(SegmentSize.computed_at, SegmentSize.size)
                .where(SegmentSize.segment_id == segment_id)
                .order_by(SegmentSize.computed_at, SegmentSize.id)
            ).all()
        return [SizePoint(computed_at=_aware(at) or at, size=size) for at, size in rows]

    def export_rows(self, ctx: ProjectContext, segment_id: int) -> Iterator[list[str]]:
        """CSV rows of the materialised members (refreshed first if never): `person_id, distinct_ids`."""
        if self.get(ctx.project_id, segment_id).refreshed_at is None:
            self.refresh(ctx, segment_id)
        with self.metadata.session() as session:
            members = session.scalars(
                select(SegmentMember.person_id)
                .where(SegmentMember.segment_id == segment_id)
                .order_by(SegmentMember.person_id)
            ).all()
            ids: dict[str, list[str]] = {}
            for person, distinct_id in session.execute(
                select(PersonDistinctId.person_id, PersonDistinctId.distinct_id)
                .join(SegmentMember, SegmentMember.person_id == PersonDistinctId.person_id)
                .where(SegmentMember.segment_id == segment_id, PersonDistinctId.project_id == ctx.project_id)
            ):
                ids.setdefault(person, []).append(distinct_id)
        yield ["person_id", "distinct_ids"]
        for person in members:
            yield [person, " ".join(sorted(ids.get(person, [])))]

    def export_csv(self, ctx: ProjectContext, segment_id: int) -> str:
        """The members as CSV text."""
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(self.export_rows(ctx, segment_id))
        return out.getvalue()

    def import_list(self, project_id: int, segment_id: int, text: str, *, replace: bool = True) -> SegmentInfo:
        """Load a static segment's ids from CSV (see `parse_id_list`); `replace: False` adds to the list."""
        parsed = parse_id_list(text)
        with self.metadata.session() as session, session.begin():
            row = self._row(session, project_id, segment_id)
            if row.kind != "static":
                raise SegmentInvalid(f"segment {segment_id} is dynamic: only static segments take a list of ids")
            if replace:
                session.execute(delete(SegmentListId).where(SegmentListId.segment_id == segment_id))
                values = list(parsed.ids)
            else:
                have = set(
                    session.scalars(
                        select(SegmentListId.value).where(
                            SegmentListId.segment_id == segment_id, SegmentListId.id_kind == parsed.kind
                        )
                    )
                )
                values = [v for v in parsed.ids if v not in have]
            bulk_insert(
                session.connection(),
                SegmentListId.__table__,  # type: ignore[arg-type]
                {"segment_id": [segment_id] * len(values), "id_kind": [parsed.kind] * len(values), "value": values},
            )
            row.updated_at = utcnow()
            session.flush()
            return self._info(session, row)


def _located(group: Group, where: str) -> Iterator[tuple[str, Any]]:
    """Every condition with its path in the JSON (`definition.conditions.0.conditions.2`)."""
    for i, condition in enumerate(group.conditions):
        path = f"{where}.conditions.{i}"
        yield path, condition
        if isinstance(condition, Group):
            yield from _located(condition, path)
