"""Stored themes: analysis, nearest-theme assignment, weekly trend, rename / merge / split."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path

import pytest
from sqlalchemy import delete

from opsloop.feedback.errors import ThemeError
from opsloop.feedback.models import FeedbackTheme
from opsloop.feedback.schemas import FeedbackFilter, FeedbackIn
from opsloop.feedback.theming import week_of
from tests.feedback.conftest import FeedbackWorld

DATA = Path(__file__).parent / "data" / "feedback_eval.jsonl"
# Three themes in three languages: 90 texts.
ROWS = [
    r
    for r in map(json.loads, DATA.read_text(encoding="utf-8").splitlines())
    if r["theme"] in ("dark_mode", "delivery", "crash")
]
MONDAY = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


def _load(world: FeedbackWorld) -> dict[int, str]:
    """Store the rows, a third in each of three consecutive weeks; returns item id -> true theme."""
    batch = [
        {"text": r["text"], "created_at": (MONDAY + dt.timedelta(weeks=i % 3)).isoformat()} for i, r in enumerate(ROWS)
    ]
    result = world.inbox.create_batch(world.project, batch)
    assert result.accepted == len(ROWS)
    return {item.id: row["theme"] for item, row in zip(result.items, ROWS, strict=True)}


def test_week_of_uses_the_project_timezone_and_week_start() -> None:
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    # Sunday 2026-11-22 20:00 UTC is Monday 04:00 in Shanghai: the week starting Monday 2026-11-23.
    late_sunday = dt.datetime(2026, 11, 22, 20, tzinfo=dt.UTC)
    assert week_of(late_sunday, shanghai, "monday") == dt.date(2026, 11, 23)
    assert week_of(late_sunday, zoneinfo.ZoneInfo("UTC"), "monday") == dt.date(2026, 11, 16)
    # Weeks starting on Sunday: Sunday 2026-11-22 (UTC) starts its own week.
    assert week_of(late_sunday, zoneinfo.ZoneInfo("UTC"), "sunday") == dt.date(2026, 11, 22)


def test_analysis_finds_the_themes_with_size_sentiment_trend_and_quotes(world: FeedbackWorld) -> None:
    truth = _load(world)
    analysis = world.themes.analyse(world.project)
    assert analysis.analysed == 90
    themes = analysis.themes
    assert sum(t.size for t in themes) + analysis.unassigned == 90
    # Each true theme's items mostly land in one stored theme that mixes the three languages.
    for name in ("dark_mode", "delivery", "crash"):
        items = [i for i, t in truth.items() if t == name]
        page = world.inbox.search(world.project, FeedbackFilter(limit=500))
        by_theme: dict[int | None, int] = {}
        for item in page.items:
            if item.id in items:
                by_theme[item.theme_id] = by_theme.get(item.theme_id, 0) + 1
        best = max(by_theme, key=lambda k: by_theme[k])
        assert best is not None and by_theme[best] >= 20, (name, by_theme)
        theme = next(t for t in themes if t.id == best)
        assert theme.languages == ["en", "es", "zh"]
    for theme in themes:
        assert sum(theme.sentiment.values()) == theme.size
        assert sum(w.count for w in theme.trend) == theme.size
        # Items were written on Mondays 12:00 UTC (20:00 in Shanghai): weeks start on those Mondays.
        assert {w.week for w in theme.trend} <= {dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16)}
        assert theme.examples and theme.label == " / ".join(theme.keywords[:3])
    # Theme of a new text: the nearest centroid.
    dark = next(t for t in themes if "oscuro" in t.keywords or "dark" in t.keywords)
    new = world.inbox.create(world.project, FeedbackIn(text="Modo oscuro por favor, la pantalla es muy blanca"))
    assert new.theme_id == dark.id
    unrelated = world.inbox.create(world.project, FeedbackIn(text="Quarterly tax documents for 2025"))
    assert unrelated.theme_id is None
    unthemed = world.inbox.search(world.project, FeedbackFilter(unthemed=True, limit=500))
    assert unrelated.id in {i.id for i in unthemed.items} and unthemed.total == analysis.unassigned + 1


def test_operator_edits_rename_merge_split(world: FeedbackWorld) -> None:
    _load(world)
    themes = world.themes.analyse(world.project).themes
    big, second = themes[0], themes[1]
    renamed = world.themes.rename(world.project, big.id, "Crashes 崩溃")
    assert renamed.label == "Crashes 崩溃" and renamed.custom_label
    # The operator's label survives a new analysis (most of its items land in one new theme).
    again = world.themes.analyse(world.project).themes
    assert any(t.label == "Crashes 崩溃" and t.custom_label for t in again)
    big = next(t for t in again if t.label == "Crashes 崩溃")
    second = next(t for t in again if t.id != big.id)
    merged = world.themes.merge(world.project, [big.id, second.id])
    assert merged.id == big.id and merged.size == big.size + second.size and merged.label == "Crashes 崩溃"
    assert second.id not in {t.id for t in world.themes.list_themes(world.project)}
    parts = world.themes.split(world.project, merged.id, 2)
    assert len(parts) == 2 and sum(p.size for p in parts) == merged.size
    assert all(not p.custom_label and p.label for p in parts)
    with pytest.raises(ThemeError):
        world.themes.merge(world.project, [big.id, big.id])
    with pytest.raises(ThemeError) as other:
        world.themes.rename(world.other, big.id, "mine now")
    assert other.value.status == 404


def test_analysis_needs_feedback_and_edits_need_an_analysis(world: FeedbackWorld) -> None:
    with pytest.raises(ThemeError, match="at least 2"):
        world.themes.analyse(world.project)
    assert world.themes.list_themes(world.project) == []


def test_a_theme_removed_under_the_cache_is_not_referenced(
    world: FeedbackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(world)
    themes = world.themes.analyse(world.project).themes
    dark = next(t for t in themes if "oscuro" in t.keywords or "dark" in t.keywords)
    first = world.inbox.create(world.project, FeedbackIn(text="Dark mode please, the screen is too bright"))
    assert first.theme_id == dark.id  # the inbox has now cached this theme's centroid
    # Another process deletes the theme without a new analysis stamp (as a concurrent re-analysis can, before
    # it commits its new stamp): the insert hits the foreign key, and is retried with fresh themes.
    with world.metadata.session() as session, session.begin():
        session.execute(delete(FeedbackTheme).where(FeedbackTheme.id == dark.id))
    forgotten: list[int] = []
    forget = world.inbox.themes.forget
    monkeypatch.setattr(world.inbox.themes, "forget", lambda project: (forgotten.append(project), forget(project)))
    again = world.inbox.create(world.project, FeedbackIn(text="Dark mode please, my eyes hurt at night"))
    assert again.theme_id != dark.id and forgotten == [world.project]  # stored on the second attempt


def test_themes_for_texts_such_as_survey_answers(world: FeedbackWorld) -> None:
    _load(world)
    themes = world.themes.analyse(world.project).themes
    # A theme's own example quotes are near its centre: each is tagged with that theme's label.
    texts = [t.examples[0].text for t in themes]
    assert world.themes.themes_for(world.project, texts) == [[t.label] for t in themes]
    # A project without themes tags nothing; no texts, no work.
    assert world.themes.themes_for(world.other, texts[:2]) == [[], []]
    assert world.themes.themes_for(world.project, []) == []
