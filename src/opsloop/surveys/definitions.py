"""Survey definitions: typed questions in several languages, branching, targeting, and answer validation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsloop.analytics.common import PropertyFilter, check_name

#: Languages a survey can be written in (babel-style identifiers).
Language = Literal["en", "zh_Hans", "zh_Hant", "es", "fr", "de", "ja", "pt"]
SurveyStatus = Literal["draft", "active", "stopped"]
QuestionType = Literal["nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "open_text"]
#: An answer as stored: a number for scales, a choice id, a list of choice ids, or text.
Answer = int | str | list[str]
#: End of the survey, as a branch target.
END = "$end"
#: Longest open-text answer kept, in characters.
MAX_TEXT = 5000
#: Fixed scales of the standard question types (low, high).
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}

LocalText = dict[Language, Annotated[str, Field(min_length=1, max_length=2000)]]


class SurveyInvalid(ValueError):
    """A survey definition or an answer that cannot be accepted; the message names the field."""


class Part(BaseModel):
    """Base of every definition piece: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(Part):
    """One option of a choice question."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="stable id stored in answers")
    text: LocalText = Field(description="label per language")


class Branch(Part):
    """Go to `goto` when the answer matches: a scale within [min, max], or a choice among `choices`."""

    min: int | None = Field(None, description="lowest matching scale value (inclusive)")
    max: int | None = Field(None, description="highest matching scale value (inclusive)")
    choices: list[str] | None = Field(None, description="matching choice ids (any of them)")
    goto: str = Field(description=f"question id to go to, or `{END}`")

    @model_validator(mode="after")
    def _one_condition(self) -> Branch:
        if self.choices is None and self.min is None and self.max is None:
            raise ValueError("a branch needs `min`/`max` (scales) or `choices`")
        return self


class Question(Part):
    """One question; `branches` are tried in order, then `next` (default: the following question)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="stable id, used in answers and branches")
    type: QuestionType
    text: LocalText = Field(description="the question per language")
    description: LocalText | None = Field(None, description="optional help text per language")
    required: bool = Field(True, description="an answer is needed to go on")
    scale_max: int | None = Field(None, ge=2, le=10, description="top of a `rating` scale (1..scale_max)")
    low_label: LocalText | None = Field(None, description="label of the low end of a scale")
    high_label: LocalText | None = Field(None, description="label of the high end of a scale")
    choices: list[Choice] | None = Field(None, max_length=50, description="options of a choice question")
    branches: list[Branch] = Field(default_factory=list, max_length=20)
    next: str | None = Field(None, description=f"question to go to when no branch matches, or `{END}`")

    @model_validator(mode="after")
    def _shape(self) -> Question:
        is_choice = self.type in ("single_choice", "multiple_choice")
        if is_choice and not self.choices:
            raise ValueError(f"question {self.id!r}: a {self.type} question needs `choices`")
        if not is_choice and self.choices:
            raise ValueError(f"question {self.id!r}: only choice questions take `choices`")
        if self.type == "rating" and self.scale_max is None:
            raise ValueError(f"question {self.id!r}: a rating question needs `scale_max`")
        if is_choice and len({c.id for c in self.choices or []}) != len(self.choices or []):
            raise ValueError(f"question {self.id!r}: choice ids must be unique")
        for branch in self.branches:
            if branch.choices is not None and not is_choice:
                raise ValueError(f"question {self.id!r}: `choices` branches need a choice question")
            if branch.choices is None and self.type not in (*SCALES, "rating"):
                raise ValueError(f"question {self.id!r}: `min`/`max` branches need a scale question")
            unknown = set(branch.choices or []) - {c.id for c in self.choices or []}
            if unknown:
                raise ValueError(f"question {self.id!r}: branch names unknown choices {sorted(unknown)}")
        return self

    @property
    def scale(self) -> tuple[int, int] | None:
        """(low, high) of a scale question, None otherwise."""
        if self.type in SCALES:
            return SCALES[self.type]
        if self.type == "rating" and self.scale_max:
            return (1, self.scale_max)
        return None


class Targeting(Part):
    """Who sees the survey and when: all conditions must hold."""

    properties: list[PropertyFilter] = Field(default_factory=list, max_length=50, description="on person properties")
    segment_id: int | None = Field(None, description="only members of this segment (checked by a SegmentChecker)")
    trigger_events: list[str] = Field(default_factory=list, max_length=20, description="shown after one of these")
    rollout_percent: float = Field(100.0, ge=0, le=100, description="share of persons, by a stable hash")

    @field_validator("properties")
    @classmethod
    def _person_only(cls, value: list[PropertyFilter]) -> list[PropertyFilter]:
        for f in value:
            if f.type != "person":
                raise ValueError(f"targeting filter on {f.property!r} must have type `person`")
        return value

    @field_validator("trigger_events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return [check_name(v, "trigger event") for v in value]


class SurveyDefinition(Part):
    """Everything an operator writes about a survey (stored as JSON; status lives on the row)."""

    name: str = Field(min_length=1, max_length=200)
    default_language: Language = "en"
    questions: list[Question] = Field(min_length=1, max_length=50)
    thank_you: LocalText | None = Field(None, description="shown after the last answer")
    targeting: Targeting = Field(Targeting.model_validate({}), description="who sees the survey (default: everyone)")
    starts_at: dt.datetime | None = Field(None, description="not shown before (UTC if no offset)")
    ends_at: dt.datetime | None = Field(None, description="not shown from this time on")
    recurrence_days: int | None = Field(None, ge=1, le=3650, description="ask again this long after an answer")
    hide_after_dismiss_days: int | None = Field(
        None, ge=1, le=3650, description="after a dismissal, hidden this long (none: never shown again)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> SurveyDefinition:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("questions: ids must be unique")
        for q in self.questions:
            for field, texts in (("text", q.text), ("description", q.description)):
                if texts is not None and self.default_language not in texts:
                    raise ValueError(f"question {q.id!r}: {field} has no {self.default_language!r} text")
            for c in q.choices or []:
                if self.default_language not in c.text:
                    raise ValueError(f"question {q.id!r}: choice {c.id!r} has no {self.default_language!r} text")
            for target in [b.goto for b in q.branches] + ([q.next] if q.next else []):
                if target != END and target not in ids:
                    raise ValueError(f"question {q.id!r}: branch target {target!r} is not a question")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        _check_acyclic(self.questions)
        return self

    def question(self, question_id: str) -> Question | None:
        """The question with this id."""
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def languages(self) -> list[str]:
        """Languages every question's text is written in (the default first)."""
        common = set.intersection(*(set(q.text) for q in self.questions))
        return [str(self.default_language)] + sorted(str(lang) for lang in common if lang != self.default_language)


def _successors(questions: list[Question], index: int) -> list[str]:
    q = questions[index]
    default = q.next or (questions[index + 1].id if index + 1 < len(questions) else END)
    return [b.goto for b in q.branches] + [default]


def _check_acyclic(questions: list[Question]) -> None:
    """Refuse branching that can loop (depth-first search for a back edge)."""
    index = {q.id: i for i, q in enumerate(questions)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(qid: str, trail: list[str]) -> None:
        state[qid] = 1
        for target in _successors(questions, index[qid]):
            if target == END:
                continue
            if state.get(target) == 1:
                raise ValueError(f"questions: branching loops ({' -> '.join([*trail, qid, target])})")
            if target not in state:
                visit(target, [*trail, qid])
        state[qid] = 2

    for q in questions:
        if q.id not in state:
            visit(q.id, [])


def next_question(definition: SurveyDefinition, question_id: str, answer: Answer | None) -> str:
    """The question after `question_id` given its answer (`END` when the survey is over)."""
    index = next(i for i, q in enumerate(definition.questions) if q.id == question_id)
    q = definition.questions[index]
    for branch in q.branches:
        if answer is None:
            break
        if branch.choices is not None:
            picked = set(answer) if isinstance(answer, list) else {answer}
            if picked & set(branch.choices):
                return branch.goto
        elif isinstance(answer, int) and _within(answer, branch.min, branch.max):
            return branch.goto
    return _successors(definition.questions, index)[-1]


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def answer_path(definition: SurveyDefinition, answers: dict[str, Answer]) -> tuple[list[str], bool]:
    """The questions a respondent goes through given `answers`, and whether the survey is complete."""
    path: list[str] = []
    current = definition.questions[0].id
    while current != END:
        path.append(current)
        q = definition.question(current)
        assert q is not None
        if current not in answers and q.required:
            return path, False
        current = next_question(definition, current, answers.get(current))
    return path, True


def check_answer(question: Question, value: object) -> Answer:
    """The answer in its stored form, or `SurveyInvalid` naming the question."""
    where = f"answers.{question.id}"
    scale = question.scale
    if scale is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SurveyInvalid(f"{where}: a {question.type} answer must be a whole number")
        if not scale[0] <= value <= scale[1]:
            raise SurveyInvalid(f"{where}: {value} is outside the {question.type} scale {scale[0]}..{scale[1]}")
        return value
    ids = {c.id for c in question.choices or []}
    if question.type == "single_choice":
        if not isinstance(value, str) or value not in ids:
            raise SurveyInvalid(f"{where}: must be one of the choice ids {sorted(ids)}")
        return value
    if question.type == "multiple_choice":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v in ids for v in value):
            raise SurveyInvalid(f"{where}: must be a non-empty list of choice ids from {sorted(ids)}")
        return sorted(set(value), key=[c.id for c in question.choices or []].index)
    if not isinstance(value, str):
        raise SurveyInvalid(f"{where}: an open-text answer must be text")
    if len(value) > MAX_TEXT:
        raise SurveyInvalid(f"{where}: the text is {len(value)} characters; the limit is {MAX_TEXT}")
    if question.required and not value.strip():
        raise SurveyInvalid(f"{where}: the answer is empty")
    return value.strip()


def check_answers(definition: SurveyDefinition, answers: dict[str, object]) -> tuple[dict[str, Answer], bool]:
    """Validate all answers and that each lies on the branching path; returns them and completeness."""
    clean: dict[str, Answer] = {}
    for qid, value in answers.items():
        question = definition.question(qid)
        if question is None:
            raise SurveyInvalid(f"answers.{qid}: the survey has no such question")
        clean[qid] = check_answer(question, value)
    path, complete = answer_path(definition, clean)
    skipped = [qid for qid in clean if qid not in path]
    if skipped:
        raise SurveyInvalid(f"answers.{skipped[0]}: this question is skipped by the branching for these answers")
    return clean, complete


def parse_definition(data: object) -> SurveyDefinition:
    """A definition from JSON-like data, or `SurveyInvalid` with the first error and where it is."""
    from pydantic import ValidationError

    try:
        return SurveyDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SurveyInvalid(f"{where}: {first['msg']}" if where else first["msg"]) from None
