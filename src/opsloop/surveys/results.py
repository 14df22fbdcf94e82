"""Survey results: response rate, NPS / CSAT with intervals, over time and by person property, choices, texts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import select

from opsloop.query.export import rows_csv
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Person, PersonDistinctId
from opsloop.surveys.definitions import Question, SurveyDefinition
from opsloop.surveys.delivery import SurveyNotFound, as_utc
from opsloop.surveys.language import local
from opsloop.surveys.stats import Estimate, count_csat, count_nps, mean, nps, response_rate, share
from opsloop.surveys.tables import Survey, SurveyImpression, SurveyResponse

#: Value of a breakdown property for persons who do not have it.
NO_VALUE = "$none"


class ThemeTagger(Protocol):
    """Hook to the feedback domain: themes of open-text answers (one list of theme labels per text)."""

    def themes_for(self, project_id: int, texts: Sequence[str]) -> list[list[str]]:
        """Theme labels of each text, in order."""
        ...


@dataclass(frozen=True)
class ResponseRecord:
    """One stored response as the results read it."""

    id: str
    person_key: str
    distinct_id: str
    language: str
    answers: Mapping[str, Any]
    completed: bool
    created_at: dt.datetime


class ScoreView(BaseModel):
    """A score with its 95% interval (NPS -100..100, CSAT percent 0..100) and the number of answers."""

    value: float
    low: float
    high: float
    n: int


class NpsView(ScoreView):
    """NPS with its groups."""

    promoters: int
    passives: int
    detractors: int


class ChoiceCount(BaseModel):
    """How often a value (scale point or choice id) was answered."""

    value: str
    label: str
    count: int
    share: float


class OpenTextAnswer(BaseModel):
    """One open-text answer; `themes` are filled by the feedback module's theme analysis when present."""

    response_id: str
    distinct_id: str
    text: str
    language: str
    answered_at: dt.datetime
    themes: list[str] = []


class PeriodScore(BaseModel):
    """A question's score in one week (or one breakdown value)."""

    key: str
    answers: int
    nps: NpsView | None = None
    csat: ScoreView | None = None
    mean: float | None = None


class QuestionResult(BaseModel):
    """Results of one question."""

    id: str
    type: str
    text: str
    answers: int
    nps: NpsView | None = None
    csat: ScoreView | None = None
    mean: float | None = None
    distribution: list[ChoiceCount] = []
    open_text: list[OpenTextAnswer] = []
    weekly: list[PeriodScore] = []
    breakdown: list[PeriodScore] = []


class SurveyResults(BaseModel):
    """Everything the results page shows for one survey."""

    survey_id: int
    shown: int
    answered: int
    completed: int
    partial: int
    response_rate: float | None
    breakdown_property: str | None
    questions: list[QuestionResult]


def _nps_view(scores: list[int]) -> NpsView | None:
    counts = count_nps(scores)
    estimate = nps(counts)
    if estimate is None:
        return None
    return NpsView(
        **_fields(estimate), promoters=counts.promoters, passives=counts.passives, detractors=counts.detractors
    )


def _fields(estimate: Estimate) -> dict[str, Any]:
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high, "n": estimate.n}


def _score(question: Question, values: list[Any], key: str) -> PeriodScore:
    ints = [v for v in values if isinstance(v, int)]
    csat = share(count_csat(ints)) if question.type == "csat" else None
    return PeriodScore(
        key=key,
        answers=len(values),
        nps=_nps_view(ints) if question.type == "nps" else None,
        csat=ScoreView(**_fields(csat)) if csat else None,
        mean=mean(ints) if question.type in ("ces", "rating", "csat", "nps") else None,
    )


def week_start(moment: dt.datetime, timezone: str, first_day: str) -> dt.date:
    """The first day of the week holding `moment`, in the project's timezone (weeks from Monday or Sunday)."""
    day = as_utc(moment).astimezone(zoneinfo.ZoneInfo(timezone)).date()
    offset = day.weekday() if first_day == "monday" else (day.weekday() + 1) % 7
    return day - dt.timedelta(days=offset)


def results_language(definition: SurveyDefinition, language: str | None) -> str:
    """The survey's language closest to `language` (exact, then the same base language), else its default."""
    available = definition.languages
    if language:
        if language in available:
            return language
        base = language.split("_")[0].split("-")[0]
        for candidate in available:
            if candidate.split("_")[0].split("-")[0] == base:
                return candidate
    return definition.default_language


def compile_results(
    survey_id: int,
    definition: SurveyDefinition,
    responses: Sequence[ResponseRecord],
    shown_keys: set[str],
    *,
    timezone: str = "UTC",
    first_day: str = "monday",
    breakdown: str | None = None,
    person_properties: Mapping[str, Mapping[str, Any]] | None = None,
    language: str | None = None,
) -> SurveyResults:
    """Results from stored responses (pure: no I/O). A person's later answers all count (recurring surveys).

    Texts are in `language` when the survey has it (`zh_Hans` also matches `zh`), else its default language."""
    lang = results_language(definition, language)
    answered_keys = {r.person_key for r in responses if r.answers}
    questions: list[QuestionResult] = []
    for q in definition.questions:
        answered = [r for r in responses if q.id in r.answers]
        values = [r.answers[q.id] for r in answered]
        overall = _score(q, values, "all")
        result = QuestionResult(
            id=q.id,
            type=q.type,
            text=local(q.text, lang, lang) or q.id,
            answers=len(values),
            nps=overall.nps,
            csat=overall.csat,
            mean=overall.mean,
        )
        if q.scale is not None or q.choices:
            result.distribution = _distribution(q, values, lang)
        if q.type == "open_text":
            result.open_text = [
                OpenTextAnswer(
                    response_id=r.id,
                    distinct_id=r.distinct_id,
                    text=str(r.answers[q.id]),
                    language=r.language,
                    answered_at=as_utc(r.created_at),
                )
                for r in sorted(answered, key=lambda r: r.created_at, reverse=True)
            ]
        if q.scale is not None:
            weeks: dict[dt.date, list[Any]] = defaultdict(list)
            for r in answered:
                weeks[week_start(r.created_at, timezone, first_day)].append(r.answers[q.id])
            result.weekly = [_score(q, weeks[w], w.isoformat()) for w in sorted(weeks)]
            if breakdown:
                groups: dict[str, list[Any]] = defaultdict(list)
                for r in answered:
                    value = (person_properties or {}).get(r.person_key, {}).get(breakdown)
                    groups[NO_VALUE if value is None else str(value)].append(r.answers[q.id])
                result.breakdown = [_score(q, v, k) for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
        questions.append(result)
    return SurveyResults(
        survey_id=survey_id,
        shown=len(shown_keys),
        answered=len(answered_keys),
        completed=sum(1 for r in responses if r.completed),
        partial=sum(1 for r in responses if r.answers and not r.completed),
        response_rate=response_rate(len(answered_keys & shown_keys), len(shown_keys)),
        breakdown_property=breakdown,
        questions=questions,
    )


def _distribution(q: Question, values: list[Any], lang: str) -> list[ChoiceCount]:
    counts: Counter[str] = Counter()
    for v in values:
        for item in v if isinstance(v, list) else [v]:
            counts[str(item)] += 1
    if q.scale is not None:
        options = [(str(i), str(i)) for i in range(q.scale[0], q.scale[1] + 1)]
    else:
        options = [(c.id, local(c.text, lang, lang) or c.id) for c in q.choices or []]
    total = len(values)
    return [
        ChoiceCount(value=v, label=label, count=counts[v], share=counts[v] / total if total else 0.0)
        for v, label in options
    ]


def load_results(
    metadata: MetadataStore,
    project_id: int,
    survey_id: int,
    *,
    timezone: str,
    first_day: str,
    breakdown: str | None = None,
    themes: ThemeTagger | None = None,
    language: str | None = None,
) -> SurveyResults:
    """Read a survey's responses and impressions and compile its results (person properties as they are now)."""
    definition, records, shown = load_responses(metadata, project_id, survey_id)
    properties: dict[str, dict[str, Any]] = {}
    if breakdown:
        keys = {r.person_key for r in records if not r.person_key.startswith("d:")}
        with metadata.session() as session:
            for person_id, props in session.execute(select(Person.id, Person.properties).where(Person.id.in_(keys))):
                properties[person_id] = dict(props or {})
    results = compile_results(
        survey_id,
        definition,
        records,
        shown,
        timezone=timezone,
        first_day=first_day,
        breakdown=breakdown,
        person_properties=properties,
        language=language,
    )
    if themes is not None:
        for q in results.questions:
            if q.open_text:
                labels = themes.themes_for(project_id, [a.text for a in q.open_text])
                for answer, found in zip(q.open_text, labels, strict=True):
                    answer.themes = found
    return results


def load_responses(
    metadata: MetadataStore, project_id: int, survey_id: int
) -> tuple[SurveyDefinition, list[ResponseRecord], set[str]]:
    """A survey's definition, its responses (oldest first), and the persons it was shown to."""
    with metadata.session() as session:
        survey = session.get(Survey, survey_id) if 0 < survey_id < 2**31 else None
        if survey is None or survey.project_id != project_id:
            raise SurveyNotFound(f"no survey {survey_id} in project {project_id}")
        definition = SurveyDefinition.model_validate(survey.definition)
        rows = session.scalars(
            select(SurveyResponse).where(SurveyResponse.survey_id == survey_id).order_by(SurveyResponse.created_at)
        )
        records = [
            ResponseRecord(
                r.id, r.person_key, r.distinct_id, r.language, dict(r.answers), r.completed, as_utc(r.created_at)
            )
            for r in rows
        ]
        shown = set(
            session.scalars(
                select(SurveyImpression.person_key).where(
                    SurveyImpression.survey_id == survey_id, SurveyImpression.kind == "shown"
                )
            )
        )
        # A key recorded before ingest created the person (`d:` + distinct id) counts as that person now.
        anonymous = {k[2:] for k in shown | {r.person_key for r in records} if k.startswith("d:")}
        persons: dict[str, str] = {}
        if anonymous:
            found = session.execute(
                select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
                    PersonDistinctId.project_id == project_id, PersonDistinctId.distinct_id.in_(anonymous)
                )
            )
            persons = {"d:" + distinct_id: person_id for distinct_id, person_id in found}
    records = [replace(r, person_key=persons.get(r.person_key, r.person_key)) for r in records]
    return definition, records, {persons.get(k, k) for k in shown}


def responses_csv(definition: SurveyDefinition, records: Sequence[ResponseRecord]) -> str:
    """One row per response and one column per question (choices of a multiple choice joined by `; `)."""
    columns = ["response_id", "created_at", "distinct_id", "language", "completed"] + [
        q.id for q in definition.questions
    ]
    rows = []
    for r in records:
        row: dict[str, Any] = {
            "response_id": r.id,
            "created_at": r.created_at.isoformat(),
            "distinct_id": r.distinct_id,
            "language": r.language,
            "completed": r.completed,
        }
        for q in definition.questions:
            value = r.answers.get(q.id)
            row[q.id] = "; ".join(value) if isinstance(value, list) else value
        rows.append(row)
    return rows_csv(rows, columns, excel=True)


class ResponseCounts(BaseModel):
    """A survey's responses (all, and completed) for the survey list."""

    responses: int = 0
    completed: int = 0


def response_counts(metadata: MetadataStore, project_id: int) -> dict[int, ResponseCounts]:
    """Responses and completed responses per survey of the project (surveys without any are left out)."""
    from sqlalchemy import Integer, cast, func

    with metadata.session() as session:
        rows = session.execute(
            select(
                SurveyResponse.survey_id,
                func.count(),
                func.coalesce(func.sum(cast(SurveyResponse.completed, Integer)), 0),
            )
            .where(SurveyResponse.project_id == project_id)
            .group_by(SurveyResponse.survey_id)
        ).all()
    return {survey_id: ResponseCounts(responses=n, completed=int(done)) for survey_id, n, done in rows}
