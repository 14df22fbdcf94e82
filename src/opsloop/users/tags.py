"""Tags (标签): manual tags set on persons by API or CSV, and rule tags computed from behaviour; stored in the
metadata store and read by segments and analytics (as parameter lists of person ids, one per value)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder
from opsloop.analytics.common import check_name
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore, bulk_insert
from opsloop.store.models import utcnow
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.tables import PersonTag, TagRuleRow
from opsloop.users.tag_rules import TagRule, rule_values

MAX_VALUE_LENGTH = 400
MAX_ERRORS_LISTED = 20


class TagMissing(LookupError):
    """No such tag (rule) in the project (HTTP 404)."""


class TagAssignment(BaseModel):
    """A manual tag on the person behind `distinct_id`; `value` may be empty (a plain label)."""

    model_config = {"extra": "forbid", "frozen": True}

    distinct_id: str = Field(min_length=1, max_length=400)
    tag: str
    value: str = Field("", max_length=MAX_VALUE_LENGTH)

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        return check_name(value.strip(), "tag")


class TagImport(BaseModel):
    """What a manual tagging stored and which rows it refused (`line N: why`, or `item N: why`)."""

    stored: int
    errors: list[str]


class TagInfo(BaseModel):
    """A tag of the project: manual or rule, how many persons hold it, and its rule."""

    tag: str
    kind: str
    persons: int
    values: dict[str, int]
    rule: TagRule | None = None
    computed_at: str | None = None


def _line_number(error: str) -> int:
    return int(error.split(":", 1)[0].split()[-1])


def _renumber(error: str, lines: list[int]) -> str:
    where, rest = error.split(":", 1)
    return f"line {lines[int(where.split()[-1]) - 1]}:{rest}"


def parse_tag_csv(text: str) -> tuple[list[tuple[int, TagAssignment]], list[str]]:
    """Rows `distinct_id,tag[,value]` (a first line `distinct_id,tag[,value]` is a header and skipped); good
    rows are kept, each malformed one is reported with its line number."""
    good: list[tuple[int, TagAssignment]] = []
    errors: list[str] = []
    for line, row in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line == 1 and cells[:2] == ["distinct_id", "tag"]:
            continue
        if len(cells) not in (2, 3):
            errors.append(f"line {line}: expected distinct_id,tag[,value]; found {len(cells)} value(s)")
            continue
        if not cells[0]:
            errors.append(f"line {line}: the distinct_id is empty")
            continue
        try:
            value = cells[2] if len(cells) == 3 else ""
            good.append((line, TagAssignment(distinct_id=cells[0], tag=cells[1], value=value)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            errors.append(f"line {line}: {where}: {first['msg']}")
    return good, errors


class TagService:
    """Tags of every project: manual values, rules, their computation and the values queries read."""

    def __init__(self, metadata: MetadataStore, store: EventStore) -> None:
        self.metadata = metadata
        self.store = store

    # -- manual tags --------------------------------------------------------------------------------------

    def _owners(self, project_id: int, distinct_ids: Sequence[str]) -> dict[str, str]:
        """distinct id -> person id, through the events store's identity replica (merges applied)."""
        if not distinct_ids:
            return {}
        builder = QueryBuilder(self.store.dialect, ProjectContext(project_id))
        dialect = self.store.dialect
        statement = (
            exp.select("distinct_id", exp.alias_(dialect.as_text(exp.column(PERSON)), PERSON))
            .from_(dialect.replica_table("person_distinct_ids"))
            .where(exp.EQ(this=exp.column("project_id"), expression=exp.Literal.number(project_id)))
            .where(exp.Not(this=exp.column("is_deleted")))
            .where(dialect.array_contains(builder.value(sorted(set(distinct_ids))), exp.column("distinct_id")))
        )
        return {str(r["distinct_id"]): str(r[PERSON]) for r in Fetch(self.store, builder, None).rows(statement)}

    def assign(self, project_id: int, rows: Sequence[TagAssignment], *, what: str = "item") -> TagImport:
        """Set manual tags (replacing a person's earlier value of the same tag); rows naming an unknown
        distinct id or a rule tag are refused and reported, the others stored."""
        rules = set(self.rules(project_id))
        owners = self._owners(project_id, [r.distinct_id for r in rows])
        errors: list[str] = []
        chosen: dict[tuple[str, str], str] = {}
        for i, row in enumerate(rows, 1):
            if row.tag in rules:
                errors.append(f"{what} {i}: tag {row.tag!r} is a rule tag (its values are computed)")
            elif row.distinct_id not in owners:
                errors.append(f"{what} {i}: no person has the distinct_id {row.distinct_id[:80]!r}")
            else:
                chosen[(row.tag, owners[row.distinct_id])] = row.value
        self._store(project_id, chosen, "manual")
        return TagImport(stored=len(chosen), errors=errors)

    def import_csv(self, project_id: int, text: str) -> TagImport:
        """Manual tags from a CSV `distinct_id,tag[,value]`: good rows stored, bad ones reported by line."""
        good, errors = parse_tag_csv(text)
        result = self.assign(project_id, [g for _, g in good], what="row")
        # `assign` numbers the rows it refuses from 1; name them by their CSV line instead.
        lines = [line for line, _ in good]
        refused = [_renumber(e, lines) for e in result.errors]
        return TagImport(stored=result.stored, errors=sorted(errors + refused, key=_line_number))

    def _store(self, project_id: int, chosen: dict[tuple[str, str], str], source: str) -> None:
        """Replace the chosen persons' values of their tags, in one transaction."""
        if not chosen:
            return
        with self.metadata.session() as session, session.begin():
            for tag in sorted({t for t, _ in chosen}):
                persons = [p for t, p in chosen if t == tag]
                for start in range(0, len(persons), 500):
                    session.execute(
                        delete(PersonTag).where(
                            PersonTag.project_id == project_id,
                            PersonTag.tag == tag,
                            PersonTag.person_id.in_(persons[start : start + 500]),
                        )
                    )
            _insert(session, project_id, chosen, source)

    def remove(self, project_id: int, tag: str, distinct_id: str | None = None) -> int:
        """Remove a manual tag from one person (by distinct id) or from everyone; returns rows removed."""
        where = [PersonTag.project_id == project_id, PersonTag.tag == tag]
        if distinct_id is not None:
            person = self._owners(project_id, [distinct_id]).get(distinct_id)
            if person is None:
                return 0
            where.append(PersonTag.person_id == person)
        with self.metadata.session() as session, session.begin():
            return int(session.execute(delete(PersonTag).where(*where)).rowcount or 0)  # type: ignore[attr-defined]

    # -- reading ------------------------------------------------------------------------------------------

    def values(self, project_id: int, tag: str) -> dict[str, list[str]]:
        """A tag's values: value -> the ids of the persons holding it."""
        with self.metadata.session() as session:
            rows = session.execute(
                select(PersonTag.value, PersonTag.person_id)
                .where(PersonTag.project_id == project_id, PersonTag.tag == tag)
                .order_by(PersonTag.value, PersonTag.person_id)
            ).all()
        found: dict[str, list[str]] = {}
        for value, person in rows:
            found.setdefault(value, []).append(person)
        return found

    def of_person(self, project_id: int, person_id: str) -> dict[str, str]:
        """A person's tags: tag -> value."""
        with self.metadata.session() as session:
            rows = session.execute(
                select(PersonTag.tag, PersonTag.value).where(
                    PersonTag.project_id == project_id, PersonTag.person_id == person_id
                )
            ).all()
        return {t: v for t, v in sorted(rows)}

    def listing(self, project_id: int) -> list[TagInfo]:
        """Every tag of the project with its persons per value, by name."""
        rules = self.rule_rows(project_id)
        with self.metadata.session() as session:
            rows = session.execute(
                select(PersonTag.tag, PersonTag.value, func.count())
                .where(PersonTag.project_id == project_id)
                .group_by(PersonTag.tag, PersonTag.value)
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for tag, value, n in rows:
            counts.setdefault(tag, {})[value] = int(n)
        infos = []
        for tag in sorted(counts.keys() | rules.keys()):
            rule = rules.get(tag)
            infos.append(
                TagInfo(
                    tag=tag,
                    kind="rule" if rule else "manual",
                    persons=sum(counts.get(tag, {}).values()),
                    values=dict(sorted(counts.get(tag, {}).items())),
                    rule=TagRule.model_validate(rule.rule) if rule else None,
                    computed_at=rule.computed_at.isoformat() if rule and rule.computed_at else None,
                )
            )
        return infos

    # -- rule tags ------------------------------------------------------------------------------------------

    def rule_rows(self, project_id: int) -> dict[str, TagRuleRow]:
        """The project's rule rows by tag."""
        with self.metadata.session() as session:
            rows = session.scalars(select(TagRuleRow).where(TagRuleRow.project_id == project_id)).all()
            session.expunge_all()
            return {r.tag: r for r in rows}

    def rules(self, project_id: int) -> dict[str, TagRule]:
        """The project's rule tags."""
        return {t: TagRule.model_validate(r.rule) for t, r in self.rule_rows(project_id).items()}

    def save_rule(self, project_id: int, tag: str, rule: TagRule) -> None:
        """Create or replace a rule tag (a tag with manual values cannot become a rule tag)."""
        tag = check_name(tag.strip(), "tag")
        with self.metadata.session() as session, session.begin():
            manual = session.scalar(
                select(func.count()).where(
                    PersonTag.project_id == project_id, PersonTag.tag == tag, PersonTag.source == "manual"
                )
            )
            if manual:
                raise SegmentInvalid(f"tag: {tag!r} has manual values; remove them or pick another name")
            row = session.scalar(select(TagRuleRow).where(TagRuleRow.project_id == project_id, TagRuleRow.tag == tag))
            if row is None:
                session.add(TagRuleRow(project_id=project_id, tag=tag, rule=rule.model_dump(mode="json")))
            else:
                row.rule = rule.model_dump(mode="json")

    def delete_rule(self, project_id: int, tag: str) -> None:
        """Delete a rule tag and its computed values."""
        with self.metadata.session() as session, session.begin():
            row = session.scalar(select(TagRuleRow).where(TagRuleRow.project_id == project_id, TagRuleRow.tag == tag))
            if row is None:
                raise TagMissing(f"there is no rule tag {tag!r} in project {project_id}")
            session.delete(row)
            session.execute(delete(PersonTag).where(PersonTag.project_id == project_id, PersonTag.tag == tag))

    def preview(self, ctx: ProjectContext, rule: TagRule) -> dict[str, str]:
        """What a rule gives now: person id -> value (nothing stored)."""
        builder = QueryBuilder(self.store.dialect, ctx)
        rows = Fetch(self.store, builder, None).rows(rule_values(rule, builder))
        return {str(r[PERSON]): str(r["value"]) for r in rows if r["value"] is not None}

    def compute(self, ctx: ProjectContext, tag: str) -> int:
        """Recompute a rule tag's values now (replacing the old ones); returns the persons holding it."""
        rule = self.rules(ctx.project_id).get(tag)
        if rule is None:
            raise TagMissing(f"there is no rule tag {tag!r} in project {ctx.project_id}")
        found = self.preview(ctx, rule)
        with self.metadata.session() as session, session.begin():  # readers see the old values or the new
            session.execute(delete(PersonTag).where(PersonTag.project_id == ctx.project_id, PersonTag.tag == tag))
            _insert(session, ctx.project_id, {(tag, p): v for p, v in found.items()}, "rule")
            row = session.scalar(
                select(TagRuleRow).where(TagRuleRow.project_id == ctx.project_id, TagRuleRow.tag == tag)
            )
            assert row is not None
            row.persons, row.computed_at = len(found), utcnow()
        return len(found)


def _insert(session: Session, project_id: int, chosen: dict[tuple[str, str], str], source: str) -> None:
    """Insert `(tag, person) -> value` rows (the caller removed any earlier values)."""
    if not chosen:
        return
    keys = sorted(chosen)
    bulk_insert(
        session.connection(),
        PersonTag.__table__,  # type: ignore[arg-type]
        {
            "project_id": [project_id] * len(keys),
            "tag": [t for t, _ in keys],
            "person_id": [p for _, p in keys],
            "value": [chosen[k] for k in keys],
            "source": [source] * len(keys),
            "updated_at": [utcnow()] * len(keys),
        },
    )
