"""The feedback inbox: store feedback (one, a batch, a CSV file), search it, triage it.

Every stored item gets its language, sentiment, near-duplicate link (`duplicate_of`, the earliest item it
nearly repeats) and, when the project has themes, the nearest theme. Texts are stored exactly as received:
HTML or script in them is data, escaped wherever it is shown.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsloop.feedback.duplicates import DUPLICATE_JACCARD, band_hashes, jaccard, shingles, signature
from opsloop.feedback.errors import FeedbackInvalid
from opsloop.feedback.language import detect_language
from opsloop.feedback.models import FeedbackBand, FeedbackItem, FeedbackTag, FeedbackTheme
from opsloop.feedback.schemas import (
    MAX_BATCH,
    BatchResult,
    FeedbackFilter,
    FeedbackIn,
    FeedbackItemOut,
    FeedbackPage,
    FeedbackUpdate,
    ImportReport,
    ItemError,
    Source,
)
from opsloop.feedback.sentiment import score_sentiment
from opsloop.feedback.theming import ThemeAssigner
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import PersonDistinctId, Project, utcnow

IMPORT_CHUNK = 500
_KNOWN_COLUMNS = {"text", "distinct_id", "created_at", "tags", "language", "source"}


def _first_error(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return field, str(first.get("msg", "invalid value")).removeprefix("Value error, ")


class FeedbackInbox:
    """Create, search and triage feedback items of a project."""

    def __init__(self, metadata: MetadataStore, *, max_text_chars: int = 10_000) -> None:
        self.metadata = metadata
        self.max_text_chars = max_text_chars
        self.themes = ThemeAssigner(metadata)

    # -- creating ---------------------------------------------------------------------------------------

    def validate(self, raw: object, *, source: Source | None = None) -> FeedbackIn:
        """A raw JSON object as a `FeedbackIn`, or `FeedbackInvalid` naming the field (413 if too long)."""
        if not isinstance(raw, dict):
            raise FeedbackInvalid("body", "a feedback item must be a JSON object with a `text`")
        if source is not None:
            raw = {**raw, "source": source}
        try:
            item = FeedbackIn.model_validate(raw)
        except ValidationError as exc:
            raise FeedbackInvalid(*_first_error(exc)) from None
        if not item.text.strip():
            raise FeedbackInvalid("text", "the text is empty")
        if len(item.text) > self.max_text_chars:
            raise FeedbackInvalid(
                "text",
                f"the text is {len(item.text):,} characters; the limit is {self.max_text_chars:,} "
                "(setting OPSLOOP_FEEDBACK_MAX_TEXT_CHARS)",
                status=413,
            )
        return item

    def create(self, project_id: int, item: FeedbackIn) -> FeedbackItemOut:
        """Store one item."""
        return self._insert(project_id, [item])[0]

    def _insert(self, project_id: int, items: Sequence[FeedbackIn]) -> list[FeedbackItemOut]:
        """Store items in one transaction; returns them as stored."""
        for attempt in (1, 2):
            try:
                with self.metadata.session() as session, session.begin():
                    self._check_project(session, project_id)
                    stored = [self._store(session, project_id, item) for item in items]
                    session.flush()
                    return self._outputs(session, stored)
            except IntegrityError:
                # A theme analysis replaced the themes after these items were matched to one: match again.
                if attempt == 2:
                    raise
                self.themes.forget(project_id)
        raise AssertionError("unreachable")

    def create_batch(self, project_id: int, raws: Sequence[object], *, source: Source | None = None) -> BatchResult:
        """Store the valid items of a batch (at most 1000) and report each refused one by index."""
        if len(raws) > MAX_BATCH:
            raise FeedbackInvalid("batch", f"{len(raws):,} items; at most {MAX_BATCH:,} per request", status=413)
        errors: list[ItemError] = []
        valid: list[FeedbackIn] = []
        for index, raw in enumerate(raws):
            try:
                valid.append(self.validate(raw, source=source))
            except FeedbackInvalid as exc:
                errors.append(ItemError(index=index, field=exc.field, reason=exc.reason))
        items = self._insert(project_id, valid) if valid else []
        if not valid:
            with self.metadata.session() as session:
                self._check_project(session, project_id)
        return BatchResult(accepted=len(items), items=items, errors=errors)

    def import_csv(self, project_id: int, stream: IO[str]) -> ImportReport:
        """Import a CSV file with a `text` column (optional: distinct_id, created_at, tags separated by `;`,
        language, source; other columns become properties). Bad rows are reported with their line number;
        good rows are stored."""
        reader = csv.DictReader(stream)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise FeedbackInvalid("text", "the CSV file needs a header row with a `text` column")
        errors: list[ItemError] = []
        chunk: list[FeedbackIn] = []
        rows = stored = duplicates = 0
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                errors.append(ItemError(line=line, field="row", reason=f"unreadable CSV: {exc}"))
                break
            rows += 1
            try:
                chunk.append(self.validate(_row_item(row), source=None))
            except FeedbackInvalid as exc:
                errors.append(ItemError(line=line, field=exc.field, reason=exc.reason))
            if len(chunk) >= IMPORT_CHUNK:
                done = self._store_chunk(project_id, chunk)
                stored, duplicates, chunk = stored + len(done), duplicates + _dups(done), []
        if chunk:
            done = self._store_chunk(project_id, chunk)
            stored, duplicates = stored + len(done), duplicates + _dups(done)
        return ImportReport(rows=rows, stored=stored, duplicates=duplicates, errors=errors)

    def _store_chunk(self, project_id: int, items: list[FeedbackIn]) -> list[FeedbackItemOut]:
        return self._insert(project_id, items)

    @staticmethod
    def _check_project(session: Session, project_id: int) -> None:
        if session.get(Project, project_id) is None:
            raise FeedbackInvalid("project_id", f"project {project_id} does not exist", status=404)

    def _store(self, session: Session, project_id: int, item: FeedbackIn) -> FeedbackItem:
        language = item.language or detect_language(item.text)
        sentiment = score_sentiment(item.text, language)
        grams = shingles(item.text)
        bands = band_hashes(signature(grams))
        row = FeedbackItem(
            project_id=project_id,
            text=item.text,
            source=item.source,
            language=language,
            distinct_id=item.distinct_id,
            sentiment=sentiment.label,
            sentiment_score=sentiment.score,
            theme_id=self.themes.nearest(session, project_id, item.text, language),
            duplicate_of=_duplicate_of(session, project_id, grams, bands),
            properties=dict(item.properties),
            created_at=item.created_at or utcnow(),
        )
        session.add(row)
        session.flush()
        session.add_all(
            FeedbackBand(item_id=row.id, band=b, band_hash=h, project_id=project_id) for b, h in enumerate(bands)
        )
        session.add_all(FeedbackTag(item_id=row.id, tag=tag, project_id=project_id) for tag in item.tags)
        return row

    # -- reading and triage -----------------------------------------------------------------------------

    def get(self, project_id: int, item_id: int) -> FeedbackItemOut | None:
        """One item of the project, if it exists."""
        with self.metadata.session() as session:
            row = session.get(FeedbackItem, item_id)
            if row is None or row.project_id != project_id:
                return None
            return self._outputs(session, [row])[0]

    def search(self, project_id: int, query: FeedbackFilter) -> FeedbackPage:
        """Items matching every condition of the filter, newest first."""
        conditions: list[Any] = [FeedbackItem.project_id == project_id]
        if query.q:
            conditions.append(func.lower(FeedbackItem.text).contains(query.q.lower(), autoescape=True))
        for column, value in (
            (FeedbackItem.status, query.status),
            (FeedbackItem.theme_id, query.theme_id),
            (FeedbackItem.source, query.source),
            (FeedbackItem.sentiment, query.sentiment),
        ):
            if value is not None:
                conditions.append(column == value)
        if query.tag is not None:
            conditions.append(
                select(FeedbackTag.item_id)
                .where(FeedbackTag.item_id == FeedbackItem.id, FeedbackTag.tag == query.tag.strip())
                .exists()
            )
        if query.date_from is not None:
            conditions.append(FeedbackItem.created_at >= _day_start(query.date_from))
        if query.date_to is not None:
            conditions.append(FeedbackItem.created_at < _day_start(query.date_to + dt.timedelta(days=1)))
        if query.unthemed:
            conditions.append(FeedbackItem.theme_id.is_(None))
        if not query.include_duplicates:
            conditions.append(FeedbackItem.duplicate_of.is_(None))
        with self.metadata.session() as session:
            total = session.scalar(select(func.count()).select_from(FeedbackItem).where(*conditions)) or 0
            rows = session.scalars(
                select(FeedbackItem)
                .where(*conditions)
                .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
                .limit(query.limit)
                .offset(query.offset)
            ).all()
            return FeedbackPage(total=total, items=self._outputs(session, rows))

    def update(self, project_id: int, item_id: int, change: FeedbackUpdate) -> FeedbackItemOut:
        """Apply triage changes to one item (`FeedbackInvalid` 404 if it is not the project's)."""
        with self.metadata.session() as session, session.begin():
            row = session.get(FeedbackItem, item_id)
            if row is None or row.project_id != project_id:
                raise FeedbackInvalid("item_id", f"no feedback item {item_id} in project {project_id}", status=404)
            if change.status is not None:
                row.status = change.status
            if change.assignee is not None:
                row.assignee = change.assignee.strip() or None
            if change.theme_id is not None:
                theme = session.get(FeedbackTheme, change.theme_id)
                if theme is None or theme.project_id != project_id:
                    raise FeedbackInvalid("theme_id", f"no theme {change.theme_id} in project {project_id}")
                row.theme_id = theme.id
            if change.tags is not None:
                session.execute(delete(FeedbackTag).where(FeedbackTag.item_id == row.id))
                session.add_all(FeedbackTag(item_id=row.id, tag=t, project_id=project_id) for t in change.tags)
            session.flush()
            return self._outputs(session, [row])[0]

    @staticmethod
    def _outputs(session: Session, rows: Sequence[FeedbackItem]) -> list[FeedbackItemOut]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        tags: dict[int, list[str]] = {}
        for item_id, tag in session.execute(
            select(FeedbackTag.item_id, FeedbackTag.tag).where(FeedbackTag.item_id.in_(ids)).order_by(FeedbackTag.tag)
        ):
            tags.setdefault(item_id, []).append(tag)
        persons = _persons(session, rows[0].project_id, {r.distinct_id for r in rows if r.distinct_id})
        return [
            FeedbackItemOut(
                id=r.id,
                project_id=r.project_id,
                text=r.text,
                source=r.source,
                language=r.language,
                distinct_id=r.distinct_id,
                person_id=persons.get(r.distinct_id) if r.distinct_id else None,
                status=r.status,
                assignee=r.assignee,
                tags=tags.get(r.id, []),
                sentiment=r.sentiment,
                sentiment_score=r.sentiment_score,
                theme_id=r.theme_id,
                duplicate_of=r.duplicate_of,
                properties=r.properties or {},
                created_at=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=dt.UTC),
            )
            for r in rows
        ]


def _persons(session: Session, project_id: int, distinct_ids: Iterable[str]) -> dict[str, str]:
    """The person each distinct id belongs to now (identity merges included)."""
    wanted = list(distinct_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
            PersonDistinctId.project_id == project_id, PersonDistinctId.distinct_id.in_(wanted)
        )
    )
    return {distinct_id: person_id for distinct_id, person_id in rows}


def _duplicate_of(session: Session, project_id: int, grams: set[str], bands: list[int]) -> int | None:
    """The earliest stored item that this text nearly repeats (following its own duplicate link)."""
    if not grams:
        return None
    candidates = session.scalars(
        select(FeedbackBand.item_id)
        .where(
            FeedbackBand.project_id == project_id,
            or_(*(and_(FeedbackBand.band == b, FeedbackBand.band_hash == h) for b, h in enumerate(bands))),
        )
        .distinct()
    ).all()
    if not candidates:
        return None
    best: int | None = None
    for item_id, text, original in session.execute(
        select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.duplicate_of)
        .where(FeedbackItem.id.in_(candidates))
        .order_by(FeedbackItem.id)
    ):
        if jaccard(grams, shingles(text)) >= DUPLICATE_JACCARD:
            best = original or item_id
            break
    return best


def _row_item(row: dict[str | Any, str | Any]) -> dict[str, object]:
    if None in row:
        raise FeedbackInvalid("row", "the row has more cells than the header")
    item: dict[str, object] = {"text": row.get("text") or "", "source": (row.get("source") or "import").strip()}
    if row.get("distinct_id"):
        item["distinct_id"] = row["distinct_id"].strip()
    if row.get("created_at"):
        item["created_at"] = row["created_at"].strip()
    if row.get("language"):
        item["language"] = row["language"].strip()
    if row.get("tags"):
        item["tags"] = [t for t in row["tags"].split(";") if t.strip()]
    item["properties"] = {k: v for k, v in row.items() if k not in _KNOWN_COLUMNS and v not in (None, "")}
    return item


def _dups(rows: list[FeedbackItemOut]) -> int:
    return sum(r.duplicate_of is not None for r in rows)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
