"""Themes of a project's feedback, stored: analyse, list (size, sentiment, weekly trend, quotes), rename,
merge, split, and the nearest-theme assignment of new items."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from opsloop.feedback.errors import ThemeError
from opsloop.feedback.keywords import keyword_tokens, label_from_keywords, top_keywords
from opsloop.feedback.language import detect_language
from opsloop.feedback.models import FeedbackItem, FeedbackTheme, FeedbackThemeSpace
from opsloop.feedback.schemas import ThemeAnalysis, ThemeExample, ThemeSummary, WeekCount
from opsloop.feedback.themes import ThemeParams, describe_theme, discover_themes, named_vector, nearest_theme
from opsloop.feedback.themes import split_members as split_texts
from opsloop.feedback.vectors import VectorSpace
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Project, utcnow

MAX_ANALYSED_ITEMS = 3000
ASSIGN_CHUNK = 500


@dataclass(frozen=True)
class _Loaded:
    built_at: dt.datetime
    space: VectorSpace
    names: list[str]
    centroids: dict[int, dict[str, float]]
    threshold: float


class ThemeAssigner:
    """Nearest-theme lookup for new items, with the project's space cached until themes change."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata
        self._cache: dict[int, _Loaded] = {}
        self._lock = threading.Lock()

    def forget(self, project_id: int) -> None:
        """Drop the cached themes of a project (they changed under a transaction)."""
        with self._lock:
            self._cache.pop(project_id, None)

    def nearest(self, session: Session, project_id: int, text: str, language: str) -> int | None:
        """The theme a new text joins, or None (no themes yet, or none similar enough)."""
        built_at = session.scalar(
            select(FeedbackThemeSpace.built_at).where(FeedbackThemeSpace.project_id == project_id)
        )
        if built_at is None:
            return None
        loaded = self._cache.get(project_id)
        if loaded is None or loaded.built_at != built_at:
            loaded = _load(session, project_id)
            with self._lock:
                self._cache[project_id] = loaded
        if not loaded.centroids:
            return None
        vector = named_vector(loaded.space.transform([text], [language])[0], loaded.names)
        theme_id, _ = nearest_theme(vector, loaded.centroids, loaded.threshold)
        return theme_id


def _load(session: Session, project_id: int) -> _Loaded:
    row = session.get(FeedbackThemeSpace, project_id)
    assert row is not None
    space = VectorSpace.from_json(row.space)
    centroids = {
        t.id: {str(k): float(v) for k, v in t.centroid.items()}
        for t in session.scalars(select(FeedbackTheme).where(FeedbackTheme.project_id == project_id))
    }
    threshold = float(row.params.get("assign_threshold", ThemeParams().assign_threshold))
    return _Loaded(row.built_at, space, space.feature_names, centroids, threshold)


class ThemeService:
    """Theme analysis of a project's feedback and the operator's edits to its themes."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def analyse(self, project_id: int, params: ThemeParams | None = None) -> ThemeAnalysis:
        """Discover themes in the newest items (up to 3000), assign older ones, replace the stored themes.

        An operator's label survives a re-run when most of its items land in one new theme."""
        params = params or ThemeParams()
        with self.metadata.session() as session, session.begin():
            _project(session, project_id)
            rows = session.execute(
                select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.language, FeedbackItem.theme_id)
                .where(FeedbackItem.project_id == project_id)
                .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
                .limit(MAX_ANALYSED_ITEMS)
            ).all()
            if len(rows) < 2:
                raise ThemeError("theme analysis needs at least 2 feedback items")
            run = discover_themes([r.text for r in rows], [r.language for r in rows], params)
            old_members: dict[int, set[int]] = defaultdict(set)
            for r in rows:
                if r.theme_id is not None:
                    old_members[r.theme_id].add(r.id)
            custom = {
                t.id: t.label
                for t in session.scalars(
                    select(FeedbackTheme).where(FeedbackTheme.project_id == project_id, FeedbackTheme.custom_label)
                )
            }
            session.execute(update(FeedbackItem).where(FeedbackItem.project_id == project_id).values(theme_id=None))
            session.execute(delete(FeedbackTheme).where(FeedbackTheme.project_id == project_id))
            for found in run.themes:
                members = {rows[i].id for i in found.members}
                label, is_custom = found.label, False
                for old_id, old_label in custom.items():
                    if len(members & old_members[old_id]) * 2 > len(old_members[old_id]):
                        label, is_custom = old_label, True
                theme = FeedbackTheme(
                    project_id=project_id,
                    label=label,
                    custom_label=is_custom,
                    keywords=list(found.keywords),
                    centroid=found.centroid,
                    example_ids=[rows[i].id for i in found.examples],
                )
                session.add(theme)
                session.flush()
                session.execute(update(FeedbackItem).where(FeedbackItem.id.in_(members)).values(theme_id=theme.id))
            session.merge(
                FeedbackThemeSpace(
                    project_id=project_id, space=run.space.to_json(), params=asdict(params), built_at=utcnow()
                )
            )
            session.flush()
            self._assign_older(session, project_id, run.space, params.assign_threshold, skip=len(rows))
            unassigned = session.scalar(
                select(func.count()).where(FeedbackItem.project_id == project_id, FeedbackItem.theme_id.is_(None))
            )
            analysed = len(rows)
        return ThemeAnalysis(analysed=analysed, unassigned=unassigned or 0, themes=self.list_themes(project_id))

    @staticmethod
    def _assign_older(session: Session, project_id: int, space: VectorSpace, threshold: float, skip: int) -> None:
        """Items older than the analysed ones join their nearest theme."""
        centroids = {
            t.id: t.centroid
            for t in session.scalars(select(FeedbackTheme).where(FeedbackTheme.project_id == project_id))
        }
        names = space.feature_names
        offset = skip
        while centroids:
            rows = session.execute(
                select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.language)
                .where(FeedbackItem.project_id == project_id)
                .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
                .offset(offset)
                .limit(ASSIGN_CHUNK)
            ).all()
            if not rows:
                return
            matrix = space.transform([r.text for r in rows], [r.language for r in rows])
            for k, r in enumerate(rows):
                theme_id, _ = nearest_theme(named_vector(matrix[k], names), centroids, threshold)
                if theme_id is not None:
                    session.execute(update(FeedbackItem).where(FeedbackItem.id == r.id).values(theme_id=theme_id))
            offset += ASSIGN_CHUNK

    def list_themes(self, project_id: int) -> list[ThemeSummary]:
        """Every theme of the project, largest first, with sentiment, weekly trend and example quotes."""
        with self.metadata.session() as session:
            project = _project(session, project_id)
            themes = session.scalars(select(FeedbackTheme).where(FeedbackTheme.project_id == project_id)).all()
            items = session.execute(
                select(
                    FeedbackItem.theme_id, FeedbackItem.sentiment, FeedbackItem.created_at, FeedbackItem.language
                ).where(FeedbackItem.project_id == project_id, FeedbackItem.theme_id.is_not(None))
            ).all()
            example_ids = [i for t in themes for i in t.example_ids]
            examples = {
                r.id: ThemeExample(id=r.id, text=r.text, language=r.language)
                for r in session.execute(
                    select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.language).where(
                        FeedbackItem.id.in_(example_ids), FeedbackItem.project_id == project_id
                    )
                )
            }
        zone = zoneinfo.ZoneInfo(project.timezone)
        sentiments: dict[int, Counter[str]] = defaultdict(Counter)
        weeks: dict[int, Counter[dt.date]] = defaultdict(Counter)
        languages: dict[int, set[str]] = defaultdict(set)
        for theme_id, sentiment, created_at, language in items:
            if theme_id is None:
                continue
            sentiments[theme_id][sentiment] += 1
            weeks[theme_id][week_of(created_at, zone, project.week_start)] += 1
            languages[theme_id].add(language)
        summaries = [
            ThemeSummary(
                id=t.id,
                label=t.label,
                custom_label=t.custom_label,
                keywords=list(t.keywords),
                size=sum(sentiments[t.id].values()),
                languages=sorted(languages[t.id]),
                sentiment={s: sentiments[t.id][s] for s in ("positive", "neutral", "negative")},
                trend=[WeekCount(week=w, count=n) for w, n in sorted(weeks[t.id].items())],
                examples=[examples[i] for i in t.example_ids if i in examples],
            )
            for t in themes
        ]
        return sorted(summaries, key=lambda s: (-s.size, s.id))

    def rename(self, project_id: int, theme_id: int, label: str) -> ThemeSummary:
        """Give a theme the operator's label (kept across re-analysis)."""
        label = label.strip()
        if not label or len(label) > 200:
            raise ThemeError("label must be 1 to 200 characters")
        with self.metadata.session() as session, session.begin():
            theme = _theme(session, project_id, theme_id)
            theme.label, theme.custom_label, theme.updated_at = label, True, utcnow()
        return self._summary(project_id, theme_id)

    def merge(self, project_id: int, theme_ids: list[int], label: str | None = None) -> ThemeSummary:
        """Merge themes into the first one: its items, recomputed centroid, keywords and quotes."""
        if len(set(theme_ids)) < 2:
            raise ThemeError("merge needs at least two different theme ids")
        with self.metadata.session() as session, session.begin():
            themes = [_theme(session, project_id, i) for i in dict.fromkeys(theme_ids)]
            target = themes[0]
            others = [t.id for t in themes[1:]]
            session.execute(update(FeedbackItem).where(FeedbackItem.theme_id.in_(others)).values(theme_id=target.id))
            session.execute(delete(FeedbackTheme).where(FeedbackTheme.id.in_(others)))
            if label:
                target.label, target.custom_label = label.strip()[:200], True
            _refresh(session, project_id, [target])
        return self._summary(project_id, target.id)

    def split(self, project_id: int, theme_id: int, parts: int = 2) -> list[ThemeSummary]:
        """Split a theme into `parts` themes by clustering its items again."""
        if not 2 <= parts <= 10:
            raise ThemeError("parts must be 2 to 10")
        with self.metadata.session() as session, session.begin():
            theme = _theme(session, project_id, theme_id)
            space = _space(session, project_id)
            rows = session.execute(
                select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.language)
                .where(FeedbackItem.theme_id == theme.id)
                .order_by(FeedbackItem.id)
            ).all()
            try:
                groups = split_texts([r.text for r in rows], [r.language for r in rows], space, parts)
            except ValueError as exc:
                raise ThemeError(str(exc)) from None
            result = [theme]
            theme.custom_label = False
            for group in groups[1:]:
                new = FeedbackTheme(project_id=project_id, label="", keywords=[], centroid={}, example_ids=[])
                session.add(new)
                session.flush()
                ids = [rows[k].id for k in group]
                session.execute(update(FeedbackItem).where(FeedbackItem.id.in_(ids)).values(theme_id=new.id))
                result.append(new)
            _refresh(session, project_id, result)
            ids = [t.id for t in result]
        return [s for s in self.list_themes(project_id) if s.id in ids]

    def themes_for(self, project_id: int, texts: Sequence[str]) -> list[list[str]]:
        """The label of the theme each text would join (empty when none is near enough), e.g. for the open-text
        answers of a survey's results."""
        if not texts:
            return []
        assigner = ThemeAssigner(self.metadata)
        with self.metadata.session() as session:
            labels = dict(
                session.execute(
                    select(FeedbackTheme.id, FeedbackTheme.label).where(FeedbackTheme.project_id == project_id)
                ).all()
            )
            if not labels:
                return [[] for _ in texts]
            found = [assigner.nearest(session, project_id, text, detect_language(text)) for text in texts]
        return [[labels[t]] if t in labels else [] for t in found]

    def _summary(self, project_id: int, theme_id: int) -> ThemeSummary:
        return next(s for s in self.list_themes(project_id) if s.id == theme_id)


def week_of(moment: dt.datetime, zone: zoneinfo.ZoneInfo, week_start: str) -> dt.date:
    """The first day of the week holding `moment`, in the project's timezone and week start."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    day = aware.astimezone(zone).date()
    back = (day.weekday() + 1) % 7 if week_start == "sunday" else day.weekday()
    return day - dt.timedelta(days=back)


def _project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise ThemeError(f"project {project_id} does not exist", status=404)
    return project


def _theme(session: Session, project_id: int, theme_id: int) -> FeedbackTheme:
    theme = session.get(FeedbackTheme, theme_id)
    if theme is None or theme.project_id != project_id:
        raise ThemeError(f"no theme {theme_id} in project {project_id}", status=404)
    return theme


def _space(session: Session, project_id: int) -> VectorSpace:
    row = session.get(FeedbackThemeSpace, project_id)
    if row is None:
        raise ThemeError("run a theme analysis first (`opsloop feedback themes` or POST .../feedback/themes/analyse)")
    return VectorSpace.from_json(row.space)


def _refresh(session: Session, project_id: int, themes: list[FeedbackTheme]) -> None:
    """Recompute centroid, keywords, label (unless the operator's) and quotes of themes from their items."""
    space = _space(session, project_id)
    names = space.feature_names
    rows = session.execute(
        select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.language, FeedbackItem.theme_id).where(
            FeedbackItem.project_id == project_id, FeedbackItem.theme_id.is_not(None)
        )
    ).all()
    groups: dict[int, list[int]] = defaultdict(list)
    for k, r in enumerate(rows):
        groups[r.theme_id].append(k)
    order = list(groups)
    tokens = [keyword_tokens(r.text, r.language) for r in rows]
    keywords = dict(zip(order, top_keywords([[tokens[k] for k in groups[t]] for t in order]), strict=True))
    for theme in themes:
        members = groups.get(theme.id, [])
        if not members:
            continue
        texts = [rows[k].text for k in members]
        langs = [rows[k].language for k in members]
        found = describe_theme(
            list(range(len(members))), space.transform(texts, langs), names, texts, langs, keywords[theme.id], 3
        )
        theme.centroid = found.centroid
        theme.keywords = list(found.keywords)
        theme.example_ids = [rows[members[i]].id for i in found.examples]
        if not theme.custom_label:
            theme.label = label_from_keywords(found.keywords)
        theme.updated_at = utcnow()
    # New items are compared with the new centroids: a new stamp invalidates every process's cache.
    space_row = session.get(FeedbackThemeSpace, project_id)
    if space_row is not None:
        space_row.built_at = utcnow()
