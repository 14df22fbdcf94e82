"""The evidence behind a requirement: quotes from its linked feedback with counts per theme and language,
the sentiment split, and which segments its persons come from (current person properties)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from opsloop.feedback.models import FeedbackItem, FeedbackTheme
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Person

#: Segments a PRD breaks persons down by: a title and the person properties that may hold it, first found wins.
SEGMENT_PROPERTIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Country", ("$geoip_country_code", "$geoip_country_name", "country", "country_code")),
    ("Operating system", ("$os", "os")),
    ("Device", ("$device_type", "device_type", "device")),
    ("Plan", ("plan", "subscription_plan", "tier")),
    ("Channel", ("channel", "$initial_utm_source", "utm_source", "$initial_referring_domain", "source")),
)
#: Values kept per segment before the rest is counted as "other".
SEGMENT_TOP = 8
NOT_SET = "(not set)"
OTHER = "(other)"


@dataclass(frozen=True)
class Count:
    """A value and how many."""

    value: str
    count: int


@dataclass(frozen=True)
class Segment:
    """Persons by the values of one person property."""

    title: str
    property: str
    counts: list[Count]


@dataclass(frozen=True)
class Quote:
    """One linked item as a quote."""

    item_id: int
    text: str
    language: str
    sentiment: str
    theme: str | None


@dataclass(frozen=True)
class Evidence:
    """Everything a PRD says about who asked and what they said."""

    items: int
    persons: int
    anonymous_items: int
    quotes: list[Quote]
    themes: list[Count]
    languages: list[Count]
    sentiment: list[Count]
    segments: list[Segment]


def _counts(counter: Counter[str]) -> list[Count]:
    return [Count(v, n) for v, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def segments(properties: Sequence[dict[str, object]]) -> list[Segment]:
    """Persons broken down by each segment whose property any of them has (top values, then other)."""
    found: list[Segment] = []
    for title, candidates in SEGMENT_PROPERTIES:
        key = next((k for k in candidates if any(p.get(k) not in (None, "") for p in properties)), None)
        if key is None:
            continue
        counter = Counter(str(p[key]) if p.get(key) not in (None, "") else NOT_SET for p in properties)
        ranked = _counts(counter)
        top, rest = ranked[:SEGMENT_TOP], ranked[SEGMENT_TOP:]
        if rest:
            top.append(Count(OTHER, sum(c.count for c in rest)))
        found.append(Segment(title, key, top))
    return found


def gather_evidence(
    metadata: MetadataStore, project_id: int, items: Sequence[FeedbackItem], persons: Sequence[str], *, quotes: int = 20
) -> Evidence:
    """The evidence of linked items (`persons`: the distinct persons behind them, already resolved)."""
    with metadata.session() as session:
        theme_ids = {i.theme_id for i in items if i.theme_id is not None}
        labels = dict(
            session.execute(
                select(FeedbackTheme.id, FeedbackTheme.label).where(
                    FeedbackTheme.project_id == project_id, FeedbackTheme.id.in_(theme_ids)
                )
            ).all()
        )
        person_properties = [
            dict(p or {})
            for p in session.scalars(
                select(Person.properties).where(Person.project_id == project_id, Person.id.in_(list(persons)))
            )
        ]
    # Near-duplicates say the same thing again: quote the originals first.
    ordered = sorted(items, key=lambda i: (i.duplicate_of is not None, i.id))
    return Evidence(
        items=len(items),
        persons=len(persons),
        anonymous_items=sum(1 for i in items if not i.distinct_id),
        quotes=[
            Quote(i.id, i.text, i.language, i.sentiment, labels.get(i.theme_id) if i.theme_id else None)
            for i in ordered[:quotes]
        ],
        themes=_counts(Counter(labels.get(i.theme_id, "(no theme)") if i.theme_id else "(no theme)" for i in items)),
        languages=_counts(Counter(i.language for i in items)),
        sentiment=_counts(Counter(i.sentiment for i in items)),
        segments=segments(person_properties),
    )
