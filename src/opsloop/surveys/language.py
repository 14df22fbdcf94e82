"""The respondent's language, and a survey rendered in it (what the widget and the hosted page show)."""

from __future__ import annotations

from pydantic import BaseModel

from opsloop.surveys.definitions import LocalText, Question, SurveyDefinition


def normalise_language(tag: str) -> str:
    """A browser language tag as a survey language: `zh-CN` -> `zh_Hans`, `zh-TW` -> `zh_Hant`, `es-MX` -> `es`."""
    parts = tag.strip().replace("_", "-").split("-")
    primary = parts[0].lower()
    if primary == "zh":
        rest = {p.lower() for p in parts[1:]}
        return "zh_Hant" if rest & {"hant", "tw", "hk", "mo"} else "zh_Hans"
    return primary


def pick_language(available: list[str], explicit: str | None, accept_language: str | None, default: str) -> str:
    """An explicit `lang` if the survey has it, else the best Accept-Language match, else the default."""
    if explicit and normalise_language(explicit) in available:
        return normalise_language(explicit)
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for position, item in enumerate(accept_language.split(",")[:20]):
            tag, _, params = item.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if tag and tag != "*":
                ranked.append((-quality, position, normalise_language(tag)))
        for _, _, lang in sorted(ranked):
            if lang in available:
                return lang
    return default


def local(text: LocalText | None, lang: str, default: str) -> str | None:
    """The text in `lang`, falling back to the default language."""
    if text is None:
        return None
    return text.get(lang) or text.get(default)  # type: ignore[call-overload, no-any-return]


class LocalChoice(BaseModel):
    """A choice in one language."""

    id: str
    text: str


class LocalBranch(BaseModel):
    """A branch as the widget follows it."""

    min: int | None
    max: int | None
    choices: list[str] | None
    goto: str


class LocalQuestion(BaseModel):
    """A question in one language, with what the widget needs to render and branch."""

    id: str
    type: str
    text: str
    description: str | None
    required: bool
    scale: tuple[int, int] | None
    low_label: str | None
    high_label: str | None
    choices: list[LocalChoice]
    branches: list[LocalBranch]
    next: str | None


class LocalSurvey(BaseModel):
    """A survey as one respondent sees it."""

    id: int
    public_id: str
    name: str
    language: str
    questions: list[LocalQuestion]
    thank_you: str | None


def _question(q: Question, lang: str, default: str) -> LocalQuestion:
    return LocalQuestion(
        id=q.id,
        type=q.type,
        text=local(q.text, lang, default) or "",
        description=local(q.description, lang, default),
        required=q.required,
        scale=q.scale,
        low_label=local(q.low_label, lang, default),
        high_label=local(q.high_label, lang, default),
        choices=[LocalChoice(id=c.id, text=local(c.text, lang, default) or c.id) for c in q.choices or []],
        branches=[LocalBranch(min=b.min, max=b.max, choices=b.choices, goto=b.goto) for b in q.branches],
        next=q.next,
    )


def localise(survey_id: int, public_id: str, definition: SurveyDefinition, lang: str) -> LocalSurvey:
    """The survey in `lang` (each text falls back to the default language)."""
    default = definition.default_language
    return LocalSurvey(
        id=survey_id,
        public_id=public_id,
        name=definition.name,
        language=lang,
        questions=[_question(q, lang, default) for q in definition.questions],
        thank_you=local(definition.thank_you, lang, default),
    )
